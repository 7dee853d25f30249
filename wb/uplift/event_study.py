"""Staggered quota adoption: the cohort sample and the event studies (docs/methods.md).

Both estimators are computed in house (:mod:`wb.uplift.callaway`, :mod:`wb.uplift.imputation`)
and tested equal to diff-diff (pinned ==3.13.0), which the tests keep as the second
implementation. ``designs = {o: {e: event_study(panel, o, e)
for e in ESTIMATORS} for o in OUTCOMES}`` gives every event study;
:func:`wb.uplift.wald_did.wald_did` the ratio of two of their ATTs.

**Sample** (:func:`cohort_frame`). One row per RM-month of :class:`wb.uplift.sample.Sample` (months
with an observable AUM change). An RM's cohort is its first usable month with a quota in
force. Adoption is treated as **absorbing**: a few RMs move branch and their quota switches
off or on, but once an RM has had a quota every later month counts as treated (an
intention-to-treat reading). RMs whose first usable month already has a quota (they joined a
branch under quota) have no pre-adoption month; neither estimator can use them and they are
dropped. For the few RMs with a one-month gap at adoption (the month after a gap has no
observable change), the cohort is the first month after the gap.

**Estimators** (:func:`event_study`), both with standard errors clustered by branch (the RM's
home branch, :attr:`Sample.cluster`):

* ``callaway_santanna``: Callaway–Sant'Anna with not-yet-treated controls (which include the
  never-treated) and outcome regression without covariates (a difference in mean changes),
  ATT(g,t) aggregated to event time with cohort-size weights. Base period "varying" (R
  ``did``'s default): a pre-period coefficient at event time e < 0 compares e with e − 1 (a
  one-month change), so every pre-period coefficient, including −1, is estimated. On the
  unbalanced panel each ATT(g,t) uses the RMs observed at both t and the base month
  (within-cell differencing). Intervals: t(G − 1). Computed **in house**
  (:mod:`wb.uplift.callaway`) and tested equal to diff-diff's ``CallawaySantAnna(
  control_group="not_yet_treated", estimation_method="reg", cluster=...)`` (point estimates to
  1e-8, standard errors and the event-study covariance to 1e-6). At 100,000 RMs × 36 months
  diff-diff needs ~33 s for the three outcomes (its per-(g,t) cluster standard errors run
  through its survey code); the in-house route ~2.5 s: one pass over the (month, base month)
  pairs with per-branch sums, no loop over RMs.
* ``imputation``: Borusyak–Jaravel–Spiess (2024) imputation, computed **in house**
  (:mod:`wb.uplift.imputation`) and tested equal to diff-diff's ``ImputationDiD(cluster=..., horizon_max=window,
  pretrends=True)`` (point estimates to 1e-8, standard errors to 1e-6). At 100,000 RMs × 36
  months diff-diff needs 61 s and 3.0 GB per outcome (fit 7 s, event-study aggregation 37 s,
  pre-trend test 17 s; ``benchmarks/bench_did.py --reference``): 183 s for the three
  outcomes, over the whole 100 s budget. The in-house route takes 4 s and 1.8 GB: it solves
  the untreated two-way fixed-effects model exactly (RM effects eliminated, a months ×
  months system solved directly) and gets every horizon's imputation weights from one
  solve. Post-period points are the mean imputed effect at each horizon with the
  conservative Theorem-3 variance (auxiliary partition cohort × horizon); pre-period points
  are BJS Test 1 lead coefficients (untreated RM-months regressed on RM and month effects
  plus lead dummies −window…−2, reference −1 = 0), CR1 cluster-robust as in diff-diff. Intervals: normal (diff-diff: normal after adoption, t
  with the lead regression's residual degrees of freedom, about n, before).

**Pre-trend test.** A joint Wald test of the pre-period coefficients in the window with their
full cluster-robust covariance (CS: the event-study covariance of the influence functions; BJS: the lead
regression's). The statistic W = γ'V⁻¹γ over q coefficients is referred to F(q, G − 1) as W/q
(diff-diff's ``ImputationDiD.pretrend_test`` does the same); with G clusters this is
slightly more conservative than χ²(q), which over-rejects when q is not small relative to G.

Money is yuan of monthly AUM change; adds are WeCom adds per RM-month.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from wb.door.display import Shown, finite, records
from wb.errors import InputError, NotIdentified
from wb.stats.cluster import joint_wald, z_quantile
from wb.uplift import callaway
from wb.uplift.imputation import Imputation
from wb.uplift.sample import Sample

#: Outcome column → :class:`Sample` field.
OUTCOMES = {
    "aum_change_cny": "y",
    "wecom_adds": "adds",
    "wecom_certified_adds": "certified",
}
ESTIMATORS = ("callaway_santanna", "imputation")
WINDOW = 12

ESTIMATOR_LABELS = {
    "callaway_santanna": "Callaway–Sant'Anna",
    "imputation": "BJS imputation",
}
#: Each outcome's unit, as every rendering names it.
UNITS = {
    "aum_change_cny": "yuan per RM-month",
    "wecom_adds": "adds per RM-month",
    "wecom_certified_adds": "certified adds per RM-month",
}
CONTROL_GROUP = {
    "callaway_santanna": "not_yet_treated",
    "imputation": "all_untreated_rm_months",
}


# --------------------------------------------------------------------------- sample


def cohort_frame(sample: Sample) -> pd.DataFrame:
    """Long frame for staggered DiD: one row per usable RM-month.

    Columns: ``unit`` (RM code), ``time`` (month code + 1, so 1, 2, …), ``cluster`` (home
    branch code), the outcomes ``aum_change_cny`` (yuan), ``wecom_adds`` and
    ``wecom_certified_adds`` (per RM-month), and ``first_treat``: the ``time`` of the RM's
    first month with a quota in force, 0 if never (diff-diff's and csdid's coding).
    Adoption is absorbing; RMs with no usable month before adoption are dropped.
    Raises :class:`InputError` without adopting RMs or without never-treated RMs.
    """
    time = sample.month_code.astype(np.int64) + 1
    no_quota = np.iinfo(np.int64).max
    by_rm = pd.DataFrame(
        {"rm": sample.rm, "time": time, "quota_time": np.where(sample.quota_on > 0, time, no_quota)}
    )
    per_rm = by_rm.groupby("rm").agg(start=("time", "min"), first=("quota_time", "min"))
    first = np.where(per_rm["first"] == no_quota, 0, per_rm["first"])
    keep_rm = (first == 0) | (first > per_rm["start"].to_numpy())
    keep = keep_rm[sample.rm]
    frame = pd.DataFrame(
        {
            "unit": sample.rm[keep],
            "time": time[keep],
            "cluster": sample.cluster[keep],
            **{name: getattr(sample, field)[keep] for name, field in OUTCOMES.items()},
            "first_treat": first[sample.rm][keep],
        }
    )
    if frame.empty or not (frame["first_treat"] > 0).any():
        raise NotIdentified("no RM adopts a quota after a usable month: no staggered design")
    treated = (frame["first_treat"] > 0) & (frame["time"] >= frame["first_treat"])
    with_controls = frame.loc[~treated, "time"].unique()
    if not frame.loc[treated, "time"].isin(with_controls).any():
        raise NotIdentified(
            "no month has both RMs under a quota and RMs without one: the event study needs "
            "untreated RMs (never or not yet under a quota) in the months after adoption"
        )
    return frame


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EventPoint:
    """One event-study coefficient, in the outcome's unit (yuan or adds per RM-month).

    ``event_time`` is months since the RM's first quota month (0 = that month). A reference
    point (BJS at −1) has ``coef`` 0 and NaN ``se``/interval.
    """

    event_time: int
    coef: float
    se: float
    ci_low: float
    ci_high: float


_POINT_COLUMNS = ["event_time", "coef", "se", "ci_low", "ci_high"]


@dataclass(frozen=True)
class EventStudy(Shown):
    """Event study of one outcome by one estimator, with the overall post-adoption ATT.

    ``att`` averages every post-adoption RM-month (CS: cohort-size weighted ATT(g,t); BJS:
    every treated RM-month equally), not only the plotted window. ``pretrend_p`` is the
    joint pre-trend test's p-value over ``pretrend_df`` coefficients (module docstring).
    Money in yuan of monthly AUM change; adds per RM-month; 95% intervals.
    """

    outcome: str
    estimator: str
    points: tuple[EventPoint, ...]
    att: float
    att_se: float
    att_ci_low: float
    att_ci_high: float
    pretrend_p: float
    pretrend_df: int
    n_units: int
    n_cohorts: int
    control_group: str

    @property
    def unit(self) -> str:
        return UNITS[self.outcome]

    def point(self, event_time: int) -> EventPoint | None:
        return next((p for p in self.points if p.event_time == event_time), None)

    def tidy(self) -> pd.DataFrame:
        """One row per event time: ``event_time`` (months since the first quota month),
        ``coef``, ``se``, ``ci_low``, ``ci_high`` in :attr:`unit`."""
        return pd.DataFrame([dataclasses.astuple(p) for p in self.points], columns=_POINT_COLUMNS)

    def summary(self) -> str:
        return (
            f"Event study of {self.outcome} ({ESTIMATOR_LABELS[self.estimator]}): ATT "
            f"{self.att:+,.1f} [{self.att_ci_low:+,.1f}, {self.att_ci_high:+,.1f}] {self.unit}, "
            f"pre-trend p = {self.pretrend_p:.2f} ({self.pretrend_df} leads)\n"
            f"{self.n_units:,} RMs in {self.n_cohorts} adoption cohorts; controls: "
            f"{self.control_group.replace('_', ' ')}; 95% intervals, clustered by branch."
        )

    def view(self) -> pd.DataFrame:
        return self.tidy().rename(
            columns={c: f"{c} ({self.unit})" for c in ("coef", "se", "ci_low", "ci_high")}
            | {"event_time": "months since first quota month"}
        )

    def to_json(self) -> dict:
        """A JSON-safe dict (NaN → None); ``points`` are the rows of :meth:`tidy`."""
        return {
            "outcome": self.outcome,
            "estimator": self.estimator,
            "control_group": self.control_group,
            "points": records(self.tidy()),
            **finite(
                att=self.att,
                att_se=self.att_se,
                att_ci_low=self.att_ci_low,
                att_ci_high=self.att_ci_high,
                pretrend_p=self.pretrend_p,
            ),
            "pretrend_df": self.pretrend_df,
            "n_units": self.n_units,
            "n_cohorts": self.n_cohorts,
        }


# --------------------------------------------------------------------------- entry points


@dataclass(frozen=True, eq=False)
class Staggered:
    """A cohort frame (:func:`cohort_frame`) with what each estimator builds from it (the BJS
    untreated model, the Callaway–Sant'Anna cell index), built on first use and shared by
    every event study and the Wald-DiD of a run."""

    frame: pd.DataFrame = field(repr=False)

    @cached_property
    def imputation(self) -> Imputation:
        return Imputation.build(self.frame)

    @cached_property
    def callaway(self) -> callaway.Cohorts:
        return callaway.Cohorts.build(self.frame)

    def outcome(self, name: str) -> np.ndarray:
        """One outcome per frame row, as floats (yuan or adds per RM-month)."""
        return self.frame[name].to_numpy(dtype=float)

    @cached_property
    def n_units(self) -> int:
        """RMs in the staggered design."""
        return int(self.frame["unit"].nunique())

    @cached_property
    def n_cohorts(self) -> int:
        """Adoption cohorts (first quota months) among them."""
        f = self.frame
        return int(f.loc[f["first_treat"] > 0, "first_treat"].nunique())


def staggered(cohorts: pd.DataFrame | Staggered) -> Staggered:
    """``cohorts`` as a :class:`Staggered` (a cohort frame is wrapped; a Staggered is kept, with
    what its estimators built)."""
    return cohorts if isinstance(cohorts, Staggered) else Staggered(cohorts)


def event_study(
    cohorts: pd.DataFrame | Staggered, outcome: str, estimator: str, window: int = WINDOW
) -> EventStudy:
    """Event study of ``outcome`` (a key of :data:`OUTCOMES`) at event times −window…+window
    (as far as the data reaches) by ``estimator`` (one of :data:`ESTIMATORS`), on
    ``cohorts = cohort_frame(sample)``; pass it as :class:`Staggered` to share the
    estimators' structures between studies."""
    check_choice(outcome, estimator)
    if estimator == "callaway_santanna":
        return _cs_event_study(staggered(cohorts), outcome, window)
    return _bjs_event_study(staggered(cohorts), outcome, window)


def check_choice(outcome: str, estimator: str) -> None:
    """:class:`~wb.errors.InputError` unless ``outcome`` is one of :data:`OUTCOMES` and
    ``estimator`` one of :data:`ESTIMATORS`."""
    if outcome not in OUTCOMES:
        raise InputError(f"unknown outcome {outcome!r}; expected one of {list(OUTCOMES)}")
    if estimator not in ESTIMATORS:
        raise InputError(f"unknown estimator {estimator!r}; expected one of {ESTIMATORS}")


def _pretrend(coefs: np.ndarray, vcov: np.ndarray, n_clusters: int) -> tuple[float, int]:
    """Joint Wald test that the pre-period coefficients are zero
    (:func:`wb.stats.cluster.joint_wald`): its p-value and degrees of freedom r."""
    test = joint_wald(coefs, vcov, n_clusters)
    return test.p_value, test.df_num


# --------------------------------------------------------------------------- Callaway–Sant'Anna


def _cs_event_study(data: Staggered, outcome: str, window: int) -> EventStudy:
    cs = callaway.fit(data.callaway, data.outcome(outcome))
    shown = np.abs(cs.event_times) <= window
    points = tuple(
        EventPoint(int(e), float(c), float(s), float(lo), float(hi))
        for e, c, s, lo, hi in zip(
            cs.event_times[shown],
            cs.coef[shown],
            cs.se[shown],
            cs.ci_low[shown],
            cs.ci_high[shown],
            strict=True,
        )
    )
    pre = np.flatnonzero(shown & (cs.event_times < 0) & np.isfinite(cs.se))
    p, q = _pretrend(cs.coef[pre], cs.vcov[np.ix_(pre, pre)], cs.n_clusters)
    return EventStudy(
        outcome=outcome,
        estimator="callaway_santanna",
        points=points,
        att=cs.att,
        att_se=cs.att_se,
        att_ci_low=cs.att_ci_low,
        att_ci_high=cs.att_ci_high,
        pretrend_p=p,
        pretrend_df=q,
        n_units=data.n_units,
        n_cohorts=data.n_cohorts,
        control_group=CONTROL_GROUP["callaway_santanna"],
    )


# --------------------------------------------------------------------------- BJS imputation


def _normal_ci(coef: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = z_quantile()
    return coef - q * se, coef + q * se


def _points(times: np.ndarray, coef: np.ndarray, se: np.ndarray) -> list[EventPoint]:
    low, high = _normal_ci(coef, se)
    return [
        EventPoint(int(e), float(c), float(s), float(lo), float(hi))
        for e, c, s, lo, hi in zip(times, coef, se, low, high, strict=True)
    ]


def _bjs_event_study(data: Staggered, outcome: str, window: int) -> EventStudy:
    model = data.imputation
    y = data.outcome(outcome)
    tau, resid = model.effects(y)
    lead_times, lead_coef, lead_vcov = model.leads(y, window)
    horizons, codes, weights = model.horizons(window)
    psi = model.psi(codes, weights, tau, resid)
    every = np.zeros(len(tau), dtype=np.int64)
    overall = model.psi(every, np.full(len(tau), 1 / len(tau)), tau, resid)[:, 0]
    att, att_se = float(tau.mean()), float(math.sqrt(overall @ overall))
    p, q = _pretrend(lead_coef, lead_vcov, model.n_clusters)
    return EventStudy(
        outcome=outcome,
        estimator="imputation",
        points=(
            *_points(lead_times, lead_coef, np.sqrt(np.diag(lead_vcov))),
            EventPoint(-1, 0.0, float("nan"), float("nan"), float("nan")),
            *_points(
                horizons,
                np.bincount(codes, weights * tau, len(horizons)),
                np.sqrt((psi**2).sum(axis=0)),
            ),
        ),
        att=att,
        att_se=att_se,
        att_ci_low=float(_normal_ci(att, att_se)[0]),
        att_ci_high=float(_normal_ci(att, att_se)[1]),
        pretrend_p=p,
        pretrend_df=q,
        n_units=data.n_units,
        n_cohorts=data.n_cohorts,
        control_group=CONTROL_GROUP["imputation"],
    )
