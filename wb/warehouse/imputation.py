"""The customer-level event study's estimator (:mod:`wb.warehouse.uplift`): its settings, the
imputation on cell sums and branch-clustered inference, in numpy.

:func:`impute` fits customer and branch x month effects on the not-yet-bound cell-months (the
imputation estimator of Borusyak, Jaravel & Spiess 2024, on the cell sums the engine returns)
and sums every imputed effect per branch; :func:`group_estimates` turns those branch totals
into the window average, the event-time path and the pre-trend test, each with its exact
branch influence function (:func:`wb.stats.cluster.influence_vcov`: ``G/(G-1)`` times the
sum of ``psi_b psi_b'``; Student t with ``G - 1`` degrees of freedom). Money is yuan of AUM per bound customer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from wb.door.display import jsonable
from wb.errors import InputError
from wb.stats.cluster import influence_vcov, joint_wald, t_quantile
from wb.stats.linalg import normal_pinv

#: Tier bounds in yuan of AUM in the month before binding: < 5万, 5万–50万, 50万–600万, ≥ 600万.
DEFAULT_TIER_BOUNDS = (50_000.0, 500_000.0, 6_000_000.0)

Model = Literal["trends", "levels"]
Onset = Literal["certified", "added"]


# ---------------------------------------------------------------------------- settings


def _yuan_label(value: float) -> str:
    if value >= 1e4 and value % 1e4 == 0:
        return f"{value / 1e4:,.0f}万"
    return f"{value:,.0f}"


@dataclass(frozen=True)
class Tiers:
    """AUM tiers by the customer's AUM (yuan) in the month before binding: ``bounds`` are the
    increasing cut points; tier ``j`` holds ``bounds[j-1] <= AUM < bounds[j]``."""

    bounds: tuple[float, ...] = DEFAULT_TIER_BOUNDS

    @classmethod
    def parse(cls, text: str | Sequence[float] | None) -> Tiers:
        """Read ``"5万,50万,600万"`` or ``"50000,500000,6000000"`` (yuan; 万 = 1e4, 亿 = 1e8).

        Raises :class:`InputError` unless 1–9 positive, strictly increasing bounds are given.
        """
        if text is None:
            return cls()
        if isinstance(text, str):
            parts = [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]
            values = []
            for p in parts:
                scale = 1.0
                if p.endswith("万"):
                    p, scale = p[:-1], 1e4
                elif p.endswith("亿"):
                    p, scale = p[:-1], 1e8
                try:
                    values.append(float(p.replace("_", "")) * scale)
                except ValueError:
                    raise InputError(
                        f"--tiers: {p!r} is not a yuan amount (e.g. 5万,50万,600万)"
                    ) from None
        else:
            values = [float(v) for v in text]
        if not 1 <= len(values) <= 9:
            raise InputError(f"--tiers needs 1 to 9 bounds (got {len(values)})")
        if any(not math.isfinite(v) or v <= 0 for v in values) or any(
            b <= a for a, b in itertools.pairwise(values)
        ):
            raise InputError("--tiers: bounds must be positive and strictly increasing")
        return cls(tuple(values))

    @property
    def labels(self) -> tuple[str, ...]:
        b = [_yuan_label(v) for v in self.bounds]
        inner = [f"{lo}–{hi}" for lo, hi in itertools.pairwise(b)]
        return (f"< {b[0]}", *inner, f"≥ {b[-1]}")

    def edges(self, j: int) -> tuple[float, float | None]:
        """Lower and upper bound (yuan; ``None`` = open) of tier ``j``."""
        lows = (0.0, *self.bounds)
        return lows[j], (self.bounds[j] if j < len(self.bounds) else None)

    def __len__(self) -> int:
        return len(self.bounds) + 1

    def index(self, aum: ir.NumericValue) -> ir.IntegerValue:
        """The tier (0-based) of an AUM expression, as an Ibis expression."""
        out = ibis.literal(0)
        for bound in self.bounds:
            out = out + (aum >= bound).cast("int64")
        return out.cast("int64")


@dataclass(frozen=True)
class Design:
    """The event study's settings: ``leads`` placebo months held out before binding,
    ``post`` the last event month (effects average event months ``0 .. post``), the outcome
    ``model``, the AUM ``tiers`` and the ``onset`` that dates a binding: the month of the
    customer's first certification (``certified``) or the month its certified contact was
    added (``added``)."""

    leads: int = 3
    post: int = 5
    model: Model = "trends"
    tiers: Tiers = field(default_factory=Tiers)
    onset: Onset = "certified"

    def check(self) -> None:
        """Raise :class:`InputError` for settings the estimator cannot honour."""
        if self.model not in ("trends", "levels"):
            raise InputError(f"--model must be trends or levels (got {self.model!r})")
        if self.onset not in ("certified", "added"):
            raise InputError(f"--onset must be certified or added (got {self.onset!r})")
        if not 1 <= self.leads <= 12:
            raise InputError(f"--leads must be between 1 and 12 (got {self.leads})")
        if not 0 <= self.post <= 36:
            raise InputError(f"--post must be between 0 and 36 (got {self.post})")


# ---------------------------------------------------------------------------- the estimator


@dataclass(frozen=True)
class Cells:
    """Cell-month rows in numpy: branch code, ``g``, kind, tier, first/last month, month
    (indices; -1 for never bound), customers ``n`` and AUM sum ``s`` (yuan)."""

    branch: np.ndarray
    g: np.ndarray
    kind: np.ndarray
    tier: np.ndarray
    a: np.ndarray
    z: np.ndarray
    t: np.ndarray
    n: np.ndarray
    s: np.ndarray
    branch_names: tuple[str, ...]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Cells:
        """From a frame with the columns of :func:`cell_sums` (``branch`` as text)."""
        codes, names = pd.factorize(frame["branch"], sort=True)
        col = {c: frame[c].to_numpy(dtype=np.int64) for c in ("g", "kind", "tier", "a", "z", "t")}
        return cls(
            branch=codes.astype(np.int64),
            n=frame["n"].to_numpy(dtype=np.float64),
            s=frame["s"].to_numpy(dtype=np.float64),
            branch_names=tuple(str(x) for x in names),
            **col,
        )

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class Imputed:
    """Imputed effects summed per branch: ``A[b, kind, tier, d]`` (yuan) and customer-months
    ``N`` at event month ``d - leads``; customers with a valid post-binding month per
    (branch, kind, tier); target customer-months that could not be imputed."""

    A: np.ndarray
    N: np.ndarray
    customers: np.ndarray
    not_imputed: int
    cells: int


def _segments(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell id per (sorted) row and the first row of each cell."""
    start = np.ones(len(key), dtype=bool)
    start[1:] = key[1:] != key[:-1]
    return np.cumsum(start) - 1, np.flatnonzero(start)


def impute(cells: Cells, design: Design) -> Imputed:
    """Fit customer and branch x month effects on the not-yet-bound cell-months and impute the
    bound ones, exactly as on customer rows (see the module docstring)."""
    L, E, J = design.leads, design.post, len(design.tiers)
    D = L + E + 1
    B = len(cells.branch_names)
    if len(cells) == 0:
        return Imputed(np.zeros((B, 2, J, D)), np.zeros((B, 2, J, D)), np.zeros((B, 2, J)), 0, 0)
    t0 = int(cells.a.min())
    t = cells.t - t0
    a, z = cells.a - t0, cells.z - t0
    T = int(t.max()) + 1
    g_codes, _ = pd.factorize(cells.g, sort=True)
    key = cells.branch
    for part, size in (
        (g_codes, int(g_codes.max()) + 1),
        (cells.kind + 1, 3),
        (cells.tier + 1, J + 1),
        (a, T),
        (z, T),
    ):
        key = key * size + part
    order = np.lexsort((t, key))
    key, t, a, z = key[order], t[order], a[order], z[order]
    br, g = cells.branch[order], cells.g[order] - t0
    kind, tier = cells.kind[order], cells.tier[order]
    n, s = cells.n[order], cells.s[order]
    cid, first = _segments(key)
    C = len(first)

    # outcome: AUM (levels) or its monthly change within the cell (trends)
    if design.model == "trends":
        prev_ok = np.zeros(len(t), dtype=bool)
        prev_ok[1:] = (cid[1:] == cid[:-1]) & (t[1:] == t[:-1] + 1)
        y = np.where(prev_ok, s - np.concatenate([[0.0], s[:-1]]), np.nan)
    else:
        y = s.copy()
    has_y = ~np.isnan(y)
    bound = cells.g[order] >= 0
    e = np.where(bound, t - g, 0)
    fit = has_y & (~bound | (e < -L))
    target = has_y & bound & (e >= -L) & (e <= E)

    # per cell: the months of the fit (contiguous), its outcome sum, customers
    fit_rows = np.flatnonzero(fit)
    c_len = np.bincount(cid[fit_rows], minlength=C).astype(np.float64)
    c_sum = np.bincount(cid[fit_rows], weights=y[fit_rows], minlength=C)
    big = np.iinfo(np.int64).max
    c_lo = np.full(C, big)
    np.minimum.at(c_lo, cid[fit_rows], t[fit_rows])
    c_hi = np.full(C, -1)
    np.maximum.at(c_hi, cid[fit_rows], t[fit_rows])
    c_n = n[first]
    c_br = br[first]
    usable = c_len > 0
    c_mean = np.divide(c_sum, c_len, out=np.zeros(C), where=usable)  # sum over customers of mean

    # normal equations of the branch x month effects, customer effects eliminated
    M = np.zeros((B, T, T))
    Nbt = np.bincount(br[fit_rows] * T + t[fit_rows], weights=n[fit_rows], minlength=B * T)
    r = np.bincount(
        br[fit_rows] * T + t[fit_rows],
        weights=y[fit_rows] - c_mean[cid[fit_rows]],
        minlength=B * T,
    ).reshape(B, T)
    idx = np.arange(T)
    M[:, idx, idx] = Nbt.reshape(B, T)
    uc = np.flatnonzero(usable)
    blocks = (
        pd.DataFrame({"b": c_br[uc], "lo": c_lo[uc], "hi": c_hi[uc], "w": c_n[uc] / c_len[uc]})
        .groupby(["lo", "hi", "b"], sort=True)["w"]
        .sum()
    )
    for (lo, hi), part in blocks.groupby(level=[0, 1], sort=False):
        bs = part.index.get_level_values(2).to_numpy()
        M[bs, lo : hi + 1, lo : hi + 1] -= part.to_numpy()[:, None, None]
    lam = np.einsum("btu,bu->bt", normal_pinv(M), r)

    # connected months per branch: months covered by the fit and linked by one customer cell
    covered = Nbt.reshape(B, T) > 0
    link = np.zeros((B, T + 1))
    bl = blocks.reset_index()
    spans = bl[bl.hi > bl.lo]
    np.add.at(link, (spans.b.to_numpy(), spans.lo.to_numpy()), 1.0)
    np.add.at(link, (spans.b.to_numpy(), spans.hi.to_numpy()), -1.0)
    linked = np.cumsum(link, axis=1)[:, :T] > 0.5  # month t linked to t + 1
    starts = covered.copy()
    starts[:, 1:] &= ~linked[:, :-1]
    comp = np.where(covered, np.cumsum(starts, axis=1), -1)

    # customer effects summed over a cell: sum of means less n * mean month effect
    cum = np.concatenate([np.zeros((B, 1)), np.cumsum(lam, axis=1)], axis=1)
    lo_s, hi_s = np.where(usable, c_lo, 0), np.where(usable, c_hi, 0)
    lam_bar = (cum[c_br, hi_s + 1] - cum[c_br, lo_s]) / np.maximum(c_len, 1)
    alpha_sum = c_mean - c_n * lam_bar

    rows = np.flatnonzero(target)
    rc = cid[rows]
    rb, rt = br[rows], t[rows]
    ok = usable[rc] & (comp[rb, rt] >= 0) & (comp[rb, rt] == comp[rb, np.minimum(lo_s[rc], T - 1)])
    tau = y[rows] - alpha_sum[rc] - n[rows] * lam[rb, rt]
    rows, rc, tau = rows[ok], rc[ok], tau[ok]
    not_imputed = int(n[target].sum() - n[rows].sum())
    flat = ((br[rows] * 2 + kind[rows]) * J + tier[rows]) * D + (e[rows] + L)
    A = np.bincount(flat, weights=tau, minlength=B * 2 * J * D).reshape(B, 2, J, D)
    N = np.bincount(flat, weights=n[rows], minlength=B * 2 * J * D).reshape(B, 2, J, D)
    post_cells = np.unique(rc[e[rows] >= 0])
    cust = np.bincount(
        (c_br[post_cells] * 2 + kind[first][post_cells]) * J + tier[first][post_cells],
        weights=c_n[post_cells],
        minlength=B * 2 * J,
    ).reshape(B, 2, J)
    return Imputed(A, N, cust, not_imputed, C)


# ---------------------------------------------------------------------------- inference


@dataclass(frozen=True)
class Estimate:
    """A coefficient in yuan of AUM per bound customer with its branch-clustered 95% interval;
    ``None`` with a ``reason`` when it cannot be estimated."""

    coef: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n_customer_months: int
    n_branches: int
    reason: str | None = None

    def as_dict(self) -> dict:
        out = {
            "coef": json_number(self.coef),
            "se": json_number(self.se),
            "ci_low": json_number(self.ci_low),
            "ci_high": json_number(self.ci_high),
            "n_customer_months": self.n_customer_months,
            "n_branches": self.n_branches,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class PreTrend:
    """Joint test that the held-out months before binding show no effect (F, p-value)."""

    f_stat: float | None
    df_num: int
    df_den: int
    p_value: float | None
    leads: tuple[int, ...]

    def as_dict(self) -> dict:
        return {
            "f_stat": json_number(self.f_stat),
            "df_num": self.df_num,
            "df_den": self.df_den,
            "p_value": json_number(self.p_value),
            "leads": list(self.leads),
            "test": "joint Wald (F) test that the placebo effects of the held-out months before "
            "binding are zero, branch-clustered",
        }


@dataclass(frozen=True)
class Group:
    """Estimates for one group of bound customers (a kind, optionally one tier): the window
    average ``att``, the event-time ``path`` ((event month, estimate) pairs), ``pretrend``, the
    bound customers with an imputed post-binding month, and the branch influence functions
    (``psi``: one row per branch; columns the monthly effects ``delta``). With ``post >= 1``:
    ``later``, the path's average over event months ``1 .. post``, and ``first_gap``, event
    month 0 less that average (yuan; does the effect start in full in the binding month?)."""

    att: Estimate
    path: tuple[tuple[int, Estimate], ...]
    pretrend: PreTrend
    n_customers: int
    delta: np.ndarray = field(repr=False)
    psi: np.ndarray = field(repr=False)
    att_weights: np.ndarray = field(repr=False)
    later: Estimate | None = None
    first_gap: Estimate | None = None


def json_number(x: float | None, digits: int = 6) -> float | None:
    """``x`` rounded to ``digits`` decimals as strict JSON (None, NaN and ±inf → None)."""
    return None if x is None else jsonable(round(float(x), digits))


def path_matrix(design: Design) -> tuple[list[int], np.ndarray]:
    """Event months of the reported path and the matrix mapping the monthly effects
    (``delta`` at event months ``-leads .. post``) to it (yuan of AUM)."""
    L, E = design.leads, design.post
    D = L + E + 1
    if design.model == "levels":
        return list(range(-L, E + 1)), np.eye(D)
    months = list(range(-L - 1, E + 1))
    C = np.zeros((len(months), D))
    for i, ev in enumerate(months):
        if ev >= 0:
            C[i, L : L + ev + 1] = 1.0  # deltas 0..ev
        elif ev <= -2:
            C[i, L + ev + 1 : L] = -1.0  # minus deltas ev+1..-1
    return months, C


def _estimate(
    value: float, var: float, n_obs: float, g: int, reason: str | None = None
) -> Estimate:
    if reason or not math.isfinite(value):
        return Estimate(None, None, None, None, round(n_obs), g, reason or "not estimable")
    if g < 2:
        return Estimate(value, None, None, None, round(n_obs), g, "one branch: no interval")
    se = math.sqrt(max(var, 0.0))
    q = t_quantile(g)
    return Estimate(value, se, value - q * se, value + q * se, round(n_obs), g)


def group_estimates(A: np.ndarray, N: np.ndarray, n_customers: int, design: Design) -> Group:
    """Estimates from branch totals ``A[b, d]`` (imputed effects, yuan) and ``N[b, d]``
    (customer-months) at event months ``d - leads``."""
    L, E = design.leads, design.post
    tot_A, tot_N = A.sum(axis=0), N.sum(axis=0)
    defined = tot_N > 0
    delta = np.divide(tot_A, tot_N, out=np.full(tot_A.shape, np.nan), where=defined)
    psi = np.where(defined, (A - np.nan_to_num(delta) * N) / np.where(defined, tot_N, 1.0), 0.0)
    G = int(np.count_nonzero(N.sum(axis=1) > 0))
    V = influence_vcov(psi, G)
    months, C = path_matrix(design)
    theta = C @ np.nan_to_num(delta)
    needs = np.abs(C) @ (~defined).astype(float) > 0
    Vt = C @ V @ C.T
    obs_at = {ev: tot_N[ev + L] if -L <= ev <= E else 0.0 for ev in months}
    path = []
    for i, ev in enumerate(months):
        if design.model == "trends" and ev == -1:
            path.append((ev, Estimate(0.0, 0.0, 0.0, 0.0, 0, G, "reference month")))
            continue
        reason = "no customer-months at these event months" if needs[i] else None
        path.append((ev, _estimate(theta[i], Vt[i, i], obs_at[ev], G, reason)))
    post = [i for i, ev in enumerate(months) if ev >= 0]
    w = C[post].mean(axis=0)
    post_obs = float(tot_N[L:].sum())
    if np.any(needs[post]):
        att = _estimate(np.nan, np.nan, post_obs, G, "no customer-months in some event month")
    else:
        att = _estimate(float(w @ np.nan_to_num(delta)), float(w @ V @ w), post_obs, G)
    lead_idx = [d for d in range(L) if defined[d]]
    test = joint_wald(delta[lead_idx], V[np.ix_(lead_idx, lead_idx)], G)
    pre = PreTrend(
        test.f_stat if test.df_num else None,
        test.df_num,
        test.df_den,
        test.p_value if test.df_num else None,
        tuple(d - L for d in lead_idx),
    )
    later = gap = None
    if len(post) > 1 and not np.any(needs[post]):
        wl = C[post[1:]].mean(axis=0)
        wg = C[post[0]] - wl
        d0 = np.nan_to_num(delta)
        later = _estimate(float(wl @ d0), float(wl @ V @ wl), float(tot_N[L + 1 :].sum()), G)
        gap = _estimate(float(wg @ d0), float(wg @ V @ wg), post_obs, G)
    return Group(att, tuple(path), pre, n_customers, delta, psi, w, later, gap)


def difference(a: Group, b: Group) -> Estimate:
    """``b.att - a.att`` with its branch-clustered interval (same branches, both kinds)."""
    if a.att.coef is None or b.att.coef is None:
        return Estimate(None, None, None, None, 0, 0, "one of the kinds is not estimable")
    psi = b.psi @ b.att_weights - a.psi @ a.att_weights
    G = int(np.count_nonzero((np.abs(a.psi).sum(axis=1) + np.abs(b.psi).sum(axis=1)) > 0))
    var = float(influence_vcov(psi, G)[0, 0])
    n = a.att.n_customer_months + b.att.n_customer_months
    return _estimate(b.att.coef - a.att.coef, var, n, G)
