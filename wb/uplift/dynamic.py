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
from wb.stats.cluster import influence_vcov, joint_wald, t_interval
from wb.uplift.sample import Sample

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
    """The sample as wide arrays, RMs ordered by first switch, latest first (so the RMs not
    yet switched by a month are a prefix and each month's switchers one block):
    ``outcomes`` (O, T, R), the outcomes of :data:`OUTCOMES` month-major, NaN where the
    RM-month is not in the sample or dropped; per RM its ``baseline`` target code, first
    switch ``first`` (month index; T when never), ``sign`` S_g, last month with a control
    ``last`` (T_g) and home branch ``cluster``."""

    outcomes: np.ndarray = field(repr=False)
    baseline: np.ndarray
    first: np.ndarray
    sign: np.ndarray
    last: np.ndarray
    cluster: np.ndarray
    n_clusters: int


def panel(sample: Sample) -> Panel:
    """The wide arrays of :class:`Panel` from the estimation sample."""
    rm = sample.rm
    t = sample.calendar_month - sample.calendar_month.min()  # gaps kept as empty months
    n_rm, n_t = int(rm.max()) + 1, int(t.max()) + 1
    seen = np.zeros((n_rm, n_t), dtype=bool)
    seen[rm, t] = True
    dose = np.full((n_rm, n_t), np.nan)
    dose[rm, t] = sample.quota_target
    base = dose[np.arange(n_rm), seen.argmax(axis=1)]
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
    order = np.argsort(-first, kind="stable")
    wide = np.full((len(OUTCOMES), n_t, n_rm), np.nan)
    position = np.empty(n_rm, dtype=np.int64)
    position[order] = np.arange(n_rm)
    kept = keep[rm, t]
    for k, values in enumerate((sample.y, sample.adds)):
        wide[k, t[kept], position[rm[kept]]] = values[kept]
    return Panel(
        wide,
        base_code[order],
        first[order],
        sign[order],
        last[order],
        cluster[order],
        sample.n_clusters,
    )


def _effects(
    p: Panel, horizons: list[int], placebo: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DID_ℓ (or placebo ℓ) of every outcome for each ℓ in ``horizons``: estimates (O, L),
    switchers used (L,) and per-branch sums of the influence functions (O, G, L). An RM-month
    missing any outcome is left out of all (in ``wb uplift``'s sample none is)."""
    ys = p.outcomes
    n_o, n_t, n_rm = ys.shape
    n_base = int(p.baseline.max()) + 1
    later_first = -p.first  # ascending: the RMs with first > m are those before a cut
    coefs = np.full((n_o, len(horizons)), np.nan)
    counts = np.zeros(len(horizons), dtype=np.int64)
    sums = np.zeros((n_o, p.n_clusters, len(horizons)))
    for j, ell in enumerate(horizons):
        psi = np.zeros((n_o, n_rm))  # RM-level influence, times the switchers used
        used = np.zeros(n_rm, dtype=bool)
        for r in range(max(ell if placebo else 0, 0), n_t - ell):  # r = F − 1, the reference
            # switchers of reference r: one block; controls: not switched by r + ℓ, a prefix
            lo, hi = np.searchsorted(later_first, [-(r + 1), -r], side="left")
            k = int(np.searchsorted(later_first, -(r + ell), side="left"))
            if hi == lo or not (r + ell <= p.last[lo:hi]).any():
                continue
            at = r - ell if placebo else r + ell
            change = ys[:, at, :hi] - ys[:, r, :hi]
            ok = np.isfinite(change).all(axis=0)
            if placebo:  # as the command: the RMs that effect ℓ could use, seen at r + ℓ too
                ok &= np.isfinite(ys[:, r + ell, :hi]).all(axis=0)
            cb = p.baseline[:k][ok[:k]]
            n_c = np.bincount(cb, minlength=n_base)
            c_change = change[:, :k][:, ok[:k]]
            mean = np.stack([np.bincount(cb, weights=c, minlength=n_base) for c in c_change])
            mean /= np.maximum(n_c, 1)
            bb = p.baseline[lo:hi]
            mine = (r + ell <= p.last[lo:hi]) & ok[lo:hi] & (n_c[bb] > 0)
            if not mine.any():
                continue
            s_m, b_m = p.sign[lo:hi][mine], bb[mine]
            rows = np.arange(lo, hi)[mine]
            used[rows] = True
            psi[:, rows] += s_m * (change[:, lo:hi][:, mine] - mean[:, b_m])
            share = np.bincount(b_m, weights=s_m, minlength=n_base) / np.maximum(n_c, 1)
            controls = np.flatnonzero(ok[:k])
            psi[:, controls] -= share[cb] * (c_change - mean[:, cb])
        n_used = int(used.sum())
        if n_used == 0:
            continue
        coef = psi.sum(axis=1) / n_used  # each control set's terms sum to 0
        coefs[:, j], counts[j] = coef, n_used
        psi[:, used] -= coef[:, None]
        for o in range(n_o):
            sums[o, :, j] = np.bincount(p.cluster, weights=psi[o] / n_used, minlength=p.n_clusters)
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
    switched = p.first < p.outcomes.shape[1]
    g = p.n_clusters
    parts = {
        kind: (horizons, *_effects(p, horizons, placebo=kind == "placebo"))
        for kind, horizons in (
            ("placebo", list(range(placebos, 0, -1))),
            ("effect", list(range(1, effects + 1))),
        )
    }
    rows, pretrend = [], {}
    for o, (outcome, unit) in enumerate(OUTCOMES.items()):
        for kind, (horizons, coefs, counts, sums) in parts.items():
            se = np.sqrt(np.diag(influence_vcov(sums[o], g)))
            low, high = t_interval(coefs[o], se, g)
            rows += [
                {
                    "outcome": outcome,
                    "horizon": -h if kind == "placebo" else h,
                    "kind": kind,
                    "coef": c,
                    "se": s,
                    "ci_low": lo,
                    "ci_high": hi,
                    "switchers": int(n),
                    "unit": unit,
                }
                for h, c, s, lo, hi, n in zip(
                    horizons, coefs[o], se, low, high, counts, strict=True
                )
            ]
        _, pl_coefs, _, pl_sums = parts["placebo"]
        finite = np.isfinite(pl_coefs[o])
        test = joint_wald(pl_coefs[o][finite], influence_vcov(pl_sums[o][:, finite], g), g)
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
        g,
    )
