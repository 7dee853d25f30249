"""Every design beyond the contract's three numbers, in one call (docs/methods.md).

:func:`estimate_designs` runs, on the validated ``rm_month`` frame and its estimation sample:

* ``event_study`` (:mod:`wb.uplift.event_study`): Callaway–Sant'Anna and BJS imputation event
  studies of AUM change, adds and certified adds around each RM's first quota month, with
  pre-trend tests;
* ``wald_did`` (:mod:`wb.uplift.wald_did`): robust ATT on AUM change ÷ robust ATT on adds,
  branch bootstrap;
* ``bunching`` (:mod:`wb.uplift.bunching`): excess mass at each RM's target, manufactured adds;
* ``iv_was`` (:mod:`wb.uplift.was`): the instrumented weighted average of slopes beside
  FE-2SLS, with the test of their difference; ``dynamic_effects`` (:mod:`wb.uplift.dynamic`):
  DID_ℓ of quota-target changes (on, changed, stopped) by months since the first change;
* ``honest_did`` (:mod:`wb.uplift.sensitivity`): how much the pre-trends could matter,
  Rambachan–Roth bounds and pre-trend power on the CS event study of AUM change;
* ``by_certification``, ``outcomes`` (:mod:`wb.uplift.outcomes`; with the WeCom coverage rate,
  :mod:`wb.uplift.coverage`), ``robustness`` (:mod:`wb.uplift.checks`), on the sample's fixed
  effects demeaned once (:attr:`wb.uplift.sample.Sample.demeaned`).

A design the data cannot support raises :class:`~wb.errors.NotIdentified` (or meets a singular
system); it is left out with a note saying why, and the others still run. Per-design wall
times are kept for ``wb uplift`` to report, never written into ``uplift.json`` (which stays the
same for the same input).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd

from wb.door.display import Shown, intervals
from wb.door.workers import run_all
from wb.errors import NoNeverTreated, NotIdentified
from wb.uplift import checks, coverage, dynamic, event_study, outcomes, sensitivity, was
from wb.uplift.bunching import Bunching, bunching
from wb.uplift.demeaned import Demeaned
from wb.uplift.result import OUTCOME
from wb.uplift.sample import Sample
from wb.uplift.wald_did import WaldDid, wald_did

#: Event-study outcomes, in figure order.
EVENT_OUTCOMES = tuple(event_study.OUTCOMES)
#: The designs for heterogeneous and dynamic effects (:func:`_heterogeneous`).
HETEROGENEOUS = ("iv_was", "dynamic_effects")
#: The order of the designs' notes and timings, whichever worker ran what.
_ORDER = (
    *event_study.ESTIMATORS,
    "honest_did",
    "bunching",
    "by_certification",
    "outcomes",
    "robustness",
    *HETEROGENEOUS,
)
_T = TypeVar("_T")


@dataclass(frozen=True)
class Designs(Shown):
    """The designs' results; :meth:`to_json` gives the ``uplift.json`` keys, :meth:`tidy` one
    row per headline number. A design the data could not support is ``None`` (or absent from
    ``event_studies``) and :attr:`notes` says why."""

    event_studies: dict[str, dict[str, event_study.EventStudy]]
    wald_did: WaldDid | None
    bunching: Bunching | None
    certification: outcomes.Certification | None
    outcomes: outcomes.OutcomeFamily | None
    coverage: coverage.Coverage | None
    robustness: checks.Robustness | None
    notes: tuple[str, ...]
    timings_s: dict[str, float] = field(compare=False)
    iv_was: was.IvWas | None = None
    dynamic_effects: dynamic.DynamicEffects | None = None
    #: Sensitivity to pre-trends (Rambachan–Roth, pre-trend power), ``honest_did``.
    trend_sensitivity: sensitivity.TrendSensitivity | None = None

    def tidy(self) -> pd.DataFrame:
        """One row per headline number: ``design``, ``outcome``, ``estimator``, ``coef``,
        ``ci_low``, ``ci_high``, ``unit``, ``pvalue`` (of the number; NaN where a design has
        none) and, for event studies, ``pretrend_p`` (the joint pre-trend test)."""
        per_add = "yuan per add"
        rows = [
            _row("event_study", o, e, s.att, s.att_ci_low, s.att_ci_high, s.unit, pre=s.pretrend_p)
            for o, by in self.event_studies.items()
            for e, s in by.items()
        ]
        if (w := self.wald_did) is not None:
            rows.append(
                _row("wald_did", OUTCOME, w.estimator, w.coef, w.ci_low, w.ci_high, per_add)
            )
        if (b := self.bunching) is not None:
            rows += [
                _row(
                    "bunching", r.statistic, b.first_stage, r.estimate, r.ci_low, r.ci_high, r.unit
                )
                for r in b.tidy().itertuples()
            ]
        fixed = [
            *(
                ("by_certification", f"per {s.kind} add", s.per_add, s.per_add.pvalue)
                for s in (self.certification.splits if self.certification else ())
            ),
            *(
                ("outcomes", e.outcome, e.per_add, e.pvalue_holm)
                for e in (self.outcomes.effects if self.outcomes else ())
            ),
            *(
                ("robustness", c.name, c.estimate, c.estimate.pvalue)
                for c in (self.robustness.checks if self.robustness else ())
            ),
        ]
        rows += [
            _row(design, what, e.model, e.coef, e.ci_low, e.ci_high, per_add, p)
            for design, what, e, p in fixed
        ]
        rows += self._heterogeneous_rows()
        return pd.DataFrame(rows)

    def _heterogeneous_rows(self) -> list[dict[str, object]]:
        """IV-WAS (and its difference with FE-2SLS) and the dynamic effects, in :meth:`tidy`'s
        rows."""
        rows = []
        if (v := self.iv_was) is not None:
            rows += [
                _row("iv_was", OUTCOME, r.estimate, r.coef, r.ci_low, r.ci_high, v.unit, r.pvalue)
                for r in v.tidy().itertuples()
            ]
        if (dyn := self.dynamic_effects) is not None:
            rows += [
                _row(
                    "dynamic_effects",
                    r.outcome,
                    f"did_multiplegt_dyn {r.kind} {r.horizon:+d}",
                    r.coef,
                    r.ci_low,
                    r.ci_high,
                    r.unit,
                    pre=dyn.pretrend_p[r.outcome],
                )
                for r in dyn.tidy().itertuples()
            ]
        return rows

    def summary(self) -> str:
        """A few plain lines on the designs: each number with its 95% interval and unit."""
        lines = ["Designs beyond the contract (95% intervals):"]
        for studies in self.event_studies.values():
            lines += [s.summary().splitlines()[0] for s in studies.values()]
        for result in (self.wald_did, self.bunching, self.iv_was, self.dynamic_effects):
            if result is not None:
                lines.append(result.summary().splitlines()[0])
        if self.trend_sensitivity is not None:
            lines.append(self.trend_sensitivity.summary().splitlines()[1])
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def view(self) -> pd.DataFrame:
        t = self.tidy()
        t["95% CI"] = intervals(t.pop("ci_low"), t.pop("ci_high"))
        return t[
            ["design", "outcome", "estimator", "coef", "95% CI", "unit", "pvalue", "pretrend_p"]
        ]

    def to_json(self) -> dict:
        """``event_study`` (per outcome: the CS study, BJS under ``alternatives``),
        ``wald_did``, ``honest_did``, ``bunching``, ``by_certification``, ``outcomes`` (with
        ``wecom_coverage``), ``robustness`` and ``design_notes``; designs that could not run
        are absent."""
        doc: dict = {}
        if self.event_studies:
            doc["event_study"] = {
                outcome: {
                    **studies["callaway_santanna"].to_json(),
                    "alternatives": [
                        s.to_json() for name, s in studies.items() if name != "callaway_santanna"
                    ],
                }
                for outcome, studies in self.event_studies.items()
                if "callaway_santanna" in studies
            }
        if self.wald_did is not None:
            doc["wald_did"] = self.wald_did.to_json()
        if self.trend_sensitivity is not None:
            doc["honest_did"] = self.trend_sensitivity.to_json()
        if self.bunching is not None:
            doc["bunching"] = self.bunching.to_json()
        if self.certification is not None:
            doc["by_certification"] = self.certification.to_json()
        if self.outcomes is not None:
            doc["outcomes"] = self.outcomes.to_json()
            if self.coverage is not None:
                doc["outcomes"]["wecom_coverage"] = self.coverage.to_json()
        if self.robustness is not None:
            doc["robustness"] = self.robustness.to_json()
        if self.iv_was is not None:
            doc["iv_was"] = self.iv_was.to_json()
        if self.dynamic_effects is not None:
            doc["dynamic_effects"] = self.dynamic_effects.to_json()
        doc["design_notes"] = list(self.notes)
        return doc


def _row(
    design: str,
    outcome: str,
    estimator: str,
    coef: float,
    ci_low: float,
    ci_high: float,
    unit: str,
    p: float = np.nan,
    pre: float = np.nan,
) -> dict[str, object]:
    """One row of :meth:`Designs.tidy`."""
    return {
        "design": design,
        "outcome": outcome,
        "estimator": estimator,
        "coef": coef,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "unit": unit,
        "pvalue": p,
        "pretrend_p": pre,
    }


class _Runner:
    """Runs each design, timing it; a design the data cannot support leaves a note."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.notes: list[str] = []

    def run(self, name: str, fn: Callable[[], _T], what: str | None = None) -> _T | None:
        start = time.perf_counter()
        try:
            return fn()
        except np.linalg.LinAlgError as exc:
            self.notes.append(
                f"{what or name} not estimated: the data cannot identify it (singular system: {exc})"
            )
        except NotIdentified as exc:
            self.notes.append(f"{what or name} not estimated: {exc}")
        finally:
            self.timings[name] = round(time.perf_counter() - start, 2)
        return None


def _bunching(frame: pd.DataFrame, seed: int, runner: _Runner) -> Bunching | None:
    """Difference-in-bunching; without never-treated RMs in every month, the pre/post first
    stage (no trend adjustment), with a note saying so."""
    try:
        return bunching(frame, seed=seed)
    except NoNeverTreated:
        runner.notes.append(
            "bunching: no never-treated RMs in every month, so manufactured adds compare "
            "each RM's quota months with its own pre-quota months (no trend adjustment)"
        )
    return runner.run(
        "bunching pre/post", lambda: bunching(frame, seed=seed, first_stage="pre_post"), "bunching"
    )


def _event_studies(
    cohorts: event_study.Staggered, estimator: str, runner: _Runner
) -> dict[str, event_study.EventStudy | None]:
    """Every outcome's event study by ``estimator`` (``None`` where the data could not
    support one, with ``runner``'s note saying why)."""
    return {
        outcome: runner.run(
            f"event_study {outcome} {estimator}",
            lambda o=outcome: event_study.event_study(cohorts, o, estimator),
            f"event study of {outcome} ({estimator})",
        )
        for outcome in EVENT_OUTCOMES
    }


def _imputation(
    cohorts: event_study.Staggered, seed: int, runner: _Runner
) -> tuple[dict[str, event_study.EventStudy | None], WaldDid | None]:
    """The BJS event studies and the Wald-DiD, which shares their untreated model."""
    studies = _event_studies(cohorts, "imputation", runner)
    wald = runner.run("wald_did", lambda: wald_did(cohorts, seed=seed), "Wald-DiD")
    return studies, wald


def _robustness(sample: Sample, d: Demeaned, runner: _Runner) -> checks.Robustness | None:
    checked = runner.run("robustness", lambda: checks.robustness(sample, d))
    if checked is None:
        return None
    robust, undefined = checked
    runner.notes += undefined
    return robust


def _piece(body: Callable[[_Runner], _T]) -> Callable[[], tuple[_T, list[str], dict]]:
    """``body`` as a piece of work for :func:`~wb.door.workers.run_all`: run with its own
    runner, it returns its value with that runner's notes and timings."""

    def piece() -> tuple[_T, list[str], dict]:
        runner = _Runner()
        return body(runner), runner.notes, runner.timings

    return piece


@dataclass(frozen=True)
class Plan:
    """The designs of one run as independent pieces of work (:attr:`pieces`, for
    :func:`wb.door.workers.run_all`, longest first) and what :meth:`collect` needs to turn
    their results into :class:`Designs`: the validated frame (for the coverage rate) and the
    notes and timings of the shared structures built before the pieces."""

    pieces: dict[str, Callable[[], tuple]]
    frame: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...]
    timings_s: dict[str, float]

    def collect(self, done: dict[str, tuple]) -> Designs:
        """:class:`Designs` from the pieces' results (``run_all(plan.pieces)``; extra keys are
        ignored), notes and timings in the documented order whichever worker ran what."""
        notes, timings, values = list(self.notes), dict(self.timings_s), {}
        for name in _ORDER:
            if name in done:
                values[name], piece_notes, piece_timings = done[name]
                notes += piece_notes
                timings.update(piece_timings)
        cs = values.get("callaway_santanna", {})
        imputed, wald = values.get("imputation", ({}, None))
        studies = {
            outcome: {
                est: found[outcome]
                for est, found in (("callaway_santanna", cs), ("imputation", imputed))
                if found.get(outcome) is not None
            }
            for outcome in EVENT_OUTCOMES
        }
        return Designs(
            {outcome: by for outcome, by in studies.items() if by},
            wald,
            values.get("bunching"),
            values.get("by_certification"),
            values.get("outcomes"),
            coverage.wecom_coverage(self.frame),
            values.get("robustness"),
            tuple(notes),
            timings,
            *(values.get(name) for name in HETEROGENEOUS),
            values.get("honest_did"),
        )


def plan_designs(frame: pd.DataFrame, sample: Sample, *, seed: int = 1) -> Plan:
    """Every design on ``frame`` (validated ``rm_month``) and ``sample``
    (``wb.uplift.sample.prepare(frame)``) as pieces of work; ``seed`` drives the
    bootstraps. Builds first what the pieces share (the event studies' cohorts and
    ``sample.demeaned``), so a forked worker inherits them instead of building them again."""
    runner = _Runner()
    cohorts = runner.run(  # built once; each estimator's structures are shared by its studies
        "cohorts",
        lambda: event_study.Staggered(event_study.cohort_frame(sample)),
        "event study and Wald-DiD",
    )
    d = runner.run("certified split, outcomes and robustness", lambda: sample.demeaned)
    # Longest first, so the workers finish together (at 3.5M RM-months, one core: robustness
    # ~4 s, BJS studies and Wald-DiD ~3 s, bunching ~1.5 s, the others ~1 s each).
    pieces: dict[str, Callable[[], tuple]] = {}
    if d is not None:
        pieces["robustness"] = _piece(lambda r: _robustness(sample, d, r))
    if cohorts is not None:
        pieces["imputation"] = _piece(lambda r: _imputation(cohorts, seed, r))
    pieces["bunching"] = _piece(lambda r: r.run("bunching", lambda: _bunching(frame, seed, r)))
    if d is not None:
        pieces["outcomes"] = _piece(
            lambda r: r.run(
                "outcomes", lambda: outcomes.outcome_family(sample, d), "outcome family"
            )
        )
    if cohorts is not None:
        pieces["callaway_santanna"] = _piece(
            lambda r: _event_studies(cohorts, "callaway_santanna", r)
        )
        pieces["honest_did"] = _piece(
            lambda r: r.run(
                "honest_did",
                lambda: sensitivity.trend_sensitivity(cohorts),
                "sensitivity to pre-trends",
            )
        )
    if d is not None:
        pieces["by_certification"] = _piece(
            lambda r: r.run(
                "by_certification", lambda: outcomes.by_certification(sample, d), "certified split"
            )
        )
    pieces |= _heterogeneous(sample, d)
    return Plan(pieces, frame, tuple(runner.notes), runner.timings)


def _heterogeneous(sample: Sample, d: Demeaned | None) -> dict[str, Callable[[], tuple]]:
    """IV-WAS beside FE-2SLS (which it needs: ``d``) and the dynamic effects of quota-target
    changes, as pieces of work (each well under a second at 3.5M RM-months)."""
    pieces: dict[str, Callable[[], tuple]] = {}
    if d is not None:
        pieces["iv_was"] = _piece(
            lambda r: r.run("iv_was", lambda: was.iv_was(sample, d), "IV-WAS")
        )
    pieces["dynamic_effects"] = _piece(
        lambda r: r.run(
            "dynamic_effects",
            lambda: dynamic.dynamic_effects(sample),
            "dynamic effects of quota changes",
        )
    )
    return pieces


def estimate_designs(
    frame: pd.DataFrame, sample: Sample, *, seed: int = 1, workers: int | None = None
) -> Designs:
    """Run every design (:func:`plan_designs`) and collect the results.

    A design the data cannot support is left out with a note saying why; the others still
    run. The fixed-effects checks reuse ``sample.demeaned`` (demeaned once per run). The
    designs run side by side in ``workers`` processes (default: one per usable core;
    :func:`wb.door.workers.run_all`); the result is the same for any number of workers."""
    plan = plan_designs(frame, sample, seed=seed)
    return plan.collect(run_all(plan.pieces, workers))
