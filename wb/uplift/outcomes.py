"""What the quota moves besides the contract's AUM change per add (docs/methods.md): certified
and uncertified adds as outcomes of the quota, and the outcome family (AUM change, net new money,
product sales) with a Holm adjustment.

Every estimate reuses the sample's demeaned columns (:attr:`wb.uplift.sample.Sample.demeaned`:
exact demeaning, CRV1 by home branch with fixest's small-sample rule, t(G−1) intervals), so it is
held to the same standard the tests hold the contract numbers to. Money in yuan; adds in adds
per RM-month.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from wb.door.display import Shown, finite, intervals
from wb.uplift.demeaned import Demeaned
from wb.uplift.result import OUTCOME, Estimate
from wb.uplift.sample import Sample

#: The outcome family: AUM change plus the optional columns of the export, when present.
FAMILY = (OUTCOME, "net_new_money_cny", "product_sales_cny")


# --------------------------------------------------------------------------- certified split


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
                    **s.first_stage.cells("first_stage_"),
                    **s.per_add.cells("per_add_"),
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
                    **e.per_add.cells("per_add_"),
                    "pvalue_holm": e.pvalue_holm,
                    **e.reduced_form.cells("reduced_form_"),
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
