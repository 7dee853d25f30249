"""Cluster-robust inference: one CRV1 sandwich, one influence-function variance (and the
influence function of a ratio), one t quantile and one joint Wald test (docs/methods.md,
"Inference").

Standard errors are CRV1 with fixest's small-sample factor G/(G−1) · (n−1)/(n−k); estimates
that come as influence functions summed per cluster get G/(G−1); intervals and tests use
Student t (or F) with G − 1 denominator degrees of freedom, G the number of clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

#: Confidence level of every interval wb reports.
LEVEL = 0.95
#: Eigenvalues of a covariance below this share of its largest are treated as zero (its rank).
RANK_TOL = 1e-10


def cluster_sums(scores: np.ndarray, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """Sum the rows of ``scores`` (n, k) within groups (integer codes 0..G−1): (G, k). With
    clusters and scores, the CRV1 meat factor; with unit or month codes, the normal equations'
    right-hand sides."""
    return np.column_stack(
        [
            np.bincount(cluster, weights=scores[:, j], minlength=n_clusters)
            for j in range(scores.shape[1])
        ]
    )


def small_sample_factor(n_clusters: int, n: int, k: int) -> float:
    """fixest's CRV1 factor G/(G−1) · (n−1)/(n−k) for ``k`` estimated parameters."""
    g = n_clusters
    return g / (g - 1) * (n - 1) / (n - k)


def t_quantile(n_clusters: int, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student t with G − 1 degrees of freedom."""
    return float(special.stdtrit(n_clusters - 1, 0.5 + level / 2))


def z_quantile(level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of the standard normal (1.96 at 95%): for intervals
    of estimates with a normal limit and no cluster count behind them (a bin's mean)."""
    return float(special.ndtri(0.5 + level / 2))


def t_pvalue(tstat: float, n_clusters: int) -> float:
    """Two-sided p-value of a t statistic on G − 1 degrees of freedom."""
    return float(2 * special.stdtr(n_clusters - 1, -abs(tstat)))


def crv1(
    w: np.ndarray, x: np.ndarray, u: np.ndarray, cluster: np.ndarray, n_clusters: int, k: int
) -> np.ndarray:
    """CRV1 covariance of the coefficients b that solve W'(y − X b) = 0.

    OLS passes ``w = x``; a just-identified IV passes the instruments as ``w``. ``x`` and
    ``w`` are (n, p), ``u`` the residuals y − X b, ``cluster`` integer codes 0..G−1 and ``k``
    the parameters counted in the small-sample factor (regressors plus counted fixed effects).
    Returns the (p, p) covariance A S'S A' · factor with A = (W'X)⁻¹ and S the cluster sums of
    W·u.
    """
    bread = np.linalg.inv(w.T @ x)
    meat = cluster_sums(w * u[:, None], cluster, n_clusters)
    return small_sample_factor(n_clusters, len(u), k) * bread @ (meat.T @ meat) @ bread.T


def influence_vcov(psi: np.ndarray, n_clusters: int | None = None) -> np.ndarray:
    """Cluster-robust covariance of estimates whose influence functions are summed per cluster
    (rows: clusters, columns: estimates): centred, times G/(G − 1); NaN with fewer than two
    clusters. ``n_clusters`` is G when some rows are clusters without observations (all
    zeros); by default every row counts. The influence-function twin of :func:`crv1`
    (Callaway–Sant'Anna, imputation, ratios of sums)."""
    psi = psi.reshape(len(psi), -1)
    g = len(psi) if n_clusters is None else n_clusters
    if g < 2:
        return np.full((psi.shape[1], psi.shape[1]), np.nan)
    centred = psi - psi.mean(axis=0)
    return g / (g - 1) * (centred.T @ centred)


def ratio_influence(
    psi_num: np.ndarray, psi_den: np.ndarray, ratio: float, den: float
) -> np.ndarray:
    """Influence function of a ratio θ = N / D of two estimates linear in the data (delta
    method): (ψ_N − θ·ψ_D) / D, row by row, from the influence functions ``psi_num`` (ψ_N) and
    ``psi_den`` (ψ_D) on the same rows (observations, or their sums per cluster), the ratio
    ``ratio`` (θ) and the denominator ``den`` (D). In θ's units (those of N per unit of D).
    Summed per cluster and passed to :func:`influence_vcov` it gives θ's variance; for a
    just-identified IV (N = z'y, D = z'x, ψ = z·y and z·x) that is :func:`crv1`'s with k = 1."""
    return (psi_num - ratio * psi_den) / den


def t_interval(coef: np.ndarray, se: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """95% interval on t(G − 1); NaN where the SE is not a positive number."""
    coef, se = np.asarray(coef, dtype=float), np.asarray(se, dtype=float)
    q = t_quantile(n_clusters) if n_clusters > 1 else np.nan
    bad = ~(np.isfinite(se) & (se > 0))
    low = np.where(bad, np.nan, coef - q * se)
    high = np.where(bad, np.nan, coef + q * se)
    return low, high


@dataclass(frozen=True)
class WaldTest:
    """A joint Wald test that coefficients are zero: ``f_stat`` = W / ``df_num`` × (G − r) /
    (G − 1) on F(``df_num`` = r, ``df_den`` = G − r) (Hotelling's T² with G clusters);
    ``p_value`` NaN (and ``df_num`` 0) when nothing can be tested."""

    f_stat: float
    df_num: int
    df_den: int
    p_value: float


def joint_wald(coefs: np.ndarray, vcov: np.ndarray, n_clusters: int) -> WaldTest:
    """The joint pre-trend test: W = b' V⁺ b on the coefficients ``coefs`` with their
    cluster-robust covariance ``vcov``, read as Hotelling's T²: W/r × (G − r)/(G − 1) on
    F(r, G − r).

    With the influence-function covariance (:func:`influence_vcov`, G/(G − 1) times the
    clusters' scatter) W is exactly Hotelling's T² of the G cluster sums, so the test has its
    nominal size when those sums are normal, however few the clusters. W/r on F(r, G − 1)
    (Stata's ``test``, diff-diff's ``pretrend_test``) rejected a true null of five leads in
    11–23% of seeds at the 5% level with 10 branches (customer-level held-out worlds); this
    reading rejected it in 5–8%.

    With few clusters the clustered covariance is singular (its rank is at most G − 1, often
    below the number of coefficients): the test then uses the pseudo-inverse on the
    eigenvalues above :data:`RANK_TOL` of the largest and their number r, as Stata's ``test``
    drops collinear constraints.
    """
    coefs = np.asarray(coefs, dtype=float)
    nothing = WaldTest(float("nan"), 0, max(n_clusters - 1, 0), float("nan"))
    if len(coefs) == 0 or n_clusters < 2 or not np.all(np.isfinite(vcov)):
        return nothing
    vals, vecs = np.linalg.eigh(vcov)
    keep = vals > RANK_TOL * max(float(vals.max()), 1e-300)
    rank = int(keep.sum())
    if rank == 0:
        return nothing
    proj = vecs[:, keep].T @ coefs
    if rank >= n_clusters:  # not possible for a covariance of G cluster sums: nothing to read
        return nothing
    f = float(np.sum(proj**2 / vals[keep])) / rank * (n_clusters - rank) / (n_clusters - 1)
    df_den = n_clusters - rank
    return WaldTest(f, rank, df_den, float(special.fdtrc(rank, df_den, f)))
