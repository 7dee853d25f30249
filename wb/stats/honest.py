"""How much a violation of parallel trends could move an event-study estimate: Rambachan and
Roth (2023) sensitivity bounds and the power of the pre-trend test (Roth 2022).

**Setting.** Event-study coefficients relative to one reference period (event time −1,
normalised to 0): pre-period ``pre`` at event times −k…−2 and post-period ``post`` at 0…T−1,
consecutive, with covariance ``vcov`` over (pre, post). Write r = e + 1 for the periods since
the reference (pre: −k+1…−1, post: 1…T). The coefficients are β = τ + δ with τ the effects
(zero before adoption) and δ the difference in trends; the target is θ = l'τ_post, by default
the equal-weight average of the post-period effects. Every number is in the coefficients' unit.

**Restrictions** on δ (δ at the reference is 0):

* relative magnitudes Δ^RM(M̄): every post-period one-period change of δ is at most M̄ times
  the largest pre-period one-period change (that one includes the step into the reference);
* smoothness Δ^SD(M): every second difference of δ (pre, across the reference and post) is at
  most M in absolute value; M = 0 allows exactly linear trends, extrapolated.

**Identified sets** (δ_pre pinned to β_pre, closed forms; an LP in diff-diff and R
``HonestDiD``): with S_RM = Σ_s |Σ_{r≥s} l_r| and m the largest absolute pre-period change,
θ ∈ l'β_post ± M̄·m·S_RM. Under Δ^SD, θ ∈ l'β_post + β_{−2}·Σ_r r·l_r ± M·Σ_{i=0}^{T−1}
|Σ_{r>i} l_r (r − i)|, empty (NaN) when β_pre's own second differences exceed M.

**Confidence intervals** (95%; t with ``df`` degrees of freedom, G − 1 for G clusters, as
wb's other intervals and diff-diff's clustered HonestDiD; normal without ``df``, as R
``HonestDiD``):

* Δ^RM: the identified set widened by t·se(l'β_post) on each side, with the pre-period
  changes taken at their estimated size (diff-diff's interval). R ``HonestDiD``'s default for
  Δ^RM is the ARP conditional-hybrid test, which also carries the sampling error of the
  pre-period changes; this interval does not.
* Δ^SD: the optimal fixed-length interval (FLCI) of Rambachan–Roth §4.1: among affine
  estimators θ̂ = v_pre'β_pre + l'β_post unbiased under linear trends (v_pre'r_pre = −l'r_post),
  the one minimising the half-length cv(b/σ)·σ, where σ² = v'Σv, b = M·(Σ_j |Σ_{r<j} v_r (j−r)|
  + Σ_{j≥1} |Σ_{r>j} l_r (r−j)|) its worst-case bias and cv(t) the 1−α quantile of |X|, X ~ N(t, 1), or
  (Z + t)/√(V/df) with V ~ χ²(df) (a noncentral t; its distribution function by Gauss–Laguerre
  quadrature over V, stable where scipy's noncentral t is not). The half-length is convex in v_pre (a
  perspective of the convex, increasing cv), so one smooth SLSQP solve over (v_pre, u ≥ |Dv|)
  finds it; diff-diff searches a grid of σ instead. The tests hold both equal.

**Breakdown**: the smallest M̄ (or M) whose interval covers 0 (closed form for Δ^RM, bisection
for Δ^SD); 0 when the ordinary interval already covers 0.

**Pre-trend power** (Roth 2022): the probability that the joint Wald pre-trend test
(:func:`wb.stats.cluster.joint_wald`: W read as Hotelling's T², W/q × (G − q)/(G − 1) on
F(q, G − q)) rejects when the pre-period
coefficients are γ·``trend`` (a linear violation of slope γ), treating their covariance as
known as Roth does: W ~ noncentral χ²(q, γ²·trend'V⁺trend). :func:`detectable_slope` inverts it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from wb.stats.cluster import LEVEL, RANK_TOL

#: Restriction name → what its M means, as the outputs say it.
RESTRICTIONS = {
    "relative_magnitudes": "post-period changes at most M × the largest pre-period change",
    "smoothness": "second differences of the trend gap at most M per period²",
}


@dataclass(frozen=True)
class Bounds:
    """One restriction at one M: the identified set [``lb``, ``ub``] (NaN when β_pre is not
    in the restriction) and the 95% robust interval [``ci_low``, ``ci_high``], in the
    coefficients' unit."""

    restriction: str
    m: float
    lb: float
    ub: float
    ci_low: float
    ci_high: float

    def covers(self, value: float) -> bool:
        return bool(self.ci_low <= value <= self.ci_high)


@dataclass(frozen=True)
class EventCoefs:
    """Event-study coefficients for the bounds: ``pre`` at event times −k…−2, ``post`` at
    0…T−1, ``vcov`` over (pre, post), ``df`` the t degrees of freedom (None: normal),
    ``weights`` l on the post periods (default: equal)."""

    pre: np.ndarray
    post: np.ndarray
    vcov: np.ndarray
    df: float | None = None
    weights: np.ndarray | None = None

    @property
    def l(self) -> np.ndarray:  # noqa: E743 (the paper's name)
        n = len(self.post)
        return np.full(n, 1 / n) if self.weights is None else np.asarray(self.weights, float)

    @property
    def estimate(self) -> float:
        """l'β_post: the target without any allowance for trends."""
        return float(self.l @ self.post)

    @property
    def se(self) -> float:
        k = len(self.pre)
        return float(np.sqrt(self.l @ self.vcov[k:, k:] @ self.l))

    @property
    def crit(self) -> float:
        """The two-sided 95% quantile: t(df), normal without df."""
        return folded_quantile(0.0, self.df)

    @property
    def r_post(self) -> np.ndarray:
        return np.arange(1, len(self.post) + 1, dtype=float)

    @property
    def r_pre(self) -> np.ndarray:
        return np.arange(-len(self.pre), 0, dtype=float)


# --------------------------------------------------------------------------- relative magnitudes


def _rm_slack(c: EventCoefs) -> float:
    """m·S_RM: the identified set's half-width per unit M̄."""
    changes = np.abs(np.diff(np.append(c.pre, 0.0)))
    tails = np.cumsum(c.l[::-1])[::-1]
    return float(changes.max(initial=0.0) * np.abs(tails).sum())


def relative_magnitudes(c: EventCoefs, mbar: float) -> Bounds:
    """Bounds on θ under Δ^RM(M̄) (module docstring)."""
    half = mbar * _rm_slack(c)
    centre, widen = c.estimate, c.crit * c.se
    return Bounds(
        "relative_magnitudes", mbar, centre - half, centre + half,
        centre - half - widen, centre + half + widen,
    )  # fmt: skip


def rm_breakdown(c: EventCoefs) -> float:
    """The smallest M̄ whose Δ^RM interval covers 0 (inf when none does: no pre-period change)."""
    room = abs(c.estimate) - c.crit * c.se
    if room <= 0:
        return 0.0
    slack = _rm_slack(c)
    return room / slack if slack > 0 else float("inf")


# --------------------------------------------------------------------------- smoothness


def _post_curvature(c: EventCoefs, start: int) -> float:
    """Σ_{i≥start}^{T−1} |Σ_{r>i} l_r (r − i)|: the post-period part of the worst-case bias
    per unit M."""
    r, total = c.r_post, 0.0
    for i in range(start, len(r)):
        total += abs(float(c.l[r > i] @ (r[r > i] - i)))
    return total


def _sd_identified(c: EventCoefs, m: float) -> tuple[float, float]:
    path = np.append(c.pre, 0.0)
    if len(path) >= 3 and np.abs(np.diff(path, 2)).max() > m * (1 + 1e-9) + 1e-12:
        return float("nan"), float("nan")
    last = c.pre[-1] if len(c.pre) else 0.0
    centre = c.estimate + last * float(c.l @ c.r_post)
    half = m * _post_curvature(c, 0)
    return centre - half, centre + half


_LAGUERRE_NODES = 200
#: Beyond this many degrees of freedom t is taken as normal (their 97.5% quantiles differ by
#: under 0.4%, and the quadrature's weights overflow).
_NORMAL_DF = 300


@functools.lru_cache(maxsize=32)
def _chi_nodes(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes √(V/df) and weights of E[g(√(V/df))], V ~ χ²(df) = 2·Gamma(df/2)."""
    u, w = special.roots_genlaguerre(_LAGUERRE_NODES, df / 2 - 1)
    return np.sqrt(2 * u / df), w / w.sum()  # Σw = Γ(df/2)


def folded_quantile(t: float, df: float | None = None) -> float:
    """cv(t): the ``LEVEL`` quantile of |X|, X ~ N(t, 1), or noncentral t(df, t) =
    (Z + t)/√(V/df) with V ~ χ²(df): P(|X| ≤ x) = E_V[Φ(xs − t) − Φ(−xs − t)], s = √(V/df),
    the expectation by generalised Gauss–Laguerre quadrature (t quantiles to 1e-7 relative at
    df ≥ 9, 1e-4 at df = 3, 1e-3 at df = 2)."""
    t = abs(t)
    if df is None or df > _NORMAL_DF:
        scale, weight = np.ones(1), np.ones(1)
    else:
        scale, weight = _chi_nodes(float(df))

    def excess(x: float) -> float:
        inside = special.ndtr(x * scale - t) - special.ndtr(-x * scale - t)
        return float(weight @ inside) - LEVEL

    hi = t + 4.0
    while excess(hi) < 0:
        hi *= 2
    return float(optimize.brentq(excess, 0.0, hi, xtol=1e-12))


def _flci(c: EventCoefs, m: float) -> tuple[float, float]:
    """The optimal fixed-length interval under Δ^SD(M) (module docstring): centre, half-length."""
    k, lv = len(c.pre), c.l
    scale = c.se  # work in units of se(l'β_post): every term is then of order one
    sigma = c.vcov / scale**2
    s_pre, s_cross = sigma[:k, :k], sigma[:k, k:] @ lv
    s_post = float(lv @ sigma[k:, k:] @ lv)
    need = -float(lv @ c.r_post)  # v_pre'r_pre = −l'r_post: no bias from any linear trend
    r = c.r_pre
    # D v_pre: row j (j = −k+1…0) is Σ_{r<j} v_r (j − r)
    j = np.arange(-k + 1, 1, dtype=float)
    d = np.where(r[None, :] < j[:, None], j[:, None] - r[None, :], 0.0)
    post_bias = _post_curvature(c, 1)

    def var(v: np.ndarray) -> float:
        return float(v @ s_pre @ v + 2 * v @ s_cross + s_post)

    # the minimum-variance unbiased-under-linear-trends weights (closed form)
    kkt = np.block([[2 * s_pre, r[:, None]], [r[None, :], np.zeros((1, 1))]])
    v0 = np.linalg.lstsq(kkt, np.append(-2 * s_cross, need), rcond=None)[0][:k]
    mm = m / scale
    if mm == 0 or k == 0:
        return float(v0 @ c.pre + lv @ c.post), c.crit * np.sqrt(var(v0)) * scale

    def half(x: np.ndarray) -> float:
        sd = np.sqrt(max(var(x[:k]), 1e-300))
        return folded_quantile(mm * (post_bias + x[k:].sum()) / sd, c.df) * sd

    def grad(x: np.ndarray, h: float = 1e-6) -> np.ndarray:
        v, u = x[:k], x[k:]
        sd = np.sqrt(max(var(v), 1e-300))
        t = mm * (post_bias + u.sum()) / sd
        cv = folded_quantile(t, c.df)
        slope = (folded_quantile(t + h, c.df) - folded_quantile(max(t - h, 0.0), c.df)) / (
            t + h - max(t - h, 0.0)
        )
        # half = cv(t)·sd: ∂/∂u = cv'·mm, ∂/∂sd = cv − cv'·t, ∂sd/∂v = (Σv + s_cross)/sd
        d_sd = (s_pre @ v + s_cross) / sd
        return np.concatenate([(cv - slope * t) * d_sd, np.full(k, slope * mm)])

    x0 = np.concatenate([v0, np.abs(d @ v0)])
    eye = np.eye(k)
    cons = [
        {"type": "ineq", "fun": lambda x: x[k:] - d @ x[:k], "jac": lambda x: np.hstack([-d, eye])},
        {"type": "ineq", "fun": lambda x: x[k:] + d @ x[:k], "jac": lambda x: np.hstack([d, eye])},
        {
            "type": "eq",
            "fun": lambda x: np.array([r @ x[:k] - need]),
            "jac": lambda x: np.concatenate([r, np.zeros(k)])[None, :],
        },
    ]
    res = optimize.minimize(
        half, x0, jac=grad, constraints=cons, method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 1000},
    )  # fmt: skip
    v = res.x[:k]
    bias = mm * (post_bias + np.abs(d @ v).sum())  # the true worst case at v, whatever u says
    sd = np.sqrt(var(v))
    return float(v @ c.pre + lv @ c.post), folded_quantile(bias / sd, c.df) * sd * scale


def smoothness(c: EventCoefs, m: float) -> Bounds:
    """Bounds on θ under Δ^SD(M) with the optimal FLCI (module docstring)."""
    lb, ub = _sd_identified(c, m)
    centre, half = _flci(c, m)
    return Bounds("smoothness", m, lb, ub, centre - half, centre + half)


def sd_scale(c: EventCoefs) -> float:
    """A smoothness M of the size that moves the bounds by about the estimate or its standard
    error, whichever is larger: max(|l'β_post|, se) / Σ_i |Σ_{r>i} l_r (r − i)|."""
    return max(abs(c.estimate), c.se) / max(_post_curvature(c, 0), 1e-300)


def sd_breakdown(c: EventCoefs, tol: float = 1e-3) -> float:
    """The smallest M (to ``tol`` relative) whose Δ^SD interval covers 0; inf when none up to
    2³⁰ × :func:`sd_scale` does. The interval widens with M, so bisection finds it."""
    if smoothness(c, 0.0).covers(0.0):
        return 0.0
    hi = sd_scale(c)
    for _ in range(30):
        if smoothness(c, hi).covers(0.0):
            break
        hi *= 2
    else:
        return float("inf")
    lo = 0.0
    while hi - lo > tol * hi:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if smoothness(c, mid).covers(0.0) else (mid, hi)
    return hi


def bounds(c: EventCoefs, restriction: str, m: float) -> Bounds:
    """:func:`relative_magnitudes` or :func:`smoothness` by name (a key of :data:`RESTRICTIONS`)."""
    return relative_magnitudes(c, m) if restriction == "relative_magnitudes" else smoothness(c, m)


# --------------------------------------------------------------------------- pre-trend power


def _noncentrality(trend: np.ndarray, vcov: np.ndarray) -> tuple[float, int]:
    """trend'V⁺trend and the rank r of V, on the eigenvalues :func:`joint_wald` keeps."""
    vals, vecs = np.linalg.eigh(vcov)
    keep = vals > RANK_TOL * max(float(vals.max()), 1e-300)
    proj = vecs[:, keep].T @ trend
    return float(np.sum(proj**2 / vals[keep])), int(keep.sum())


def _critical(q: int, n_clusters: int | None) -> float:
    """The test's 5% critical value for W: Hotelling's, q(G − 1)/(G − q)·F(q, G − q) quantile
    (:func:`wb.stats.cluster.joint_wald`), χ²(q) without ``n_clusters``."""
    if n_clusters is None:
        return float(stats.chi2.ppf(LEVEL, q))
    g = n_clusters
    return q * (g - 1) / (g - q) * float(stats.f.ppf(LEVEL, q, g - q))


def pretrend_power(
    trend: np.ndarray, vcov: np.ndarray, slope: float, n_clusters: int | None
) -> float:
    """Probability that the joint Wald pre-trend test with ``n_clusters`` clusters (χ² when
    None) rejects when the pre-period coefficients are ``slope``·``trend`` (``vcov`` their
    covariance, treated as known)."""
    lam, q = _noncentrality(np.asarray(trend, float), vcov)
    return float(stats.ncx2.sf(_critical(q, n_clusters), q, slope**2 * lam))


def detectable_slope(
    trend: np.ndarray, vcov: np.ndarray, power: float, n_clusters: int | None
) -> float:
    """The slope γ ≥ 0 at which :func:`pretrend_power` equals ``power`` (in the coefficients'
    unit per unit of ``trend``)."""
    lam, q = _noncentrality(np.asarray(trend, float), vcov)
    crit = _critical(q, n_clusters)
    hi = 1.0
    while stats.ncx2.sf(crit, q, hi) < power:
        hi *= 2
    nc = optimize.brentq(lambda x: stats.ncx2.sf(crit, q, x) - power, 0.0, hi, xtol=1e-10)
    return float(np.sqrt(nc / lam))
