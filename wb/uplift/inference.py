"""Cluster-robust inference, one home for every fit of the uplift wing (docs/methods.md).

Standard errors are CRV1, clustered by branch, with fixest's small-sample factor
G/(G−1) · (n−1)/(n−k); intervals use Student t with G − 1 degrees of freedom. The contract's
three estimates, the checks (:mod:`wb.uplift.checks`), the BJS lead regression
(:mod:`wb.uplift.imputation`) and the add-quality shares (:mod:`wb.uplift.quality`) all call
these functions, so a change of rule happens in one place.
"""

from __future__ import annotations

import numpy as np
from scipy import special

#: Confidence level of every interval the uplift wing reports.
LEVEL = 0.95


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


def influence_vcov(psi: np.ndarray) -> np.ndarray:
    """Cluster-robust covariance of estimates whose influence functions are summed per branch
    (branches × estimates): centred, times G/(G − 1); NaN with fewer than two branches. The
    influence-function twin of :func:`crv1` (Callaway–Sant'Anna, ratios of sums)."""
    psi = psi.reshape(len(psi), -1)
    n = len(psi)
    if n < 2:
        return np.full((psi.shape[1], psi.shape[1]), np.nan)
    centred = psi - psi.mean(axis=0)
    return n / (n - 1) * (centred.T @ centred)


def t_interval(coef: np.ndarray, se: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """95% interval on t(G − 1); NaN where the SE is not a positive number."""
    coef, se = np.asarray(coef, dtype=float), np.asarray(se, dtype=float)
    q = t_quantile(n_clusters) if n_clusters > 1 else np.nan
    bad = ~(np.isfinite(se) & (se > 0))
    low = np.where(bad, np.nan, coef - q * se)
    high = np.where(bad, np.nan, coef + q * se)
    return low, high
