"""Fixed-effects designs on the uplift sample beyond the contract's three numbers
(docs/methods.md): the certified/uncertified split, more outcomes with a multiple-testing adjustment, the
WeCom coverage rate, and robustness checks.

Every estimate reuses :mod:`wb.uplift`'s machinery (exact demeaning, CRV1 by home branch
with fixest's small-sample rule, t(G−1) intervals), so it is held to the same standard the
tests hold the contract numbers to. Money in yuan; adds in adds per RM-month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from wb.door.display import Shown, finite, intervals, records
from wb.uplift.demeaned import Demeaned
from wb.uplift.result import OUTCOME, Estimate
from wb.uplift.sample import Sample

#: The outcome family: AUM change plus the optional columns of the export, when present.
FAMILY = (OUTCOME, "net_new_money_cny", "product_sales_cny")
WINSOR = (1.0, 99.0)
QUARTER_END_MONTHS = (3, 6, 9, 12)


# --------------------------------------------------------------------------- certified split

_ESTIMATE_COLUMNS = ["coef", "se", "ci_low", "ci_high", "pvalue", "n_obs"]


def _cells(e: Estimate, prefix: str = "") -> dict[str, float]:
    """An estimate's numbers as table cells, keys prefixed (``per_add_coef``, …)."""
    return {f"{prefix}{k}": getattr(e, k) for k in _ESTIMATE_COLUMNS}


@dataclass(frozen=True)
class Split:
    """One kind of add as an outcome: how many the quota makes, and AUM per such add."""

    kind: str
    first_stage: Estimate
    reduced_form: Estimate
    per_add: Estimate
    mean_per_rm_month: float

    def to_json(self) -> dict:
        return {
            "first_stage": self.first_stage.to_json(),
            "reduced_form": self.reduced_form.to_json(),
            "per_add": self.per_add.to_json(),
            "mean_adds_per_rm_month": self.mean_per_rm_month,
        }


@dataclass(frozen=True)
class Certification(Shown):
    """Certified and uncertified adds as outcomes of the quota (:func:`by_certification`)."""

    splits: tuple[Split, ...]

    def __getitem__(self, kind: str) -> Split:
        return next(s for s in self.splits if s.kind == kind)

    def tidy(self) -> pd.DataFrame:
        """One row per kind: the first stage (``first_stage_*``, adds per quota RM-month), the
        AUM change per such add (``per_add_*``, yuan) and ``mean_adds_per_rm_month``."""
        return pd.DataFrame(
            [
                {
                    "kind": s.kind,
                    **_cells(s.first_stage, "first_stage_"),
                    **_cells(s.per_add, "per_add_"),
                    "mean_adds_per_rm_month": s.mean_per_rm_month,
                }
                for s in self.splits
            ]
        )

    def summary(self) -> str:
        lines = ["Certified and uncertified adds as outcomes of the quota (95% intervals)"]
        for s in self.splits:
            fs, pa = s.first_stage, s.per_add
            lines.append(
                f"{s.kind}: {fs.coef:+.2f} adds per quota RM-month [{fs.ci_low:+.2f}, "
                f"{fs.ci_high:+.2f}]; {pa.coef:+,.0f} yuan per {s.kind} add if the other kind "
                f"moves AUM not at all [{pa.ci_low:+,.0f}, {pa.ci_high:+,.0f}]"
            )
        return "\n".join(lines)

    def view(self) -> pd.DataFrame:
        t = self.tidy()
        return pd.DataFrame(
            {
                "kind": t["kind"],
                "quota's first stage (adds per RM-month)": t["first_stage_coef"],
                "95% CI (adds)": intervals(t["first_stage_ci_low"], t["first_stage_ci_high"]),
                "AUM change per add (yuan)": t["per_add_coef"],
                "95% CI (yuan)": intervals(t["per_add_ci_low"], t["per_add_ci_high"]),
            }
        )

    def to_json(self) -> dict:
        return {s.kind: s.to_json() for s in self.splits}


def by_certification(sample: Sample, d: Demeaned) -> Certification:
    """First stage, reduced form and per-add effect with certified and with uncertified adds as
    the outcome of the quota (never as controls: certification happens after the add).

    Each per-add ratio (reduced form ÷ that kind's first stage) assumes the other kind moves AUM
    not at all; with one instrument the two cannot be told apart (docs/methods.md). The first
    stages are the robust part: how many real-name certified adds a quota buys.
    """
    reduced = d.slope("reduced_form", "quota_in_force", d.y, d.z)
    kinds = {
        "certified": (d.c, sample.certified),
        "uncertified": (d.x - d.c, sample.adds - sample.certified),
    }
    return Certification(
        tuple(
            Split(
                kind=kind,
                first_stage=d.slope("first_stage", "quota_in_force", within, d.z),
                reduced_form=reduced,
                per_add=d.slope("iv_quota", f"wecom_{kind}_adds", d.y, within, z=d.z),
                mean_per_rm_month=float(raw.mean()),
            )
            for kind, (within, raw) in kinds.items()
        )
    )


# --------------------------------------------------------------------------- outcome family


@dataclass(frozen=True)
class OutcomeEffect:
    """One outcome of the family: reduced form (yuan per quota RM-month) and FE-2SLS per add
    (yuan per quota-induced add) with its Holm-adjusted p-value."""

    outcome: str
    reduced_form: Estimate
    per_add: Estimate
    pvalue_holm: float


@dataclass(frozen=True)
class OutcomeFamily(Shown):
    """Yuan per quota-induced add for every outcome of :data:`FAMILY` present, Holm-adjusted."""

    effects: tuple[OutcomeEffect, ...]

    def __getitem__(self, outcome: str) -> OutcomeEffect:
        return next(e for e in self.effects if e.outcome == outcome)

    def tidy(self) -> pd.DataFrame:
        """One row per outcome: ``per_add_*`` (yuan per quota-induced add), ``pvalue_holm``,
        ``reduced_form_*`` (yuan per quota RM-month)."""
        return pd.DataFrame(
            [
                {
                    "outcome": e.outcome,
                    **_cells(e.per_add, "per_add_"),
                    "pvalue_holm": e.pvalue_holm,
                    **_cells(e.reduced_form, "reduced_form_"),
                }
                for e in self.effects
            ]
        )

    def summary(self) -> str:
        lines = [
            "Yuan per quota-induced add, by outcome (FE-2SLS; Holm-adjusted p across the family)"
        ]
        for e in self.effects:
            pa = e.per_add
            lines.append(
                f"{e.outcome}: {pa.coef:+,.0f} [{pa.ci_low:+,.0f}, {pa.ci_high:+,.0f}], "
                f"p = {pa.pvalue:.3f}, Holm p = {e.pvalue_holm:.3f}"
            )
        return "\n".join(lines)

    def view(self) -> pd.DataFrame:
        t = self.tidy()
        return pd.DataFrame(
            {
                "outcome": t["outcome"],
                "per quota-induced add (yuan)": t["per_add_coef"],
                "95% CI (yuan)": intervals(t["per_add_ci_low"], t["per_add_ci_high"]),
                "p": t["per_add_pvalue"],
                "Holm p": t["pvalue_holm"],
            }
        )

    def to_json(self) -> dict:
        return {
            "adjustment": "holm",
            "family": [e.outcome for e in self.effects],
            "results": {
                e.outcome: {
                    "reduced_form": e.reduced_form.to_json(),
                    "per_add": {**e.per_add.to_json(), **finite(pvalue_holm=e.pvalue_holm)},
                    "unit": "yuan per RM-month",
                }
                for e in self.effects
            },
        }


def outcome_family(sample: Sample, d: Demeaned) -> OutcomeFamily:
    """Reduced form and yuan per quota-induced add for every outcome of :data:`FAMILY` present,
    with Holm-adjusted p-values (family-wise error rate 5%) on the per-add effects.

    An optional outcome missing in some rows is estimated on the rows that have it.
    """
    # imported here: statsmodels takes ~2 s to load, which `wb uplift --quick` never needs
    from statsmodels.stats.multitest import multipletests

    fits: list[tuple[str, Estimate, Estimate]] = []
    for name in FAMILY:
        if name == OUTCOME:
            dd = d
        elif name in sample.extra:
            values = sample.extra[name]
            mask = np.isfinite(values)
            if mask.sum() < 10:
                continue
            if mask.all():  # the sample's own design: only the outcome is new
                dd = replace(d, y=sample.design.residual(values[:, None])[:, 0])
            else:
                dd = sample.demeaned_on(
                    mask,
                    (sample.rm, sample.month_code),
                    values,
                    sample.adds,
                    z=sample.quota_on,
                )
        else:
            continue
        fits.append(
            (
                name,
                dd.slope("reduced_form", "quota_in_force", dd.y, dd.z),
                dd.slope("iv_quota", "wecom_adds", dd.y, dd.x, z=dd.z),
            )
        )
    pvalues = [per_add.pvalue for _, _, per_add in fits]
    adjusted = multipletests(pvalues, alpha=0.05, method="holm")[1] if pvalues else []
    return OutcomeFamily(
        tuple(
            OutcomeEffect(name, rf, per_add, float(p))
            for (name, rf, per_add), p in zip(fits, adjusted, strict=True)
        )
    )


# --------------------------------------------------------------------------- coverage rate

_COVERAGE_STATS = ["n_rms", "mean", "median", "p10", "p90", "share_above_1"]


@dataclass(frozen=True)
class Coverage(Shown):
    """WeCom coverage rate per RM at its last month (fractions; :func:`wecom_coverage`)."""

    table: pd.DataFrame = field(repr=False)
    definition: str = (
        "cumulative certified adds over the export window / managed customers, each RM's last month"
    )

    def tidy(self) -> pd.DataFrame:
        """One row per group (``all``, ``ever_quota``, ``never_quota``): ``n_rms`` and the
        rate's ``mean``, ``median``, ``p10``, ``p90`` and ``share_above_1`` (fractions)."""
        return self.table.copy()

    def summary(self) -> str:
        rows = self.table.set_index("group")
        lines = [f"WeCom coverage rate: {self.definition}"]
        for group, r in rows.iterrows():
            if r["n_rms"]:
                lines.append(
                    f"{group}: median {r['median']:.0%} over {int(r['n_rms']):,} RMs; "
                    f"{r['share_above_1']:.0%} above 100%"
                )
        return "\n".join(lines)

    def view(self) -> pd.DataFrame:
        return self.tidy().rename(
            columns={c: f"{c} (share)" for c in ("mean", "median", "p10", "p90")}
            | {"share_above_1": "share of RMs above 100%"}
        )

    def to_json(self) -> dict:
        groups = {
            row["group"]: {k: v for k, v in row.items() if k != "group"}
            if row["n_rms"]
            else {"n_rms": 0}
            for row in records(self.table)
        }
        return {"definition": self.definition, **groups}


def wecom_coverage(frame: pd.DataFrame) -> Coverage | None:
    """WeCom coverage rate per RM at its last month: cumulative certified adds over the export
    window ÷ managed customers (企微覆盖率 as the 每日经济新闻 article of 2025-12-31 uses it,
    source ``src-20251231-7ec8`` in data/sources.csv: customers added and real-name certified
    over customers managed). Described, not estimated; ``None`` without a ``customers`` column.

    A rate above 100% means more certified adds than customers: adds who are not the RM's
    customers (colleagues, bought contacts) or customers counted twice.
    """
    if "customers" not in frame.columns:
        return None
    f = frame[["rm_id", "month", "wecom_certified_adds", "quota_target", "customers"]]
    f = f.sort_values(["rm_id", "month"])
    cum = f.groupby("rm_id", sort=False)["wecom_certified_adds"].cumsum()
    rate = cum / f["customers"].astype("float64").where(lambda c: c > 0)
    last = pd.DataFrame({"rm_id": f["rm_id"], "rate": rate}).groupby("rm_id").last()["rate"]
    ever = f.groupby("rm_id")["quota_target"].max().gt(0).reindex(last.index)
    last = last.dropna()

    def describe(group: str, values: pd.Series) -> dict:
        return {
            "group": group,
            "n_rms": int(values.size),
            "mean": float(values.mean()),
            "median": float(values.median()),
            "p10": float(values.quantile(0.1)),
            "p90": float(values.quantile(0.9)),
            "share_above_1": float((values > 1).mean()),
        }

    ever = ever.loc[last.index]
    groups = (("all", last), ("ever_quota", last[ever]), ("never_quota", last[~ever]))
    return Coverage(
        pd.DataFrame([describe(g, v) for g, v in groups], columns=["group", *_COVERAGE_STATS])
    )


# --------------------------------------------------------------------------- robustness


@dataclass(frozen=True)
class Check:
    """One robustness check: its estimate (yuan per add), what it changes and, for a test,
    whether it passes."""

    name: str
    estimate: Estimate
    note: str = ""
    passes: bool | None = None

    def to_json(self) -> dict:
        doc = self.estimate.to_json()
        if self.passes is not None:
            doc["passes"] = self.passes
        if self.note:
            doc["note"] = self.note
        return doc


@dataclass(frozen=True)
class Robustness(Shown):
    """The checks a referee asks for, each beside the baseline (:func:`robustness`)."""

    checks: tuple[Check, ...]

    def __getitem__(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.checks)

    def tidy(self) -> pd.DataFrame:
        """One row per check: ``check``, ``model``, ``coef``, ``se``, ``ci_low``, ``ci_high``
        (yuan of monthly AUM change per add), ``pvalue``, ``n_obs``, ``passes``, ``note``."""
        return pd.DataFrame(
            [
                {
                    "check": c.name,
                    "model": c.estimate.model,
                    **_cells(c.estimate),
                    "passes": c.passes,
                    "note": c.note,
                }
                for c in self.checks
            ]
        )

    def summary(self) -> str:
        lines = ["Robustness checks: yuan of monthly AUM change per add (95% intervals)"]
        for c in self.checks:
            e = c.estimate
            verdict = "" if c.passes is None else (" — passes" if c.passes else " — FAILS")
            lines.append(f"{c.name}: {e.coef:+,.0f} [{e.ci_low:+,.0f}, {e.ci_high:+,.0f}]{verdict}")
        return "\n".join(lines)

    def view(self) -> pd.DataFrame:
        t = self.tidy()
        return pd.DataFrame(
            {
                "check": t["check"],
                "per add (yuan)": t["coef"],
                "95% CI (yuan)": intervals(t["ci_low"], t["ci_high"]),
                "RM-months": t["n_obs"],
                "note": t["note"],
            }
        )

    def to_json(self) -> dict:
        return {c.name: c.to_json() for c in self.checks}


def robustness(sample: Sample, d: Demeaned) -> tuple[Robustness, list[str]]:
    """Checks a referee asks for, each beside the baseline FE-2SLS / TWFE number, and notes on
    the checks the data leave undefined (no variation left in their subsample): those are left
    out, never written as NaN.

    * ``winsorised``: FE-2SLS with the AUM change clipped at its 1st/99th percentiles;
    * ``leads``: TWFE of this month's AUM change on adds and *next* month's adds; the lead must
      not predict (strict exogeneity), so its interval should cover 0;
    * ``branch_month_fe``: TWFE with RM and branch × month fixed effects (branch-level shocks
      such as campaigns). FE-2SLS is not identified there: the quota is set per branch-month;
    * ``no_quarter_end``: FE-2SLS without March, June, September, December (window dressing).
    """
    checks = [
        Check("baseline_iv", d.slope("iv_quota", "wecom_adds", d.y, d.x, z=d.z)),
        Check("baseline_twfe", d.slope("twfe", "wecom_adds", d.y, d.x)),
    ]
    lo, hi = np.percentile(sample.y, WINSOR)
    yw = sample.design.residual(np.clip(sample.y, lo, hi)[:, None])[:, 0]
    checks.append(
        Check(
            "winsorised",
            d.slope("iv_quota", "wecom_adds", yw, d.x, z=d.z),
            f"AUM change clipped to [{lo:,.0f}, {hi:,.0f}] yuan (1st/99th percentiles)",
        )
    )

    nxt = (
        np.r_[sample.rm[1:] == sample.rm[:-1], False]
        & np.r_[np.diff(sample.calendar_month) == 1, False]
    )
    lead = np.r_[sample.adds[1:], np.nan]
    ld = sample.demeaned_on(nxt, (sample.rm, sample.month_code), sample.y, sample.adds, c=lead)
    _, lead_est = ld.regress(
        "twfe_leads", ("wecom_adds", "wecom_adds_lead"), ld.y, np.column_stack([ld.x, ld.c])
    )
    checks.append(
        Check(
            "leads",
            lead_est,
            "coefficient on next month's adds; it should be 0",
            passes=bool(lead_est.ci_low <= 0 <= lead_est.ci_high),
        )
    )

    branch_month = (
        sample.branch.astype(np.int64) * (int(sample.month_code.max()) + 1) + sample.month_code
    )
    everything = np.ones(sample.y.size, dtype=bool)
    bm = sample.demeaned_on(everything, (sample.rm, branch_month), sample.y, sample.adds)
    checks.append(
        Check(
            "branch_month_fe",
            bm.slope("twfe_branch_month", "wecom_adds", bm.y, bm.x),
            "TWFE with RM and branch x month fixed effects; FE-2SLS is not identified "
            "(the quota is constant within a branch-month)",
        )
    )

    month_of_year = sample.calendar_month % 12 + 1
    keep = ~np.isin(month_of_year, QUARTER_END_MONTHS)
    q = sample.demeaned_on(
        keep, (sample.rm, sample.month_code), sample.y, sample.adds, z=sample.quota_on
    )
    checks.append(
        Check(
            "no_quarter_end",
            q.slope("iv_quota", "wecom_adds", q.y, q.x, z=q.z),
            "FE-2SLS without quarter-end months (3, 6, 9, 12)",
        )
    )
    defined = [c for c in checks if math.isfinite(c.estimate.coef) and math.isfinite(c.estimate.se)]
    notes = [
        f"robustness check {c.name} not estimated: its subsample leaves no variation to estimate it"
        for c in checks
        if c not in defined
    ]
    return Robustness(tuple(defined)), notes
