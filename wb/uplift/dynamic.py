"""Dynamic effects of quota changes: de Chaisemartin and D'Haultfœuille's DID_ℓ with the quota
target as a non-binary, non-absorbing treatment (docs/methods.md, "Dynamic effects of quota
changes").

de Chaisemartin and D'Haultfœuille (2024), "Difference-in-differences estimators of
intertemporal treatment effects" (``did_multiplegt_dyn``). The treatment of an RM-month is its
quota target (0 = none, 50, 100 adds a month, ...), which switches on, changes and sometimes
stops. For each RM ``g``: its baseline target ``D_g1`` (the first month of the sample), its
first switch ``F_g`` (the first month its target differs from the baseline) and ``S_g`` = +1
when the target then rose, −1 when it fell. For ℓ = 1, 2, … the effect ℓ months after the first
switch (ℓ = 1 is the switch month) compares the switcher's outcome change from month ``F_g − 1``
to ``F_g − 1 + ℓ`` with the same change of the RMs that had the same baseline and had not
switched yet by ``F_g − 1 + ℓ``:

    DID_ℓ = mean over switchers of S_g · [(Y_g,F−1+ℓ − Y_g,F−1) − mean over controls (same)],

over the switchers for which such controls exist. It is the effect of the RM's actual target
path since the first switch (later changes and stops included) against its baseline target
kept. Placebo ℓ compares ``F_g − 1 − ℓ`` with ``F_g − 1`` for the same switchers and controls,
each also seen at ``F_g − 1 + ℓ`` (no anticipation, parallel trends); their joint test is the
pre-trend test. As the authors' command does by default, an RM's months after its target has
been both above and below its baseline are dropped.

Outcomes: the monthly AUM change (yuan) and adds (a dynamic first stage). Inference: influence
functions (the controls' means estimated, each control carrying its share of the switchers'
weight) summed per branch, G/(G−1), 95% intervals on t(G−1). Vectorised over one wide RM ×
month matrix: one pass per (horizon, month), each a bincount over RMs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wb.door.display import Shown, records
from wb.errors import NotIdentified
from wb.stats.cluster import cluster_sums, influence_vcov, joint_wald, t_interval
from wb.uplift.estimation import Sample

#: Effects (ℓ = 1…EFFECTS months from the first switch) and placebos estimated by default.
EFFECTS = 8
PLACEBOS = 3
#: The outcomes, in figure order, and their units.
OUTCOMES = {
    "aum_change_cny": "yuan of monthly AUM change per RM-month",
    "wecom_adds": "WeCom adds per RM-month",
}


@dataclass(frozen=True)
class Panel:
    """The sample as wide RM × month arrays: ``outcomes`` (name → (R, T) float, NaN where the
    RM-month is not in the sample or dropped), the quota target ``treatment`` (R, T), each RM's
    ``baseline`` target code, first switch ``first`` (month index; ``T`` when never),
    ``sign`` S_g, last month with a control ``last`` (T_g) and home branch ``cluster``."""

    outcomes: dict[str, np.ndarray]
    baseline: np.ndarray
    first: np.ndarray
    sign: np.ndarray
    last: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    months: np.ndarray = field(repr=False)


def panel(sample: Sample) -> Panel:
    """The wide arrays of :class:`Panel` from the estimation sample."""
    rm = sample.rm
    months, t = np.unique(sample.calendar_month, return_inverse=True)
    n_rm, n_t = int(rm.max()) + 1, len(months)
    if len(months) and months[-1] - months[0] + 1 != n_t:  # keep the calendar's gaps
        months = np.arange(months[0], months[-1] + 1)
        t = sample.calendar_month - months[0]
        n_t = len(months)
    seen = np.zeros((n_rm, n_t), dtype=bool)
    seen[rm, t] = True
    dose = np.full((n_rm, n_t), np.nan)
    dose[rm, t] = sample.quota_target
    start = seen.argmax(axis=1)
    base = dose[np.arange(n_rm), start]
    above = np.fmax.accumulate(np.where(seen, dose > base[:, None], False), axis=1)
    below = np.fmax.accumulate(np.where(seen, dose < base[:, None], False), axis=1)
    keep = seen & ~(above & below)  # the command's default: drop once both above and below
    differs = keep & (dose != base[:, None])
    first = np.where(differs.any(axis=1), differs.argmax(axis=1), n_t)
    switched = first < n_t
    sign = np.zeros(n_rm)
    sign[switched] = np.sign(dose[switched, first[switched]] - base[switched])
    base_code = pd.factorize(base)[0]
    # T_g: the last month in which an RM with the same baseline has not switched yet
    latest = np.full(base_code.max() + 1, -1)
    np.maximum.at(latest, base_code, first)
    last = np.minimum(latest[base_code] - 1, n_t - 1)
    cluster = np.zeros(n_rm, dtype=np.int64)
    cluster[rm] = sample.cluster
    wide = {}
    for name, values in (("aum_change_cny", sample.y), ("wecom_adds", sample.adds)):
        y = np.full((n_rm, n_t), np.nan)
        y[rm, t] = values
        wide[name] = np.where(keep, y, np.nan)
    return Panel(wide, base_code, first, sign, last, cluster, sample.n_clusters, months)


def _effects(
    p: Panel, y: np.ndarray, horizons: list[int], placebo: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DID_ℓ (or placebo ℓ) of outcome ``y`` (R, T) for each ℓ in ``horizons``: estimates
    (L,), switchers used (L,) and per-branch sums of the influence functions (G, L)."""
    n_rm, n_t = y.shape
    n_base = int(p.baseline.max()) + 1
    coefs = np.full(len(horizons), np.nan)
    counts = np.zeros(len(horizons), dtype=np.int64)
    sums = np.zeros((p.n_clusters, len(horizons)))
    ref = p.first - 1
    for j, ell in enumerate(horizons):
        # effect ℓ: months ref → ref + ℓ; placebo ℓ: ref → ref − ℓ, with effect ℓ's controls
        cand = (p.first < n_t) & (ref >= 0) & (ref + ell <= p.last)
        if placebo:
            cand &= ref - ell >= 0
        psi = np.zeros(n_rm)  # RM-level influence, times the switchers used
        used = np.zeros(n_rm, dtype=bool)
        for r in np.unique(ref[cand]):
            at = r - ell if placebo else r + ell
            change = y[:, at] - y[:, r]
            if placebo:  # as the command: the RMs that effect ℓ could use, seen at r + ℓ too
                change[~np.isfinite(y[:, r + ell])] = np.nan
            control = (p.first > r + ell) & np.isfinite(change)
            n_c = np.bincount(p.baseline[control], minlength=n_base)
            mean_c = np.bincount(
                p.baseline[control], weights=change[control], minlength=n_base
            ) / np.maximum(n_c, 1)
            mine = cand & (ref == r) & np.isfinite(change) & (n_c[p.baseline] > 0)
            if not mine.any():
                continue
            used |= mine
            psi[mine] += p.sign[mine] * (change[mine] - mean_c[p.baseline[mine]])
            pull = np.bincount(p.baseline[mine], weights=p.sign[mine], minlength=n_base)
            share = (pull / np.maximum(n_c, 1))[p.baseline[control]]
            psi[control] -= share * (change[control] - mean_c[p.baseline[control]])
        n_used = int(used.sum())
        if n_used == 0:
            continue
        coef = float(psi.sum()) / n_used  # each control set's terms sum to 0
        coefs[j], counts[j] = coef, n_used
        psi[used] -= coef
        sums[:, j] = cluster_sums((psi / n_used)[:, None], p.cluster, p.n_clusters)[:, 0]
    return coefs, counts, sums


@dataclass(frozen=True)
class DynamicEffects(Shown):
    """DID_ℓ of quota changes per outcome: :meth:`tidy` one row per (outcome, horizon);
    horizon −ℓ is placebo ℓ, +ℓ the effect ℓ months from the first switch (1 = the switch
    month). ``pretrend_p`` (per outcome) is the joint test that the placebos are zero (F on
    G − 1); ``switchers`` counts the RMs whose quota target changed within the window, by
    direction."""

    table: pd.DataFrame = field(repr=False)
    pretrend_p: dict[str, float]
    switchers_in: int
    switchers_out: int
    n_clusters: int

    def tidy(self) -> pd.DataFrame:
        """``outcome``, ``horizon``, ``kind`` (``effect`` / ``placebo``), ``coef``, ``se``,
        ``ci_low``, ``ci_high`` (in ``unit``) and ``switchers`` (RMs used)."""
        return self.table.copy()

    def summary(self) -> str:
        """The first line reads the AUM effects at the first and last horizon; one line per
        outcome follows."""
        t = self.table
        lines = []
        for outcome, unit in OUTCOMES.items():
            rows = t[(t["outcome"] == outcome) & (t["kind"] == "effect")].dropna(subset=["coef"])
            cells = ", ".join(
                f"l={r.horizon} {r.coef:+,.{0 if abs(r.coef) >= 100 else 1}f} "
                f"[{r.ci_low:+,.{0 if abs(r.coef) >= 100 else 1}f}, "
                f"{r.ci_high:+,.{0 if abs(r.coef) >= 100 else 1}f}]"
                for r in rows.itertuples()
            )
            lines.append(
                f"{outcome} ({unit}): {cells or 'none'}; pre-trend p = "
                f"{self.pretrend_p[outcome]:.3f}"
            )
        first = t[(t["outcome"] == "aum_change_cny") & (t["kind"] == "effect")].dropna(
            subset=["coef"]
        )
        head = "Dynamic effects of quota changes (DID_l, the quota target as treatment)"
        if not first.empty:
            a, b = first.iloc[0], first.iloc[-1]
            head += (
                f": monthly AUM change {a.coef:+,.0f} yuan per RM-month in the month the target "
                f"first changes [{a.ci_low:+,.0f}, {a.ci_high:+,.0f}], {b.coef:+,.0f} "
                f"[{b.ci_low:+,.0f}, {b.ci_high:+,.0f}] {b.horizon - 1} months later"
            )
        lines.insert(0, head)
        lines.append(
            f"{self.switchers_in:,} RMs whose target rose first, {self.switchers_out:,} whose "
            f"target fell first; {self.n_clusters} branch clusters; 95% intervals."
        )
        return "\n".join(lines)

    def effect(self, outcome: str, horizon: int) -> pd.Series:
        """One row of :meth:`tidy`."""
        t = self.table
        return t[(t["outcome"] == outcome) & (t["horizon"] == horizon)].iloc[0]

    def to_json(self) -> dict:
        """``uplift.json``'s ``dynamic_effects``: per outcome its unit, the joint pre-trend p
        and the points (horizon, kind, coef, se, interval, switchers)."""
        out = {}
        for outcome, unit in OUTCOMES.items():
            rows = self.table[self.table["outcome"] == outcome].drop(columns="outcome")
            out[outcome] = {
                "unit": unit,
                "pretrend_p": records(pd.DataFrame([{"p": self.pretrend_p[outcome]}]))[0]["p"],
                "points": records(rows),
            }
        return {
            "estimator": "did_multiplegt_dyn",
            "treatment": "quota_target",
            "switchers_in": self.switchers_in,
            "switchers_out": self.switchers_out,
            "outcomes": out,
        }


def dynamic_effects(
    sample: Sample, effects: int = EFFECTS, placebos: int = PLACEBOS
) -> DynamicEffects:
    """DID_ℓ for ℓ = 1…``effects`` and ``placebos`` placebos of each outcome in
    :data:`OUTCOMES`, the quota target as treatment. Raises
    :class:`~wb.errors.NotIdentified` when no RM's target changes with a control to compare."""
    p = panel(sample)
    switched = p.first < len(p.months)
    rows = []
    pretrend = {}
    for outcome in OUTCOMES:
        y = p.outcomes[outcome]
        parts = []
        for kind, horizons in (
            ("placebo", list(range(placebos, 0, -1))),
            ("effect", list(range(1, effects + 1))),
        ):
            coefs, counts, sums = _effects(p, y, horizons, placebo=kind == "placebo")
            se = np.sqrt(np.diag(influence_vcov(sums, p.n_clusters)))
            low, high = t_interval(coefs, se, p.n_clusters)
            parts.append((kind, horizons, coefs, se, low, high, counts, sums))
        for kind, horizons, coefs, se, low, high, counts, _ in parts:
            for h, c, s, lo, hi, n in zip(horizons, coefs, se, low, high, counts, strict=True):
                rows.append(
                    {
                        "outcome": outcome,
                        "horizon": -h if kind == "placebo" else h,
                        "kind": kind,
                        "coef": c,
                        "se": s,
                        "ci_low": lo,
                        "ci_high": hi,
                        "switchers": int(n),
                        "unit": OUTCOMES[outcome],
                    }
                )
        pl_coefs, pl_sums = parts[0][2], parts[0][7]
        finite = np.isfinite(pl_coefs)
        test = joint_wald(
            pl_coefs[finite], influence_vcov(pl_sums[:, finite], p.n_clusters), p.n_clusters
        )
        pretrend[outcome] = test.p_value
    table = pd.DataFrame(rows)
    if not np.isfinite(table.loc[table["kind"] == "effect", "coef"]).any():
        raise NotIdentified(
            "dynamic effects of quota changes: no RM's quota target changes with an RM of the "
            "same baseline target not yet switched to compare with"
        )
    return DynamicEffects(
        table,
        pretrend,
        int((switched & (p.sign > 0)).sum()),
        int((switched & (p.sign < 0)).sum()),
        p.n_clusters,
    )
