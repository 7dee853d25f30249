"""The instrumented weighted average of slopes (IV-WAS) beside FE-2SLS (docs/methods.md,
"Heterogeneous effects: IV-WAS").

de Chaisemartin, D'Haultfœuille, Pasquier, Sow and Vazquez-Bare (2024), "Difference-in-
differences for continuous treatments and instruments with stayers". Adds are a continuous
dose and the quota in force is the instrument. For each pair of consecutive months of an RM,
the first differences of the outcome (the monthly AUM change, yuan), of adds and of the
instrument are taken; **switchers** are the RM-month pairs whose quota switched on (or off),
**stayers** those whose quota did not change. With ``m_Y(t, z)`` and ``m_D(t, z)`` the
stayers' mean change of outcome and adds in month ``t`` among RMs with the same quota status
``z`` the month before (exact matching; with a binary instrument this is what the authors'
package computes with its default polynomial order 1):

    IV-WAS = Σ sgn(ΔZ)·(ΔY − m_Y) ÷ Σ sgn(ΔZ)·(ΔD − m_D)   (sums over switchers),

a ratio of reduced form to first stage, each a difference in differences of switchers against
stayers with the same baseline. Unlike FE-2SLS it weights each switcher by its own first stage
and never uses an already-switched RM as a control, so with heterogeneous effects the two can
differ: :func:`iv_was` reports the difference and its test.

Inference: influence functions (the stayers' means estimated, so each stayer carries its share
of the switchers' weight) summed per branch, G/(G−1), intervals on t(G−1) as every wb
interval. The difference with FE-2SLS is tested on the two estimators' influence functions
summed per branch together (their covariance counted). Switchers whose month and baseline have
no stayer cannot be matched and are left out (``unmatched``). Money in yuan of monthly AUM
change per WeCom add.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from wb.door.display import Shown, records
from wb.errors import NotIdentified
from wb.stats.cluster import cluster_sums, influence_vcov, ratio_influence, t_interval, t_pvalue
from wb.uplift.demeaned import Demeaned
from wb.uplift.sample import Sample

#: Fewest switching RM-month pairs (quota on or off) for an IV-WAS.
MIN_SWITCHERS = 10


@dataclass(frozen=True)
class IvWas(Shown):
    """IV-WAS and its difference with FE-2SLS; yuan of monthly AUM change per add.

    ``first_stage`` is adds per quota switch and ``reduced_form`` yuan of AUM change per quota
    switch (both averages over switchers, signed: a quota that stops counts with sign −1);
    ``fe_2sls`` is the contract's ``iv_quota``; ``difference`` = IV-WAS − FE-2SLS with its
    branch-clustered ``difference_se`` and ``difference_p`` (t on G − 1). ``switchers`` and
    ``stayers`` count RM-month pairs; ``unmatched`` switchers had no stayer to compare with."""

    coef: float
    se: float
    ci_low: float
    ci_high: float
    pvalue: float
    first_stage: float
    reduced_form: float
    fe_2sls: float
    difference: float
    difference_se: float
    difference_ci_low: float
    difference_ci_high: float
    difference_p: float
    switchers: int
    stayers: int
    unmatched: int
    n_clusters: int

    unit = "yuan of monthly AUM change per WeCom add"

    def tidy(self) -> pd.DataFrame:
        """Two rows, ``iv_was`` and ``iv_was_minus_fe_2sls``: ``coef``, ``se``, ``ci_low``,
        ``ci_high``, ``pvalue`` (yuan per add)."""
        return pd.DataFrame(
            [
                {
                    "estimate": "iv_was",
                    "coef": self.coef,
                    "se": self.se,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "pvalue": self.pvalue,
                },
                {
                    "estimate": "iv_was_minus_fe_2sls",
                    "coef": self.difference,
                    "se": self.difference_se,
                    "ci_low": self.difference_ci_low,
                    "ci_high": self.difference_ci_high,
                    "pvalue": self.difference_p,
                },
            ]
        )

    def summary(self) -> str:
        return (
            f"IV-WAS (switchers vs stayers): {self.coef:+,.0f} yuan per add "
            f"[{self.ci_low:+,.0f}, {self.ci_high:+,.0f}]; FE-2SLS {self.fe_2sls:+,.0f}\n"
            f"IV-WAS − FE-2SLS = {self.difference:+,.0f} yuan per add "
            f"[{self.difference_ci_low:+,.0f}, {self.difference_ci_high:+,.0f}], "
            f"p = {self.difference_p:.3f} (branch-clustered, {self.n_clusters} branches).\n"
            f"First stage {self.first_stage:+,.2f} adds and reduced form "
            f"{self.reduced_form:+,.0f} yuan per quota switch; {self.switchers:,} switching and "
            f"{self.stayers:,} staying RM-month pairs"
            + (
                f", {self.unmatched:,} switchers without a stayer left out."
                if self.unmatched
                else "."
            )
        )

    def view(self) -> pd.DataFrame:
        return self.tidy().rename(
            columns={c: f"{c} (yuan per add)" for c in ("coef", "se", "ci_low", "ci_high")}
        )

    def to_json(self) -> dict:
        """``uplift.json``'s ``iv_was``: the estimate, the difference with FE-2SLS, the first
        stage and reduced form per switch and the counts."""
        return {**records(pd.DataFrame([asdict(self)]))[0], "unit": self.unit}


def _pairs(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``i`` (and ``i − 1``) of the sample that form a pair of consecutive calendar months
    of one RM: the later row's positions and the earlier ones'."""
    later = (
        np.flatnonzero((sample.rm[1:] == sample.rm[:-1]) & (np.diff(sample.calendar_month) == 1))
        + 1
    )
    return later, later - 1


def iv_was(sample: Sample, d: Demeaned) -> IvWas:
    """IV-WAS of the monthly AUM change on adds, instrumented by the quota in force, on
    ``sample``; ``d`` (``sample.demeaned``) gives FE-2SLS (the contract's ``iv_quota``) and
    its influence functions for the test of the difference.

    Raises :class:`~wb.errors.NotIdentified` with fewer than :data:`MIN_SWITCHERS` matched
    switching pairs, no stayer, or a first stage of 0."""
    zx = float(d.z @ d.x)
    if zx == 0.0:
        raise NotIdentified("IV-WAS: the quota does not move adds (FE-2SLS has no first stage)")
    fe_2sls = float(d.z @ d.y) / zx
    later, earlier = _pairs(sample)
    dy = sample.y[later] - sample.y[earlier]
    dd = sample.adds[later] - sample.adds[earlier]
    z0 = sample.quota_on[earlier]
    sign = np.sign(sample.quota_on[later] - z0)
    # cells: calendar month × quota status the month before
    month = sample.calendar_month[later]
    cell = (month - (month.min() if month.size else 0)) * 2 + z0.astype(np.int64)
    n_cells = int(cell.max()) + 1 if cell.size else 0
    stay = sign == 0
    n_stay = np.bincount(cell[stay], minlength=n_cells)
    matched = ~stay & (n_stay[cell] > 0)
    unmatched = int((~stay & ~matched).sum())
    if matched.sum() < MIN_SWITCHERS or not stay.any():
        raise NotIdentified(
            f"IV-WAS needs at least {MIN_SWITCHERS} RM-month pairs whose quota switched with "
            f"RMs whose quota did not in the same month (found {int(matched.sum())})"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        m_y = np.bincount(cell[stay], weights=dy[stay], minlength=n_cells) / n_stay
        m_d = np.bincount(cell[stay], weights=dd[stay], minlength=n_cells) / n_stay
    # weight of each pair: the switcher's sign; a stayer carries minus its cell's switchers'
    # signed count over its stayers (the estimated stayers' means, in the influence function)
    s = np.where(matched, sign, 0.0)
    pull = np.bincount(cell, weights=s, minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(stay, -pull[cell] / np.maximum(n_stay[cell], 1), s)
    ry, rd = dy - m_y[cell], dd - m_d[cell]
    used = matched | stay
    ry, rd, w = np.where(used, ry, 0.0), np.where(used, rd, 0.0), np.where(used, w, 0.0)
    numerator, denominator = float(s @ ry), float(s @ rd)
    if denominator == 0.0:
        raise NotIdentified("IV-WAS: the quota switches do not move adds (a first stage of 0)")
    coef = numerator / denominator
    psi_was = ratio_influence(w * ry, w * rd, coef, denominator)

    g = d.n_clusters
    cluster = sample.cluster[later]
    # FE-2SLS, the ratio z̃'ỹ / z̃'x̃: ψ = z̃ (ỹ − β x̃) / z̃'x̃ on the sample's rows
    psi_2sls = ratio_influence(d.z * d.y, d.z * d.x, fe_2sls, zx)
    sums = np.column_stack(
        [
            cluster_sums(psi_was[:, None], cluster, g)[:, 0],
            cluster_sums(psi_2sls[:, None], sample.cluster, g)[:, 0],
        ]
    )
    vcov = influence_vcov(sums, g)
    se = math.sqrt(vcov[0, 0])
    diff = coef - fe_2sls
    diff_se = math.sqrt(max(vcov[0, 0] + vcov[1, 1] - 2 * vcov[0, 1], 0.0))
    (low, dlow), (high, dhigh) = t_interval(np.array([coef, diff]), np.array([se, diff_se]), g)
    n_switch = int(matched.sum())
    return IvWas(
        coef=coef,
        se=se,
        ci_low=float(low),
        ci_high=float(high),
        pvalue=t_pvalue(coef / se, g) if se > 0 else float("nan"),
        first_stage=denominator / n_switch,
        reduced_form=numerator / n_switch,
        fe_2sls=fe_2sls,
        difference=diff,
        difference_se=diff_se,
        difference_ci_low=float(dlow),
        difference_ci_high=float(dhigh),
        difference_p=t_pvalue(diff / diff_se, g) if diff_se > 0 else float("nan"),
        switchers=n_switch,
        stayers=int(stay.sum()),
        unmatched=unmatched,
        n_clusters=g,
    )
