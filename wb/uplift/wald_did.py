"""The Wald-DiD (docs/methods.md): yuan of monthly AUM change per quota-induced WeCom add, the
ATT on AUM change ÷ the ATT on adds of the staggered quota adoption
(:mod:`wb.uplift.event_study`), by either estimator, with a branch-level multiplier bootstrap
of the ratio's influence function.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wb.door.display import Shown, records
from wb.errors import InputError, NotIdentified
from wb.stats.cluster import LEVEL, ratio_influence
from wb.uplift import callaway
from wb.uplift.event_study import ESTIMATOR_LABELS, Staggered, check_choice, staggered

#: Draws of the multiplier bootstrap.
N_BOOT = 999


@dataclass(frozen=True)
class WaldDid(Shown):
    """Yuan of monthly AUM change per quota-induced add: ATT(AUM change) ÷ ATT(adds).

    ``se`` and the 95% interval come from a branch-level multiplier bootstrap of ``n_boot``
    draws (see :func:`wald_did`).
    """

    coef: float
    se: float
    ci_low: float
    ci_high: float
    numerator_att: float
    denominator_att: float
    n_boot: int
    estimator: str

    unit = "yuan of monthly AUM change per quota-induced WeCom add"

    def tidy(self) -> pd.DataFrame:
        """One row: ``estimator``, ``coef``, ``se``, ``ci_low``, ``ci_high`` (yuan per add),
        ``numerator_att`` (yuan per RM-month), ``denominator_att`` (adds per RM-month),
        ``n_boot``."""
        return pd.DataFrame([dataclasses.asdict(self)])[
            [
                "estimator",
                "coef",
                "se",
                "ci_low",
                "ci_high",
                "numerator_att",
                "denominator_att",
                "n_boot",
            ]
        ]

    def summary(self) -> str:
        return (
            f"Wald-DiD ({ESTIMATOR_LABELS[self.estimator]}): {self.coef:+,.0f} yuan per "
            f"quota-induced add [{self.ci_low:+,.0f}, {self.ci_high:+,.0f}]\n"
            f"ATT on AUM change {self.numerator_att:+,.0f} yuan per RM-month ÷ ATT on adds "
            f"{self.denominator_att:+,.2f} adds per RM-month; 95% interval from a "
            f"{self.n_boot:,}-draw branch multiplier bootstrap."
        )

    def view(self) -> pd.DataFrame:
        return self.tidy().rename(
            columns={c: f"{c} (yuan per add)" for c in ("coef", "se", "ci_low", "ci_high")}
            | {
                "numerator_att": "ATT on AUM change (yuan per RM-month)",
                "denominator_att": "ATT on adds (adds per RM-month)",
            }
        )

    def to_json(self) -> dict:
        return {**records(self.tidy())[0], "unit": self.unit}


def wald_did(
    cohorts: pd.DataFrame | Staggered,
    estimator: str = "imputation",
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> WaldDid:
    """Wald-DiD: ATT on AUM change ÷ ATT on adds, the yuan per quota-induced add (a LATE), on
    ``cohorts = cohort_frame(sample)``.

    Both estimators are linear in the outcome with weights that do not depend on it, so the
    ratio θ = N/D has influence function (IF_N − θ·IF_D)/D, which is exactly the influence
    function of the ATT on the synthetic outcome z = AUM change − θ·adds, divided by D. The
    interval is a multiplier bootstrap of that influence function with Rademacher weights
    drawn per branch, θ*_b = θ + ATT*_b(z)/D (linearised, no refit per draw):

    * ``imputation``: per-branch sums of the Theorem-3 influence function of the overall ATT
      (the same ones that give diff-diff's standard error).
    * ``callaway_santanna``: per-branch sums of the overall ATT's influence function (with the
      weights' own term, the same ones that give its standard error).

    Either way one matrix product gives all draws; seconds at 100,000 RMs.
    ``se`` is the standard deviation of θ*, the interval its 2.5% and 97.5% percentiles.
    The linearisation needs a strong first stage (the ATT on adds is ~140 standard errors
    from 0 in the simulation); with a weak one, read the Anderson–Rubin set of
    :mod:`wb.uplift` instead; with none at all (an ATT on adds of exactly 0) it raises
    :class:`~wb.errors.NotIdentified`.
    """
    check_choice("aum_change_cny", estimator)
    if n_boot < 2:
        raise InputError(f"n_boot must be at least 2 (got {n_boot})")
    if estimator == "callaway_santanna":
        (num, psi_num), (den, psi_den) = _cs_atts(staggered(cohorts))
    else:
        (num, psi_num), (den, psi_den) = _bjs_atts(staggered(cohorts))
    if not den:
        raise NotIdentified(
            "the ATT on adds is exactly 0 (no adds move with adoption), so there is no yuan "
            "per quota-induced add to estimate"
        )
    theta = num / den
    signs = np.random.default_rng(seed).integers(0, 2, size=(n_boot, len(psi_num))) * 2 - 1
    boot = theta + signs @ ratio_influence(psi_num, psi_den, theta, den)
    low, high = np.quantile(boot, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return WaldDid(
        coef=theta,
        se=float(boot.std(ddof=1)),
        ci_low=float(low),
        ci_high=float(high),
        numerator_att=num,
        denominator_att=den,
        n_boot=n_boot,
        estimator=estimator,
    )


def _cs_atts(data: Staggered) -> tuple[tuple[float, np.ndarray], ...]:
    """The overall ATT on AUM change and on adds, each with its influence function summed
    per branch."""
    fits = (callaway.fit(data.callaway, data.outcome(o)) for o in ("aum_change_cny", "wecom_adds"))
    return tuple((float(cs.att), cs.att_psi) for cs in fits)


def _bjs_atts(data: Staggered) -> tuple[tuple[float, np.ndarray], ...]:
    """The overall ATT on AUM change and on adds, each with its Theorem-3 influence function
    summed per branch."""
    model = data.imputation
    every = np.zeros(len(model.treated), dtype=np.int64)
    weights = np.full(len(every), 1 / len(every))
    atts = []
    for outcome in ("aum_change_cny", "wecom_adds"):
        tau, resid = model.effects(data.outcome(outcome))
        atts.append((float(tau.mean()), model.psi(every, weights, tau, resid)[:, 0]))
    return tuple(atts)
