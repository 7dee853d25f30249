"""Every design beyond the contract's three numbers, in one call (METHODS §2.1–§2.5).

:func:`estimate_designs` runs, on the validated ``rm_month`` frame and its estimation sample:

* ``event_study`` (:mod:`wb.uplift.event_study`): Callaway–Sant'Anna and BJS imputation event studies of AUM
  change, adds and certified adds around each RM's first quota month, with pre-trend tests;
* ``wald_did`` (:mod:`wb.uplift.event_study`): robust ATT on AUM change ÷ robust ATT on adds, branch bootstrap;
* ``bunching`` (:mod:`wb.uplift.bunching`): excess mass at each RM's target, manufactured adds;
* ``by_certification``, ``outcomes``, ``robustness`` (:mod:`wb.uplift.checks`).

A design the data cannot support (say, no RM ever without a quota) is left out with a note
saying why, and the others still run. Per-design wall times are kept for ``wb uplift`` to
report, never written into ``uplift.json`` (which stays the same for the same input).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wb.errors import InputError
from wb.uplift import checks, event_study
from wb.uplift.bunching import Bunching, bunching
from wb.uplift.estimation import Panel

#: Event-study outcomes, in figure order.
EVENT_OUTCOMES = tuple(event_study.OUTCOMES)


@dataclass(frozen=True)
class Designs:
    """The designs' results; :meth:`to_json` gives the ``uplift.json`` keys."""

    event_studies: dict[str, dict[str, event_study.EventStudy]]
    wald_did: event_study.WaldDid | None
    bunching: Bunching | None
    fixed_effects: dict[str, Any]
    notes: tuple[str, ...]
    timings_s: dict[str, float]

    def to_json(self) -> dict:
        """``event_study`` (per outcome: the CS study, BJS under ``alternatives``),
        ``wald_did``, ``bunching``, ``by_certification``, ``outcomes``, ``robustness`` and
        ``design_notes``; designs that could not run are absent."""
        doc: dict[str, Any] = {}
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
        if self.bunching is not None:
            doc["bunching"] = self.bunching.to_json()
        doc.update(self.fixed_effects)
        doc["design_notes"] = list(self.notes)
        return doc


def _timed(timings: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = round(time.perf_counter() - start, 2)


#: What a design raises when the data cannot support it: a stated reason (``InputError``) or a
#: singular system (too few clusters, cohorts or months for the design's parameters).
UNSUPPORTED = (InputError, np.linalg.LinAlgError)


def _reason(exc: Exception) -> str:
    if isinstance(exc, np.linalg.LinAlgError):
        return f"the data cannot identify it (singular system: {exc})"
    return str(exc)


def _bunching(frame: pd.DataFrame, seed: int, notes: list[str]) -> Bunching | None:
    try:
        return bunching(frame, seed=seed)
    except UNSUPPORTED as exc:
        if "never-treated" not in str(exc):
            notes.append(f"bunching not estimated: {_reason(exc)}")
            return None
    notes.append(
        "bunching: no never-treated RMs in every month, so manufactured adds compare "
        "each RM's quota months with its own pre-quota months (no trend adjustment)"
    )
    try:
        return bunching(frame, seed=seed, first_stage="pre_post")
    except UNSUPPORTED as exc:
        notes.append(f"bunching not estimated: {_reason(exc)}")
        return None


def estimate_designs(frame: pd.DataFrame, panel: Panel, *, seed: int = 1) -> Designs:
    """Run every design on ``frame`` (validated ``rm_month``) and ``panel``
    (``wb.uplift.estimation.prepare(frame)``); ``seed`` drives the bootstraps.

    A design the data cannot support (:data:`UNSUPPORTED`) is left out with a note saying
    why; the others still run."""
    timings: dict[str, float] = {}
    notes: list[str] = []
    studies: dict[str, dict[str, event_study.EventStudy]] = {}
    wald = None
    try:
        cohorts = event_study.cohort_frame(panel)
    except UNSUPPORTED as exc:
        notes.append(f"event study and Wald-DiD not estimated: {_reason(exc)}")
        cohorts = None
    if cohorts is not None:
        for outcome in EVENT_OUTCOMES:
            for est in event_study.ESTIMATORS:
                try:
                    studies.setdefault(outcome, {})[est] = _timed(
                        timings,
                        f"event_study {outcome} {est}",
                        lambda o=outcome, e=est: event_study.event_study(cohorts, o, e),
                    )
                except UNSUPPORTED as exc:
                    notes.append(f"event study of {outcome} ({est}) not estimated: {_reason(exc)}")
        try:
            wald = _timed(timings, "wald_did", lambda: event_study.wald_did(cohorts, seed=seed))
        except UNSUPPORTED as exc:
            notes.append(f"Wald-DiD not estimated: {_reason(exc)}")
    found = _timed(timings, "bunching", lambda: _bunching(frame, seed, notes))
    try:
        fixed, fixed_notes = _timed(
            timings,
            "certified split, outcomes, robustness",
            lambda: checks.fixed_effect_designs(frame, panel),
        )
        notes += fixed_notes
    except UNSUPPORTED as exc:
        notes.append(f"certified split, outcomes and robustness not estimated: {_reason(exc)}")
        fixed = {}
    return Designs(studies, wald, found, fixed, tuple(notes), timings)
