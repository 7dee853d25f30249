"""Check the three warehouse tables in the engine (docs/warehouse.md, ``wb warehouse validate``).

Per table: the declared columns and their types (from the engine's schema, no data read); then
the rules of :mod:`wb.warehouse.rules`, counted inside the table's groupings: each grouping is
one pass over the table (on DuckDB two for one of repeated keys only), kept for the build
(cached in the engine; on Spark those of RM-month size in-process: :meth:`Source.keep`), and
one small aggregate over the grouping counts its rules; the row rules no grouping judges are
counted in one of them as one count of the rows breaking any (rule by rule over the table
only when it is not zero), or in one aggregate over the table. A group rule with a screen (unique keys) runs
its own group-by only when its screen finds a group that may break it, and then only on that
group's rows; one branch per RM-month is a group-by of the RM-month grouping.
For each broken rule up to five example keys are fetched with ``filter`` + ``order_by`` +
``limit(5)``. Example keys pass through :func:`wb.privacy.redact`, and a personal-data rule never
shows the column it found personal data in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field

import ibis.expr.types as ir

from wb.door import privacy
from wb.warehouse.progress import Progress
from wb.warehouse.rules import Rule, pandera_checks, rules_for
from wb.warehouse.source import Source, release
from wb.warehouse.tables import (
    GROUPINGS,
    KIND_TEXT,
    SPECS,
    TABLES,
    Grouping,
    Problem,
    WarehouseValidationError,
    complete,
    kind_accepts,
)

#: Example keys shown per broken rule.
MAX_EXAMPLES = 5


@dataclass
class TableCheck:
    """What was checked on one table: rows, the rule ids run and where each ran."""

    name: str
    rows: int = 0
    rules: list[str] = field(default_factory=list)
    via_pandera: list[str] = field(default_factory=list)
    via_ibis: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.name}: {self.rows:,} rows, {len(self.rules)} rules ok "
            f"({len(self.via_pandera)} declared in pandera.ibis, {len(self.via_ibis)} as Ibis "
            "expressions)"
        )


@dataclass
class ValidationReport:
    """Result of a clean validation: per-table checks, the (completed) tables and, when kept,
    the tables' groupings by name (:data:`wb.warehouse.tables.GROUPINGS`), cached in the
    engine. ``label`` names the source as messages do (:attr:`Source.label`, never its path)."""

    label: str
    engine: str
    checks: dict[str, TableCheck]
    tables: dict[str, ir.Table]
    groupings: dict[str, ir.Table]

    def release(self) -> None:
        """Drop the cached groupings from the engine (the tables stay usable)."""
        for kept in self.groupings.values():
            release(kept)
        self.groupings = {}

    def summary_lines(self) -> list[str]:
        """One line per table, as ``wb warehouse validate`` prints them."""
        return [self.checks[name].summary() for name in TABLES]

    @property
    def rows(self) -> dict[str, int]:
        return {name: c.rows for name, c in self.checks.items()}


def _fmt(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return privacy.redact(value)


def _type_problems(table: ir.Table, name: str) -> list[Problem]:
    spec = SPECS[name]
    schema = table.schema()
    problems = []
    for col in spec.columns:
        if col.name not in schema:
            if col.required:
                problems.append(
                    Problem(name, col.name, "required", "the column to be present", None)
                )
            continue
        if not kind_accepts(col.kind, schema[col.name]):
            problems.append(
                Problem(
                    name,
                    col.name,
                    "type",
                    f"{KIND_TEXT[col.kind]}, found {schema[col.name]}",
                    None,
                )
            )
    if name == "quota" and "branch_id" not in schema and "rm_id" not in schema:
        problems.append(
            Problem(name, "branch_id, rm_id", "required", "a branch_id or an rm_id column", None)
        )
    return problems


def _examples(rows: ir.Table, keys: tuple[str, ...]) -> tuple[str, ...]:
    keys = tuple(k for k in keys if k in rows.columns)
    if not keys:
        return ()
    frame = rows.select(*keys).order_by(list(keys)).limit(MAX_EXAMPLES).to_pyarrow().to_pylist()
    return tuple(", ".join(f"{k}={_fmt(r[k])}" for k in keys) for r in frame)


def _applies(rule: Rule, table: ir.Table) -> bool:
    return all(c in table.columns for c in rule.needs)


def _judging_grouping(rule: Rule, groupings: tuple[Grouping, ...]) -> Grouping | None:
    """The first grouping of every group whose keys hold every column the row rule reads, if
    any."""
    return next(
        (g for g in groupings if not g.repeated_only and set(rule.needs) <= set(g.keys)), None
    )


#: The count, in the grouping that ``counts_rows``, of the rows breaking any row rule that no
#: grouping judges (:func:`_rule_counts`).
ANY_UNJUDGED = "any_unjudged"


def _rule_counts(
    source: Source,
    table: ir.Table,
    rules: list[Rule],
    groupings: tuple[Grouping, ...],
    before: dict[str, ir.Table],
) -> tuple[dict[str, ir.Table], dict[str, int], int]:
    """Run the table's groupings (kept by ``source.keep``: the build reuses them; a grouping's
    rows may join ``before``, the groupings of earlier tables, and this table's earlier ones)
    and count in them, in one small aggregate per grouping, the breaking rows of each row rule
    and the screened groups of each group rule. Row rules no grouping judges are counted over
    the table in one aggregate; with a grouping that ``counts_rows``, it holds one count instead,
    of the rows breaking any of them (one sum per group, not one per rule), and only when that
    count is not zero does the aggregate over the table count them rule by rule. The rows are
    counted there too, or in a grouping of every group. Returns the groupings by name, the
    counts (``r<i>`` for row rule ``i``, :func:`_screen_count` for a screen) and the rows."""
    row_rules = [r for r in rules if r.bad is not None]
    unjudged = [
        (f"r{i}", r) for i, r in enumerate(row_rules) if _judging_grouping(r, groupings) is None
    ]
    host = next((g for g in groupings if g.counts_rows), None)
    counts: dict[str, int] = {}
    if host is None:
        per_row = {name: r.bad(table).sum() for name, r in unjudged}
        counts = table.aggregate(n_rows=table.count(), **per_row).to_pyarrow().to_pylist()[0]
    built: dict[str, ir.Table] = {}
    with released_on_failure(built):
        for grouping in groupings:
            rows = grouping.rows_of(table, before | built)
            hosted = {}
            if grouping is host and unjudged:
                any_bad = functools.reduce(operator.or_, (r.bad(rows) for _, r in unjudged))
                hosted = {ANY_UNJUDGED: any_bad.sum()}
            g = source.keep(grouping.of(rows, hosted), grouping.per_rm_month)
            built[grouping.name] = g
            metrics = {name: g[name].sum() for name in hosted}
            if not grouping.repeated_only:
                metrics["n_rows"] = g.n_rows.sum()
            metrics |= {
                f"r{i}": g.n_rows.sum(where=r.bad(g))
                for i, r in enumerate(row_rules)
                if _judging_grouping(r, groupings) is grouping
            }
            metrics |= {
                _screen_count(r): r.screen[1](g).fill_null(False).sum()
                for r in rules
                if r.screen is not None and r.screen[0] == grouping.name
            }
            if metrics:
                counts |= g.aggregate(**metrics).to_pyarrow().to_pylist()[0]
        if counts.pop(ANY_UNJUDGED, None):  # some row breaks a rule: which, in how many rows
            per_row = {name: r.bad(table).sum() for name, r in unjudged}
            counts |= table.aggregate(**per_row).to_pyarrow().to_pylist()[0]
    counts |= {name: 0 for name, _ in unjudged if name not in counts}
    return built, counts, int(counts.pop("n_rows") or 0)


@contextlib.contextmanager
def released_on_failure(cached: dict[str, ir.Table]) -> Iterator[None]:
    """Drop the tables cached in the engine (``cached``, filled as the block goes) when the
    block fails (an unreadable file, an interrupt) while the engine is still open; left to
    Ibis's finalizers they are dropped after it closed, and print "Connection already closed"
    tracebacks on stderr."""
    try:
        yield
    except BaseException:
        for table in cached.values():
            release(table)
        raise


def _screen_count(rule: Rule) -> str:
    """The name under which a group rule's screened groups are counted."""
    return f"screen_{rules_for(rule.table).index(rule)}"


def _screened_rows(table: ir.Table, rule: Rule, groupings: dict[str, ir.Table]) -> ir.Table:
    """The rows of ``table`` that the rule's exact group-by needs: with a screen, those whose
    first grouping key is null or a screened group's; without one, all."""
    if rule.screen is None:
        return table
    name, may_break = rule.screen
    g = groupings[name]
    key = next(gr for gr in GROUPINGS[rule.table] if gr.name == name).keys[0]
    return table.filter(table[key].isnull() | table[key].isin(g.filter(may_break(g))[key]))


def check_table(
    source: Source, name: str, table: ir.Table, before: dict[str, ir.Table] | None = None
) -> tuple[TableCheck, list[Problem], ir.Table, dict[str, ir.Table]]:
    """Check one table in the engine. Returns what ran, the problems, the completed table and
    its groupings by name (kept: :meth:`Source.keep`; none when a column's type is wrong).
    ``before``: the groupings of the tables checked before it, which its groupings may join
    (:data:`~wb.warehouse.tables.GROUPINGS`)."""
    check = TableCheck(name)
    problems = _type_problems(table, name)
    if problems:
        check.rows = int(table.count().to_pyarrow().as_py())
        return check, problems, table, {}
    table = complete(table, name)
    # a table of RM-month size is checked where its rows come back (on Spark, in-process); the
    # report keeps the engine's table (the customer-level uplift joins the quota there)
    (checked,) = source.local(table) if SPECS[name].per_rm_month else (table,)
    rules = [r for r in rules_for(name) if _applies(r, checked)]
    _, declared = pandera_checks(name, checked.schema())
    check.rules = [r.id for r in rules]
    check.via_pandera = [r.id for r in rules if r.id in declared]
    check.via_ibis = list(check.rules)

    row_rules = [r for r in rules if r.bad is not None]
    groupings, counts, check.rows = _rule_counts(
        source, checked, rules, GROUPINGS[name], before or {}
    )
    with released_on_failure(groupings):
        for i, rule in enumerate(row_rules):
            n = int(counts[f"r{i}"] or 0)
            if n:
                examples = _examples(checked.filter(rule.bad(checked)), rule.keys)
                problems.append(Problem(name, rule.column, rule.name, rule.expected, n, examples))
        for rule in (r for r in rules if r.groups is not None):
            if rule.screen is not None and not counts[_screen_count(rule)]:
                continue
            rows = groupings[rule.over] if rule.over else _screened_rows(checked, rule, groupings)
            groups = rule.groups(rows)
            n = int(groups.n_rows.sum().to_pyarrow().as_py() or 0)
            if n:
                problems.append(
                    Problem(
                        name, rule.column, rule.name, rule.expected, n, _examples(groups, rule.keys)
                    )
                )
    return check, problems, table, groupings


def validate(
    source: Source, progress: Progress | None = None, *, keep_groupings: bool = False
) -> ValidationReport:
    """Check all three tables of ``source``; raise :class:`WarehouseValidationError` (exit 2)
    listing every broken rule, or return the report with the completed tables. With
    ``keep_groupings`` the report also holds the tables' groupings, cached in the engine until
    :meth:`ValidationReport.release` (the build reuses them)."""
    progress = progress or Progress(len(TABLES), quiet=True)
    report = ValidationReport(source.label, source.engine, {}, {}, {})
    problems = []
    try:
        for name in TABLES:
            with progress.step(f"check {name}"), source.reading(f"checking {name}"):
                check, found, table, groupings = check_table(
                    source, name, source.tables[name], report.groupings
                )
            report.checks[name], report.tables[name] = check, table
            report.groupings |= groupings
            problems += found
    except BaseException:  # an interrupt too: the cached groupings are dropped while the
        report.release()  # engine is open, not by a finalizer after it closed (tracebacks)
        raise
    if problems or not keep_groupings:
        report.release()
    if problems:
        raise WarehouseValidationError(problems, source.label)
    return report
