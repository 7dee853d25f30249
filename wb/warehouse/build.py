"""Build the RM x month panel and the add-quality table from the warehouse (docs/warehouse.md).

Written once as Ibis expressions (:func:`panel`, on the groupings the validation left cached,
among them the adds per RM-month of :func:`wb.warehouse.tables.add_facts`). The engine the
source was opened on scans and groups the tables; only RM-month rows come back to Python, to
be written as Parquet. On Spark the panel's joins of those RM-month groupings run after they
come back, in an in-process DuckDB (:meth:`wb.warehouse.source.Source.local`).

A source simulated by ``wb simulate --level customer`` (its files carry the stamp,
:mod:`wb.door.provenance`) gives a simulated panel: both Parquet files keep the stamp in their
metadata and the ``wb_simulated`` column, and ``build.json`` records it under ``simulated``.

``wb warehouse build`` stages everything in a hidden sibling folder of ``DIR`` and renames it
onto ``DIR`` at the end, so a failed or interrupted build leaves no ``DIR`` (and an earlier
build in ``DIR`` untouched). DuckDB spills to another hidden sibling, removed at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from wb.door import provenance, schemas
from wb.door.atomic import check_out, sibling_dir, staged_dir, write_json
from wb.door.calendar import MONTH_RE, month_text_expr
from wb.door.display import Shown, table
from wb.errors import InputError
from wb.warehouse.progress import Progress
from wb.warehouse.source import EngineOptions, Source, open_source
from wb.warehouse.tables import MONEY, TABLES, month_text
from wb.warehouse.validate import ValidationReport, validate

SCHEMA = "wb.warehouse.build/1"
BUILD_JSON = "build.json"
RM_MONTH = "rm_month.parquet"
ADD_QUALITY = "add_quality.parquet"

#: The order of both tables' rows.
PANEL_ORDER = ("rm_id", "month")
#: add-quality counts, in the order of docs/warehouse.md (declared in :mod:`wb.door.schemas`).
QUALITY_COUNTS = tuple(schemas.ADD_QUALITY_COUNTS)

_MONTH = re.compile(MONTH_RE)


@dataclass(frozen=True)
class MonthWindow:
    """Inclusive ``YYYY-MM`` bounds; ``None`` leaves a side open."""

    first: str | None = None
    last: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> MonthWindow:
        """Read ``FROM..TO`` (either side may be empty); raise :class:`InputError` if malformed."""
        if text is None or text.strip() == "":
            return cls()
        if ".." not in text:
            raise InputError(f"--months must be FROM..TO, e.g. 2024-01..2024-12 (got {text!r})")
        first, last = (p.strip() or None for p in text.split("..", 1))
        for value in (first, last):
            if value is not None and not _MONTH.match(value):
                raise InputError(f"--months: {value!r} is not a YYYY-MM month")
        if first and last and first > last:
            raise InputError(f"--months: {first} is after {last}")
        return cls(first, last)

    def contains(self, month: ir.StringValue) -> ir.BooleanValue:
        cond = ibis.literal(True)
        if self.first:
            cond &= month >= self.first
        if self.last:
            cond &= month <= self.last
        return cond

    def as_dict(self) -> dict | None:
        return (
            None
            if self.first is None and self.last is None
            else {"from": self.first, "to": self.last}
        )


# ---------------------------------------------------------------------------- expressions


def adds_by_rm_month(adds: ir.Table, window: MonthWindow) -> ir.Table:
    """Adds per ``(rm_id, month)`` in the window, from the ``adds`` grouping of
    ``wecom_contact`` (:data:`wb.warehouse.tables.GROUPINGS`): ``wecom_adds`` (its ``n_rows``),
    certified and quality counts (:func:`~wb.warehouse.tables.add_counts`); ``month`` as
    ``YYYY-MM`` text, formatted once per RM-month."""
    adds = adds.select(
        "rm_id",
        "wecom_certified_adds",
        *QUALITY_COUNTS,
        wecom_adds=adds.n_rows,
        month=month_text_expr(adds.month_index),
    )
    return adds.filter(window.contains(adds.month))


def rm_months(groups: ir.Table, window: MonthWindow) -> ir.Table:
    """The ``rm_months`` grouping of ``customer_month`` (:data:`wb.warehouse.tables.GROUPINGS`)
    for the RM-months with an RM, in the window: ``branch_id``, ``customers`` (count) and
    ``aum_cny`` and the optional money columns present (sums, yuan)."""
    g = groups.mutate(month=month_text(groups.month))
    g = g.filter(g.rm_id.notnull() & window.contains(g.month))
    money = [name for name in MONEY if name in g.columns]
    return g.select("rm_id", "month", "branch_id", *money, customers=g.n_rows)


def quota_in_force(quota: ir.Table) -> tuple[ir.Table, ir.Table]:
    """The quota table split into RM-level ``(q_rm, q_month, rm_target)`` and branch-level
    ``(q_branch, q_month, branch_target)`` rows."""
    q = quota.mutate(month=month_text(quota.month))
    rm = q.filter(q.rm_id.notnull()).select(
        q_rm=q.rm_id, q_month=q.month, rm_target=q.quota_target.cast("int64")
    )
    branch = q.filter(q.rm_id.isnull() & q.branch_id.notnull()).select(
        q_branch=q.branch_id, q_bmonth=q.month, branch_target=q.quota_target.cast("int64")
    )
    return rm, branch


def panel(base: ir.Table, adds: ir.Table, quota: ir.Table) -> ir.Table:
    """The section-3 panel joined with the add-quality counts, one row per ``(rm_id, month)``
    of ``base``; ``quota_target`` is the RM's row, else its branch's, else 0. Also one row per
    RM-month of ``adds`` that ``base`` lacks, with ``customers`` null: adds not placed (no
    ``customer_month`` row of that RM in that month), counted by :func:`split_not_placed` in
    the same query rather than an anti-join of their own. Unordered."""
    rm_q, branch_q = quota_in_force(quota)
    a = adds.rename(a_rm="rm_id", a_month="month")
    j = (
        base.outer_join(a, (base.rm_id == a.a_rm) & (base.month == a.a_month))
        .left_join(rm_q, (base.rm_id == rm_q.q_rm) & (base.month == rm_q.q_month))
        .left_join(
            branch_q, (base.branch_id == branch_q.q_branch) & (base.month == branch_q.q_bmonth)
        )
    )
    counts = {
        name: j[name].fill_null(0).cast("int64").name(name)
        for name in ("wecom_adds", "wecom_certified_adds", *QUALITY_COUNTS)
    }
    money = [c for c in MONEY if c in base.columns]
    return j.select(
        rm_id=ibis.coalesce(j.rm_id, j.a_rm),
        branch_id=j.branch_id,
        month=ibis.coalesce(j.month, j.a_month),
        wecom_adds=counts["wecom_adds"],
        wecom_certified_adds=counts["wecom_certified_adds"],
        quota_target=ibis.coalesce(j.rm_target, j.branch_target, 0).cast("int64"),
        customers=j.customers.cast("int64"),
        **{m: j[m] for m in money},
        **{name: counts[name] for name in QUALITY_COUNTS},
    )


def split_not_placed(rows) -> tuple[object, dict[str, int]]:
    """The panel's rows (an Arrow table of :func:`panel`) without the adds not placed, and
    those counted: ``adds`` and ``rm_months``."""
    import pyarrow.compute as pc

    placed = pc.is_valid(rows["customers"])
    lost = rows.filter(pc.invert(placed))
    return rows.filter(placed), {
        "adds": int(pc.sum(lost["wecom_adds"]).as_py() or 0),
        "rm_months": lost.num_rows,
    }


# ---------------------------------------------------------------------------- the build


@dataclass(frozen=True)
class BuildResult(Shown):
    """What a build wrote: the folder, its files' row counts and the ``build.json`` record.
    Shows in JupyterLab as a table of the rows read and written."""

    out: Path
    record: dict

    def tidy(self) -> pd.DataFrame:
        """One row per table: ``step`` (read or written), ``table``, ``rows``."""
        r = self.record
        rows = [("read", name, n) for name, n in r["rows_read"].items()]
        rows += [("written", name, n) for name, n in r["rows_written"].items()]
        return table(pd.DataFrame(rows, columns=["step", "table", "rows"]))

    def summary(self) -> str:
        """What was built, from what, on which engine; the adds no RM-month could hold."""
        r, months = self.record, self.record["months"]
        window = f", months {months['from']} to {months['to']}" if months else ""
        lost = r["adds_not_placed"]
        return (
            f"Warehouse build on {r['engine_version']}{window}: "
            f"{r['rows_written']['rm_month']:,} RM-months written to {self.out.name}/\n"
            f"{lost['adds']:,} adds in {lost['rm_months']:,} RM-months no RM x month row holds "
            "(not placed)"
        )

    @property
    def rm_month(self) -> Path:
        return self.out / RM_MONTH

    @property
    def add_quality(self) -> Path:
        return self.out / ADD_QUALITY

    @property
    def simulated(self) -> bool:
        """Built from a source ``wb simulate`` wrote (its stamp is in ``record["simulated"]``)."""
        return self.record.get("simulated") is not None


def compute(
    src: Source, report: ValidationReport, window: MonthWindow, progress: Progress
) -> tuple[object, object, dict]:
    """Run the build's expressions on validated tables of ``src`` and the groupings the
    validation left cached; return (rm_month Arrow table, add_quality Arrow table, adds not
    placed), sorted by :data:`PANEL_ORDER`. The panel's joins run where
    :meth:`~wb.warehouse.source.Source.local` puts its RM-month tables (on Spark, an
    in-process DuckDB)."""
    g = report.groupings
    adds = adds_by_rm_month(g["adds"], window)
    base = rm_months(g["rm_months"], window)
    with progress.step("join panel"):
        joined = panel(*src.local(base, adds, report.tables["quota"]))
        joined, orphan = split_not_placed(joined.order_by(list(PANEL_ORDER)).to_pyarrow())
    rm_cols = [c for c in schemas.RM_MONTH.column_names if c in joined.column_names]
    return (
        joined.select(rm_cols),
        joined.select(list(schemas.ADD_QUALITY.column_names)),
        orphan,
    )


def _window_text(window: MonthWindow) -> str:
    return f"{window.first or ''}..{window.last or ''}"


@contextlib.contextmanager
def spill_beside(options: EngineOptions, target: Path) -> Iterator[EngineOptions]:
    """``options`` with DuckDB spilling into a new hidden sibling folder of ``target``,
    removed after the block; as they are when a ``temp_dir`` is set or the engine is Spark."""
    if options.engine != "duckdb" or options.temp_dir is not None:
        yield options
        return
    with sibling_dir(target, "spill") as spill:
        yield replace(options, temp_dir=spill)


def build(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: EngineOptions | None = None,
    months: str | MonthWindow | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Validate the source's tables and write ``out/rm_month.parquet``,
    ``out/add_quality.parquet`` and ``out/build.json``, atomically.

    Parameters
    ----------
    source
        A Parquet folder or ``spark:DB`` (see :mod:`wb.warehouse.source`).
    out
        The build folder. If it exists it must be an earlier build (it holds ``build.json``)
        or empty; it is replaced only when this build succeeds.
    options
        Engine and settings; DuckDB spills into a hidden sibling of ``out`` unless
        ``options.temp_dir`` is set.
    months
        ``FROM..TO`` (``YYYY-MM``, inclusive) or a :class:`MonthWindow`.

    Raises
    ------
    InputError
        Bad arguments or tables (exit 2); nothing is written.
    """
    options = options or EngineOptions()
    options.check()
    window = months if isinstance(months, MonthWindow) else MonthWindow.parse(months)
    target = check_out(out, BUILD_JSON, "build")
    progress = progress or Progress(5)
    started = time.perf_counter()
    try:
        with (
            staged_dir(target, BUILD_JSON, "build", "building") as staging,
            spill_beside(options, target) as options,
            contextlib.ExitStack() as opened,
        ):
            with progress.step("open source"):
                src = opened.enter_context(contextlib.closing(open_source(source, options)))
            report = validate(src, progress, keep_groupings=True)
            try:
                with src.reading("the build"):
                    rm_table, quality_table, orphan = compute(src, report, window, progress)
            finally:
                report.release()
            if rm_table.num_rows == 0:
                raise InputError(
                    f"--months {_window_text(window)}: no customer-month of an RM falls in the "
                    "window; nothing to build"
                )
            with progress.step("write"):
                import pyarrow.parquet as pq

                for table, name in ((rm_table, RM_MONTH), (quality_table, ADD_QUALITY)):
                    stamped = provenance.stamp_arrow(table, src.stamp, column=True)
                    pq.write_table(stamped, staging / name, compression="zstd")
                record = _record(src, report, options, window, rm_table, quality_table, orphan)
                record["timings_s"] = dict(progress.timings)
                record["timings_s"]["total"] = round(time.perf_counter() - started, 3)
                write_json(record, staging / BUILD_JSON, sort_keys=True)
    finally:
        progress.close()
    return BuildResult(target, record)


def _record(
    src: Source,
    report: ValidationReport,
    options: EngineOptions,
    window: MonthWindow,
    rm_table,
    quality_table,
    orphan: dict,
) -> dict:
    engine_options: dict[str, object] = {}
    if src.engine == "duckdb":
        engine_options["memory_limit"] = options.memory_limit or "default"
        engine_options["threads"] = options.threads
    else:
        engine_options["spark_master"] = None if options.spark_remote else options.spark_master
        engine_options["spark_remote"] = options.spark_remote
    return {
        "schema": SCHEMA,
        "source": src.label,
        "engine": src.engine,
        "engine_version": src.engine_version,
        "ibis_version": ibis.__version__,
        "engine_options": engine_options,
        "months": window.as_dict(),
        "rows_read": report.rows,
        "rows_written": {"rm_month": rm_table.num_rows, "add_quality": quality_table.num_rows},
        "adds_not_placed": orphan,
        "rules_checked": {
            name: {
                "rules": c.rules,
                "declared_in_pandera_ibis": c.via_pandera,
                "run_as_ibis_expressions": c.via_ibis,
            }
            for name, c in report.checks.items()
        },
        "dropped_personal_columns": {k: v for k, v in src.dropped.items() if v},
        "fingerprints": src.fingerprints(report.rows),
        "simulated": src.stamp,
        "finished_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tables": list(TABLES),
    }
