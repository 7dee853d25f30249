"""The wild cluster restricted bootstrap (WCR) for one coefficient, with fixed effects.

CRV1 t-tests over-reject with few clusters (MacKinnon, Nielsen & Webb 2023); the WCR of
Cameron, Gelbach & Miller (2008), as ``boottest`` (Roodman, MacKinnon, Nielsen & Webb 2019)
and the ``wildboottest`` package compute it, holds its size far better. Here it tests one
coefficient ``ρ`` of a single regressor ``z`` in

    y − β₀·x = α_unit + λ_month + ρ·z + u,

clustered by a grouping in which the unit effects nest (an RM within its home branch). With
``x = 0`` that is a plain t-test of ``ρ = 0``; with ``x`` the endogenous regressor and ``z``
its instrument it is the Anderson–Rubin test of the IV coefficient ``β = β₀`` (a just-
identified IV coefficient is zero exactly when its reduced form is), bootstrapped: the
bootstrapped AR test of Roodman et al. (2019, §5), robust to a weak first stage. Inverting it
over ``β₀`` gives a confidence set.

**The bootstrap.** The null is imposed: the restricted residuals are ``u = M(y − β₀x)`` (``M``
sweeps out both fixed effects), the bootstrap outcome is the restricted fit plus ``u·v_g``
with one weight ``v_g`` per cluster, and each draw's t statistic is refitted with both fixed
effects and the same CRV1 variance (its small-sample factor cancels in the p-value). Weights
are Webb's six-point distribution (±√1.5, ±1, ±√0.5) with at most :data:`WEBB_MAX_CLUSTERS`
clusters, Rademacher (±1) above; when all distinct draws number at most ``reps`` they are
enumerated (the p-value is then exact for that distribution), else ``reps`` are drawn from
a fixed seed. The p-value is symmetric: the share of draws with ``|t*| ≥ |t|``.

**Why it is cheap.** Because the unit effects nest in the clusters, ``u·v`` keeps zero unit
sums, and the regressor ``M z`` is orthogonal to every unit and month dummy, each draw's
cluster scores are ``a_h v_h − Σ_t Z_ht λ_t`` with ``λ = S⁺ U'v``: ``a`` the cluster sums of
``Mz · u``, ``Z`` and ``U`` the cluster × month sums of ``Mz`` and ``u``, ``S`` the month
effects' normal matrix with the unit effects eliminated. A draw costs O(G·T) whatever the
number of rows, exactly (no approximation of the month effects' re-estimation), and every
quantity is linear in ``β₀``, so inverting the test costs O(reps·G) per ``β₀``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from wb.stats.cluster import LEVEL, cluster_sums
from wb.stats.linalg import normal_pinv

#: Webb's six-point weights up to this many clusters (2^G Rademacher draws are too few).
WEBB_MAX_CLUSTERS = 12
#: Bootstrap draws (all distinct draws when there are no more than this).
REPS = 9_999
WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


def draws(n_clusters: int, reps: int = REPS, seed: int = 0) -> tuple[np.ndarray, str, bool]:
    """Cluster weights (draws × clusters), their distribution ("webb" or "rademacher") and
    whether they enumerate every distinct draw. The first row is all ones (the data)."""
    kind = "webb" if n_clusters <= WEBB_MAX_CLUSTERS else "rademacher"
    values = WEBB if kind == "webb" else np.array([-1.0, 1.0])
    if len(values) ** n_clusters <= reps:
        grid = np.array(list(itertools.product(values, repeat=n_clusters)))
        return np.vstack([np.ones(n_clusters), grid]), kind, True
    rng = np.random.default_rng(seed)
    picked = values[rng.integers(0, len(values), size=(reps, n_clusters))]
    return np.vstack([np.ones(n_clusters), picked]), kind, False


@dataclass(frozen=True)
class ConfidenceSet:
    """A confidence set from test inversion: ``kind`` 'bounded' ([low, high]), 'two_rays'
    (everything outside [low, high]) or 'whole_line'."""

    kind: str
    low: float
    high: float


@dataclass(frozen=True)
class WildTest:
    """The WCR bootstrap of ``ρ`` in ``y − β₀x`` on ``z`` with unit and month effects, set up
    once (see the module docstring); :meth:`pvalue` and :meth:`confidence_set` evaluate it.

    A draw's numerator is ``t_num_y − β₀·t_num_x`` and its cluster scores ``A − β₀·B``, so the
    scores' sum of squares is the quadratic ``aa − 2β₀·ab + β₀²·bb`` in the per-draw sums
    ``aa = Σ_g A²``, ``ab = Σ_g A·B``, ``bb = Σ_g B²``: evaluating a ``β₀`` costs O(draws).
    """

    t_num_y: np.ndarray
    t_num_x: np.ndarray
    aa: np.ndarray
    ab: np.ndarray
    bb: np.ndarray
    n_clusters: int
    weights: str
    enumerated: bool

    @property
    def reps(self) -> int:
        """Bootstrap draws (the data's own draw not counted)."""
        return len(self.t_num_y) - 1

    @classmethod
    def build(
        cls,
        y: np.ndarray,
        x: np.ndarray,
        z: np.ndarray,
        cluster: np.ndarray,
        month: np.ndarray,
        unit: np.ndarray,
        *,
        reps: int = REPS,
        seed: int = 0,
    ) -> WildTest:
        """From the demeaned columns (unit and month effects swept out) ``y`` (outcome),
        ``x`` (endogenous regressor; zeros for a plain test of ``z``) and ``z`` (the tested
        regressor), and integer codes per row: ``cluster`` (0..G−1), ``month`` (0..T−1) and
        ``unit`` (0..R−1; every unit's rows in one cluster)."""
        n_clusters, n_months = int(cluster.max()) + 1, int(month.max()) + 1
        v, kind, enumerated = draws(n_clusters, reps, seed)
        s_inv = normal_pinv(_month_system(unit, month, n_months))
        cm = cluster * n_months + month
        size = n_clusters * n_months
        Z = np.bincount(cm, weights=z, minlength=size).reshape(n_clusters, n_months)
        b = cluster_sums((z * z)[:, None], cluster, n_clusters)[:, 0]
        zz = float(b.sum())
        parts = []
        for u in (y, x):
            a = cluster_sums((z * u)[:, None], cluster, n_clusters)[:, 0]
            U = np.bincount(cm, weights=u, minlength=size).reshape(n_clusters, n_months)
            lam = (v @ U) @ s_inv
            t_num = v @ a
            # the draw's cluster scores of ρ, the fitted ρ·z swept out: (draws × clusters)
            parts.append((t_num, v * a - lam @ Z.T - np.outer(t_num / zz, b)))
        (ty, A), (tx, B) = parts
        return cls(
            ty,
            tx,
            np.einsum("ij,ij->i", A, A),
            np.einsum("ij,ij->i", A, B),
            np.einsum("ij,ij->i", B, B),
            n_clusters,
            kind,
            enumerated,
        )

    def tstats(self, beta0: float | np.ndarray) -> np.ndarray:
        """The t statistic of ``ρ`` for each draw (first: the data), under ``β = β₀``, up to
        the CRV1 small-sample factor (it cancels in the p-value); for an array of ``β₀``, one
        column per value."""
        given = np.asarray(beta0, dtype=float)
        b = np.atleast_1d(given)[None, :]
        num = self.t_num_y[:, None] - b * self.t_num_x[:, None]
        squares = self.aa[:, None] - 2 * b * self.ab[:, None] + b * b * self.bb[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = num / np.sqrt(np.maximum(squares, 0.0))
        return t[:, 0] if given.ndim == 0 else t

    def pvalues(self, beta0: np.ndarray, chunk: int = 64) -> np.ndarray:
        """The symmetric bootstrap p-value of ``β = β₀`` (the share of draws with
        ``|t*| ≥ |t|``; NaN where the data's t is not finite) at each value of ``beta0``,
        ``chunk`` values per pass over the draws (a draws × ``chunk`` array at a time: 5 MB at
        9,999 draws)."""
        beta0 = np.asarray(beta0, dtype=float)
        out = np.empty(len(beta0))
        for start in range(0, len(beta0), chunk):
            t = np.abs(self.tstats(beta0[start : start + chunk]))
            p = np.mean(t[1:] >= t[0] * (1 - 1e-12), axis=0)
            out[start : start + chunk] = np.where(np.isfinite(t[0]), p, np.nan)
        return out

    def pvalue(self, beta0: float = 0.0) -> float:
        """:meth:`pvalues` at one value."""
        return float(self.pvalues(np.array([beta0]))[0])

    def pvalue_at_infinity(self) -> float:
        """The p-value as ``|β₀| → ∞``: the test of ``π = 0`` in ``x`` on ``z`` (the first
        stage). Above 1 − level the confidence set is unbounded."""
        t = np.abs(self.t_num_x) / np.sqrt(self.bb)
        return float(np.mean(t[1:] >= t[0] * (1 - 1e-12)))

    def confidence_set(self, centre: float, scale: float, level: float = LEVEL) -> ConfidenceSet:
        """The values ``β₀`` the test does not reject at ``1 − level``, by inversion: a grid
        ``centre + scale·sinh(s)``, s in [−10, 10] (steps of 0.05 ``scale`` near the centre,
        reaching ±11,000 ``scale``), each end of the kept region bisected to 1e-6 ``scale``.
        ``centre`` is the point estimate, ``scale`` its SE. Holes inside the kept region are
        not reported (its hull is)."""
        alpha = 1 - level
        grid = centre + scale * np.sinh(np.linspace(-10.0, 10.0, 401))
        keep = self.pvalues(grid) > alpha

        def edge(inside: float, outside: float) -> float:
            while abs(outside - inside) > 1e-6 * scale:
                mid = (inside + outside) / 2
                if self.pvalue(mid) > alpha:
                    inside = mid
                else:
                    outside = mid
            return inside

        if keep.all() or (not keep.any() and self.pvalue_at_infinity() > alpha):
            return ConfidenceSet("whole_line", -math.inf, math.inf)
        if not keep.any():
            # nothing kept on the grid: a set narrower than its step, if any, at the estimate
            return ConfidenceSet("bounded", centre, centre)
        kept, rejected = np.flatnonzero(keep), np.flatnonzero(~keep)
        if keep[0] and keep[-1]:
            lo, hi = rejected[0], rejected[-1]
            return ConfidenceSet(
                "two_rays", edge(grid[lo - 1], grid[lo]), edge(grid[hi + 1], grid[hi])
            )
        first, last = kept[0], kept[-1]
        low = -math.inf if first == 0 else edge(grid[first], grid[first - 1])
        high = math.inf if last == len(grid) - 1 else edge(grid[last], grid[last + 1])
        return ConfidenceSet("bounded", low, high)


def _month_system(unit: np.ndarray, month: np.ndarray, n_months: int) -> np.ndarray:
    """The month effects' normal matrix with the unit effects eliminated:
    diag(rows per month) − N' diag(1 / rows per unit) N, N the unit × month row counts."""
    n_units = int(unit.max()) + 1
    counts = np.bincount(unit * n_months + month, minlength=n_units * n_months).reshape(
        n_units, n_months
    )
    per_unit = counts.sum(axis=1)
    return np.diag(counts.sum(axis=0).astype(float)) - (counts / per_unit[:, None]).T @ counts
