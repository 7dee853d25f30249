"""Robustness checks of the contract's per-add estimate (docs/methods.md, "robustness"): the
checks a referee asks for, each beside the baseline FE-2SLS / TWFE number.

Every estimate reuses the sample's demeaned columns or sweeps another pair of fixed effects on
a subset (:meth:`wb.uplift.sample.Sample.demeaned_on`: exact demeaning, CRV1 by home branch with
fixest's small-sample rule, t(G−1) intervals), so it is held to the same standard the tests hold
the contract numbers to. Money in yuan of monthly AUM change per add.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wb.door.display import Shown, intervals
from wb.uplift.demeaned import Demeaned
from wb.uplift.result import Estimate
from wb.uplift.sample import Sample

WINSOR = (1.0, 99.0)
QUARTER_END_MONTHS = (3, 6, 9, 12)


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
                    **c.estimate.cells(),
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
