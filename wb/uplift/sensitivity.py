"""How much the pre-trends could matter: Rambachan–Roth bounds and pre-trend power on the
Callaway–Sant'Anna event study of AUM change (docs/methods.md, "Sensitivity to pre-trends").

:func:`trend_sensitivity` refits the CS event study with a **universal** base period (every
coefficient, before adoption too, compares with the month before adoption, event time −1 = 0):
the bounds need coefficients on one reference, which the event study's varying base (one-month
pre-period changes) does not give. On it, :mod:`wb.stats.honest` bounds the **equal-weight
average of the post-adoption effects at event times 0…window** (yuan of monthly AUM change
per RM-month) under

* relative magnitudes Δ^RM(M̄): a post-adoption month-to-month change in the trend gap at most
  M̄ times the largest pre-adoption one, on M̄ ∈ :data:`RM_GRID`;
* smoothness Δ^SD(M): the trend gap bends by at most M yuan per month per month, on a grid
  up to twice its breakdown value;

with each one's breakdown value (the smallest M̄ or M at which the 95% interval reaches 0).
The power (Roth 2022) is that of the event study's own joint pre-trend test (its varying-base
pre-period coefficients, F(q, G − 1)), over the months the bounds' pre-period spans (event
times −k−1…−1; at the full window exactly the test the event study reports), against a linear
trend gap of slope γ yuan per month (every one-month pre-period coefficient then equals γ);
reported as the slopes it would detect 50% and 80% of the time, what the 80% slope would add
to the average effect, and the power against the slope that would by itself produce the whole
estimate. With a singular covariance of those coefficients the power is not reported (NaN).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wb.door.display import Shown, finite, records
from wb.errors import NotIdentified
from wb.stats import honest
from wb.stats.cluster import RANK_TOL, joint_wald
from wb.uplift import callaway
from wb.uplift.event_study import UNITS, WINDOW, Staggered
from wb.uplift.verdict import trend_reading

OUTCOME = "aum_change_cny"
#: M̄ values of the relative-magnitude bounds (multiples of the largest pre-period change).
RM_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
#: Points of the smoothness grid, 0 to twice its breakdown value.
SD_POINTS = 9
#: Powers at which the detectable slope is reported.
POWERS = (0.5, 0.8)


@dataclass(frozen=True)
class TrendSensitivity(Shown):
    """Rambachan–Roth bounds and pre-trend power for the average post-adoption effect on AUM
    change (module docstring). Money in yuan of monthly AUM change per RM-month; slopes in
    yuan per month; smoothness M in yuan per month².

    ``estimate``/``se``: the equal-weight average of the universal-base coefficients at
    ``post_times``, its standard error. ``bounds``: one :class:`~wb.stats.honest.Bounds` per
    restriction and M. ``rm_breakdown``/``sd_breakdown``: the smallest M̄ / M whose 95%
    interval covers 0 (0: the ordinary interval already does; inf: none examined does).
    ``largest_pre_change``: the largest absolute one-month pre-period change of the
    universal-base path (Δ^RM's unit). ``slope_50``/``slope_80``: the linear trend slopes the
    pre-trend test detects 50% / 80% of the time; ``bias_at_80``: what a trend of slope
    ``slope_80`` adds to the average effect; ``power_explaining``: the test's power against the
    slope that alone would produce the whole estimate.
    """

    outcome: str
    pre_times: tuple[int, ...]
    post_times: tuple[int, ...]
    estimate: float
    se: float
    bounds: tuple[honest.Bounds, ...]
    rm_breakdown: float
    sd_breakdown: float
    largest_pre_change: float
    pretrend_p: float
    pretrend_df: int
    slope_50: float
    slope_80: float
    bias_at_80: float
    power_explaining: float
    n_clusters: int

    @property
    def unit(self) -> str:
        return UNITS[self.outcome]

    def tidy(self) -> pd.DataFrame:
        """One row per restriction and M: ``restriction``, ``m`` (M̄, a multiple, or M in yuan
        per month²), ``lb``/``ub`` (identified set) and ``ci_low``/``ci_high`` (95% robust
        interval), in :attr:`unit`."""
        return pd.DataFrame([dataclasses.asdict(b) for b in self.bounds])

    def summary(self) -> str:
        return "\n".join(
            [
                f"Sensitivity of the average post-adoption effect on {self.outcome} "
                f"({self.estimate:+,.0f} {self.unit}, event times {self.post_times[0]}…"
                f"{self.post_times[-1]}) to pre-trends (Rambachan–Roth, 95%)",
                trend_reading(self.to_json()),
                "Relative magnitudes: intervals widen the identified set by t(G − 1) SE, "
                "pre-period changes at their estimated size (diff-diff's interval; R "
                "HonestDiD's default also carries their sampling error). Smoothness: optimal "
                f"FLCI. {self.n_clusters} branches.",
            ]
        )

    def view(self) -> pd.DataFrame:
        return self.tidy().rename(
            columns={c: f"{c} ({self.unit})" for c in ("lb", "ub", "ci_low", "ci_high")}
        )

    def to_json(self) -> dict:
        """The numbers above, NaN and inf → None; ``bounds`` the rows of :meth:`tidy`."""
        return {
            "outcome": self.outcome,
            "target": "equal-weight average of the post-adoption event-study coefficients",
            "base_period": "universal",
            "pre_times": list(self.pre_times),
            "post_times": list(self.post_times),
            **finite(
                estimate=self.estimate,
                se=self.se,
                rm_breakdown=self.rm_breakdown,
                sd_breakdown=self.sd_breakdown,
                largest_pre_change=self.largest_pre_change,
                pretrend_p=self.pretrend_p,
                slope_50=self.slope_50,
                slope_80=self.slope_80,
                bias_at_80=self.bias_at_80,
                power_explaining=self.power_explaining,
            ),
            "pretrend_df": self.pretrend_df,
            "n_clusters": self.n_clusters,
            "bounds": records(self.tidy()),
        }


def _grid_coefs(cs: callaway.CsFit, window: int) -> honest.EventCoefs:
    """The universal-base coefficients the bounds use: the run of pre-period event times
    ending at −2 and of post-period ones starting at 0, each consecutive, within ``window``;
    the window shrinks until their branch-clustered covariance is non-singular (its rank is
    at most G − 1: with few branches, fewer event times)."""
    have = {int(e): j for j, e in enumerate(cs.event_times) if np.isfinite(cs.se[j])}
    for w in range(window, 0, -1):
        pre = [e for e in range(-2, -w - 1, -1) if all(x in have for x in range(e, -1))]
        post = [e for e in range(w + 1) if all(x in have for x in range(e + 1))]
        if not pre or not post:
            break
        rows = [have[e] for e in (*reversed(pre), *post)]
        vcov = cs.vcov[np.ix_(rows, rows)]
        vals = np.linalg.eigvalsh(vcov)
        if vals.min() > RANK_TOL * vals.max():
            k = len(pre)
            return honest.EventCoefs(
                pre=cs.coef[rows[:k]], post=cs.coef[rows[k:]], vcov=vcov, df=cs.n_clusters - 1
            )
    raise NotIdentified(
        "no universal-base event study with an estimated event time just before (−2) and at "
        "adoption (0) and a non-singular branch-clustered covariance: nothing to bound"
    )


def trend_sensitivity(
    data: Staggered, outcome: str = OUTCOME, window: int = WINDOW
) -> TrendSensitivity:
    """Rambachan–Roth bounds and pre-trend power for ``outcome`` (module docstring)."""
    universal = data.callaway.with_base("universal")
    y = data.outcome(outcome)
    c = _grid_coefs(callaway.fit(universal, y), window)
    rm_b = honest.rm_breakdown(c)
    sd_b = honest.sd_breakdown(c)
    sd_top = 2 * sd_b if 0 < sd_b < np.inf else honest.sd_scale(c)
    grid = [("relative_magnitudes", m) for m in RM_GRID] + [
        ("smoothness", float(m)) for m in np.linspace(0.0, sd_top, SD_POINTS)
    ]
    # the event study's pre-trend test (varying base: one-month changes) over the months the
    # bounds' pre-period spans, −k−1…−1: at the full window exactly the reported test
    cs = callaway.fit(data.callaway, y)
    span = (cs.event_times >= -1 - len(c.pre)) & (cs.event_times < 0) & np.isfinite(cs.se)
    pre = np.flatnonzero(span)
    vcov_pre, g = cs.vcov[np.ix_(pre, pre)], cs.n_clusters
    test = joint_wald(cs.coef[pre], vcov_pre, cs.n_clusters)
    steady = np.ones(len(pre))  # a slope-γ trend gap moves every one-month change by γ
    per_slope = float(c.l @ c.r_post)  # a slope-γ trend adds γ·Σ l_r·r to the average
    explaining = c.estimate / per_slope
    if test.df_num == len(pre):
        slopes = [honest.detectable_slope(steady, vcov_pre, p, g) for p in POWERS]
        power_explaining = honest.pretrend_power(steady, vcov_pre, explaining, g)
    else:  # a singular covariance: Roth's power is not defined (a pseudo-inverse inflates it)
        slopes, power_explaining = [float("nan")] * len(POWERS), float("nan")
    return TrendSensitivity(
        outcome=outcome,
        pre_times=tuple(range(-1 - len(c.pre), -1)),
        post_times=tuple(range(len(c.post))),
        estimate=c.estimate,
        se=c.se,
        bounds=tuple(honest.bounds(c, name, m) for name, m in grid),
        rm_breakdown=rm_b,
        sd_breakdown=sd_b,
        largest_pre_change=float(np.abs(np.diff(np.append(c.pre, 0.0))).max()),
        pretrend_p=test.p_value,
        pretrend_df=test.df_num,
        slope_50=slopes[0],
        slope_80=slopes[1],
        bias_at_80=slopes[1] * per_slope,
        power_explaining=power_explaining,
        n_clusters=cs.n_clusters,
    )
