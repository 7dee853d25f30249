"""Customer-level uplift: does a customer's AUM change once an RM binds them?

A staggered event study at the customer level, computed where the data lives.

* **Event.** A customer's *binding month* ``g`` is the month of the earliest ``certified_at`` of
  any of its ``wecom_contact`` rows (a customer bound more than once: the first binding). Its
  *kind* is ``quota_month`` when the RM of a contact certified in ``g`` had a quota in force in
  ``g`` (the build's rule: the RM's quota row, else that of the branch the RM sat in), else
  ``no_quota``.
* **Estimator.** The imputation estimator (Borusyak, Jaravel & Spiess 2024) with customer
  effects and branch x month effects, fitted on the customer-months not yet bound (never-bound
  customers and bound customers' months before ``g - leads``); the effect of a bound
  customer-month is its outcome less the imputed one. Two outcome models:

  - ``trends`` (default): the outcome is the monthly AUM change, so the customer effect is the
    customer's own AUM *trend* (an RM whose customers grow faster also binds them sooner: a
    customer effect in levels would not absorb that). The path in yuan of AUM is the sum of
    the monthly effects from the binding month on.
  - ``levels``: the outcome is the AUM level, customer effects are levels.

  The ``leads`` months before ``g`` are held out of the fit and imputed too: their effects
  are placebo estimates, tested jointly (the pre-trend test, Liu, Wang & Xu 2022).
* **Cells.** Customers are grouped in the engine by (branch, ``g`` or never, kind, AUM tier in
  ``g - 1``, first and last month), one row per cell and month with the customer count and
  the AUM sum. A cell's customers share the set of months in the fit, so the fixed-effect
  normal equations, the customer effects summed over a cell and every imputed effect summed
  over a cell-month are exact functions of these sums: only cell rows leave the engine. A
  customer's branch is that of its first month with an RM; customer-months without an RM are
  left out; customers with a gap between their first and last month are left out (counted).
* **Inference.** Branches are the clusters: a branch's imputed effects depend on its own
  customers only (its month effects and its customers' effects are fitted on its rows), so an
  estimate is a ratio of branch totals and its influence function per branch is exact. The
  covariance is ``G/(G-1) * sum_b psi_b psi_b'``; intervals use Student t with ``G - 1``
  degrees of freedom, the pre-trend test an F(leads, G - 1) statistic.

Money is yuan of AUM per bound customer; event months are months since the binding month.

This module runs the study (:func:`estimate`, :func:`write`, :func:`run`); its parts live in
:mod:`wb.warehouse.uplift_cells` (the engine's expressions: bindings, spells, cell sums),
:mod:`wb.warehouse.imputation` (the estimator and inference on the cells),
:mod:`wb.warehouse.uplift_result` (the result and ``customer_uplift.json``) and
:mod:`wb.warehouse.uplift_finding` (the note and the finding in words).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from wb.door.atomic import check_out, staged_dir, write_json
from wb.door.interrupts import interruptible
from wb.errors import InputError, NotIdentified
from wb.warehouse.build import MonthWindow, spill_beside
from wb.warehouse.imputation import (
    Cells,
    Design,
    Estimate,
    Group,
    Imputed,
    difference,
    group_estimates,
    impute,
)
from wb.warehouse.progress import Progress
from wb.warehouse.source import EngineOptions, Source, open_source
from wb.warehouse.uplift_cells import cell_sums, customer_spells, first_bindings, spell_counts
from wb.warehouse.uplift_result import DOCUMENT, JSON_NAME, KINDS, CustomerUpliftResult

#: Fewest branches (clusters) an estimate may rest on.
MIN_BRANCHES = 5


def _read_truth(source: Source) -> dict | None:
    if source.engine and source.location.startswith("spark:"):
        return None
    path = Path(source.location) / "truth.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("level") != "customer":
        return None
    return doc.get("customer_level") or {}


def _counts(frame: pd.DataFrame, cells: Cells, imputed: Imputed, rows: int) -> dict:
    def pick(role: int, k: int | None = None) -> int:
        sel = frame.role == role
        if k is not None:
            sel &= frame.k == k
        return int(frame.loc[sel, "customers"].sum())

    used_branches = int(np.count_nonzero(imputed.N[..., :].sum(axis=(1, 2, 3)) > 0))
    return {
        "customers": int(frame.customers.sum()),
        "never_bound": pick(0),
        "bound_used": pick(1),
        "bound_no_quota": pick(1, 0),
        "bound_quota_month": pick(1, 1),
        "bound_used_added_in_an_earlier_month": int(
            frame.loc[frame.role == 1, "added_before"].sum()
        ),
        "left_out_bound_in_first_month": pick(2),
        "left_out_gaps": pick(3),
        "branches": len(cells.branch_names),
        "branches_with_estimates": used_branches,
        "cells": imputed.cells,
        "cell_months": len(cells),
        "customer_months": rows,
        "target_customer_months_not_imputed": imputed.not_imputed,
    }


def estimate_cells(
    cells: Cells, design: Design
) -> tuple[dict[str, Group], tuple[dict[str, Group], ...], Estimate, Imputed]:
    """Run the estimator on cell rows; raise :class:`InputError` (exit 2) when the source has
    no bindings, no controls or fewer than :data:`MIN_BRANCHES` branches to cluster on, and
    :class:`NotIdentified` (exit 2) when the AUM sums are not finite or the fixed-effect
    system cannot be solved on them (AUM beyond any account's, e.g. with ``--no-check``)."""
    design.check()
    if not np.isfinite(cells.s).all():
        raise NotIdentified(
            "AUM sums that are not finite numbers (infinite or NaN aum_cny): the fixed effects "
            "cannot be fitted; the table rules refuse such rows (run without --no-check)"
        )
    try:
        return _estimate_cells(cells, design)
    except np.linalg.LinAlgError as exc:
        raise NotIdentified(
            "the fixed-effect system cannot be solved on these AUM values "
            f"({type(exc).__name__}); check aum_cny for values beyond any account's"
        ) from exc


def _estimate_cells(
    cells: Cells, design: Design
) -> tuple[dict[str, Group], tuple[dict[str, Group], ...], Estimate, Imputed]:
    imp = impute(cells, design)
    L = design.leads
    bound_post = (cells.g >= 0) & (cells.t >= cells.g) & (cells.t <= cells.g + design.post)
    if not np.any(bound_post):
        raise InputError(
            "no bindings: no customer is bound (first certified_at) after a month with AUM "
            "in the window; nothing to estimate"
        )
    post_N = imp.N[..., L:]
    if post_N.sum() == 0:
        raise InputError(
            "no controls: bound customers have no never- or not-yet-bound customers of their "
            "branch in the same months (or no months before binding to fit); nothing to estimate"
        )
    G = int(np.count_nonzero(post_N.sum(axis=(1, 2, 3)) > 0))
    if G < MIN_BRANCHES:
        raise InputError(
            f"too few branches: bound customers with controls in {G} branch(es); "
            f"branch-clustered inference needs at least {MIN_BRANCHES}"
        )
    kinds = {
        k: group_estimates(
            imp.A[:, i].sum(axis=1), imp.N[:, i].sum(axis=1), int(imp.customers[:, i].sum()), design
        )
        for i, k in enumerate(KINDS)
    }
    tiers = tuple(
        {
            k: group_estimates(
                imp.A[:, i, j], imp.N[:, i, j], int(imp.customers[:, i, j].sum()), design
            )
            for i, k in enumerate(KINDS)
        }
        for j in range(len(design.tiers))
    )
    return kinds, tiers, difference(kinds["no_quota"], kinds["quota_month"]), imp


def estimate(
    source: str | os.PathLike[str] | Source,
    options: EngineOptions | None = None,
    months: str | MonthWindow | None = None,
    design: Design | None = None,
    progress: Progress | None = None,
    check: bool = True,
) -> CustomerUpliftResult:
    """Validate the source (unless ``check`` is false), aggregate it to cells in the engine and
    estimate the customer-level uplift. Nothing is written.

    Raises
    ------
    InputError
        Bad arguments or tables, no bindings, no controls, too few branches (exit 2).
    """
    from wb.warehouse.validate import validate

    design = design or Design()
    design.check()
    window = months if isinstance(months, MonthWindow) else MonthWindow.parse(months)
    progress = progress or Progress(6, label="customer uplift", quiet=True)
    started = time.perf_counter()
    own = not isinstance(source, Source)
    src = open_source(source, options) if own else source
    try:
        if check:
            tables = validate(src, progress).tables
        else:
            from wb.warehouse.tables import complete

            tables = {name: complete(t, name) for name, t in src.tables.items()}
        cm, wc, q = tables["customer_month"], tables["wecom_contact"], tables["quota"]
        spells = None
        try:  # the cached spells released while the engine is open, also when interrupted
            with progress.step("bindings and customer spells"), src.reading("the customer uplift"):
                spells = customer_spells(
                    cm, first_bindings(wc, cm, q, design.onset), window, design
                ).cache()
                counts_frame = spell_counts(spells).to_pandas()
            with progress.step("aggregate to cells"), src.reading("the customer uplift"):
                frame = cell_sums(cm, spells, window, design).to_pandas()
        finally:
            if spells is not None:
                spells.release()
        with progress.step("estimate on cells"):
            cells = Cells.from_frame(frame)
            del frame
            kinds, tiers, diff, imp = estimate_cells(cells, design)
        rows = int(cells.n.sum())
        counts = _counts(counts_frame, cells, imp, rows)
        engine, version, location = src.engine, src.engine_version, src.label
        truth = _read_truth(src)
        simulated = truth is not None or src.simulated
    finally:
        if own:
            src.close()
    timings = dict(progress.timings) | {"total": round(time.perf_counter() - started, 3)}
    return CustomerUpliftResult(
        source=location,
        engine=engine,
        engine_version=version,
        design=design,
        months=window,
        kinds=kinds,
        tiers=tiers,
        difference=diff,
        counts=counts,
        timings_s=timings,
        simulated=simulated,
        truth=truth,
    )


def write(
    result: CustomerUpliftResult,
    out: str | os.PathLike[str],
    figures: Callable[[Path], Iterable[Path]] | None = None,
) -> Path:
    """Write ``out/customer_uplift.json`` (checked against its committed schema) and whatever
    ``figures`` draws into the folder, staged beside ``out`` and renamed at the end.

    ``out`` must not exist, be empty or hold an earlier result (``customer_uplift.json``).
    """
    with staged_dir(out, JSON_NAME, "customer uplift", "uplift") as staging:
        doc = result.to_json()
        doc["finished_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        DOCUMENT.check(doc, JSON_NAME)
        write_json(doc, staging / JSON_NAME)
        if figures is not None:
            list(figures(staging))
    return Path(out)


def run(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: EngineOptions | None = None,
    months: str | MonthWindow | None = None,
    design: Design | None = None,
    progress: Progress | None = None,
    figures: Callable[[CustomerUpliftResult, Path], Iterable[Path]] | None = None,
    check: bool = True,
    label: str | None = None,
) -> CustomerUpliftResult:
    """:func:`estimate` then :func:`write`; DuckDB spills into a hidden sibling of ``out``.

    ``label`` names the source in the outputs instead of its location (``wb run`` passes the
    data's label: a folder's name may hold personal data and never reaches a run's outputs).
    """
    options = options or EngineOptions()
    options.check()
    (design or Design()).check()
    window = months if isinstance(months, MonthWindow) else MonthWindow.parse(months)
    target = check_out(out, JSON_NAME, "customer uplift")
    with spill_beside(options, target) as spilling:
        with interruptible("the customer uplift"):
            result = estimate(source, spilling, window, design, progress, check)
        if label is not None:
            result = replace(result, source=label)
        draw = None if figures is None else (lambda folder: figures(result, folder))
        write(result, target, draw)
    return result
