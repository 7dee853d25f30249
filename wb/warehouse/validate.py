"""Check the three warehouse tables in the engine (docs/warehouse.md, ``wb warehouse validate``).

Per table: the declared columns and their types (from the engine's schema, no data read); then
the rules of :mod:`wb.warehouse.tables`. On DuckDB the table's pandera.ibis schema runs first;
rules it covers run as Ibis expressions only when it fails. Row rules are counted in one
aggregate per table; group rules (unique keys, one branch per RM-month) are one group-by each.
For each broken rule up to five example keys are fetched with ``filter`` + ``order_by`` +
``limit(5)``. Example keys pass through :func:`wb.privacy.redact`, and a personal-data rule never
shows the column it found personal data in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import ibis.expr.types as ir

from wb.door import privacy
from wb.errors import InputError
from wb.warehouse.progress import Progress
from wb.warehouse.source import Source
from wb.warehouse.tables import KIND_TEXT, SPECS, TABLES, Rule, complete, kind_accepts, rules_for

#: Example keys shown per broken rule.
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Problem:
    """One broken rule: table, column, rule, how many rows break it, up to five example keys."""

    table: str
    column: str
    rule: str
    expected: str
    rows: int | None
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        count = "" if self.rows is None else f"{self.rows:,} row{'s' if self.rows != 1 else ''}: "
        text = (
            f"{self.table}: column {self.column}: rule {self.rule}: {count}expected {self.expected}"
        )
        if self.examples:
            text += "; e.g. " + "; ".join(self.examples)
        return text


class WarehouseValidationError(InputError):
    """The warehouse tables break rules (exit 2). ``problems`` lists each broken rule."""

    def __init__(self, problems: list[Problem], location: str):
        self.problems = problems
        lines = [f"{location}: {len(problems)} broken rule{'s' if len(problems) != 1 else ''}:"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


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
    """Result of a clean validation: per-table checks, the (completed) tables, timings."""

    location: str
    engine: str
    checks: dict[str, TableCheck]
    tables: dict[str, ir.Table]

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


def _pandera_passes(name: str, table: ir.Table, schema) -> bool:
    import pandera.errors

    try:
        schema.validate(table, lazy=True)
    except (pandera.errors.SchemaErrors, pandera.errors.SchemaError):
        return False
    return True


def check_table(
    source: Source, name: str, table: ir.Table
) -> tuple[TableCheck, list[Problem], ir.Table]:
    """Check one table in the engine. Returns what ran, the problems and the completed table."""
    check = TableCheck(name)
    problems = _type_problems(table, name)
    if problems:
        check.rows = int(table.count().to_pyarrow().as_py())
        return check, problems, table
    table = complete(table, name)
    rules = [r for r in rules_for(name) if _applies(r, table)]
    covered: frozenset[str] = frozenset()
    pandera_clean = False
    if source.engine == "duckdb":
        from wb.warehouse.tables import pandera_schema

        schema, covered = pandera_schema(name, table.schema())
        pandera_clean = _pandera_passes(name, table, schema)
    check.rules = [r.id for r in rules]
    check.via_pandera = [r.id for r in rules if r.id in covered]
    check.via_ibis = [r.id for r in rules if r.id not in covered or not pandera_clean]
    to_run = [r for r in rules if not (pandera_clean and r.id in covered)]

    row_rules = [r for r in to_run if r.bad is not None]
    metrics = {f"r{i}": r.bad(table).sum() for i, r in enumerate(row_rules)}
    counts = table.aggregate(n_rows=table.count(), **metrics).to_pyarrow().to_pylist()[0]
    check.rows = int(counts["n_rows"])
    for i, rule in enumerate(row_rules):
        n = int(counts[f"r{i}"] or 0)
        if n:
            examples = _examples(table.filter(rule.bad(table)), rule.keys)
            problems.append(Problem(name, rule.column, rule.name, rule.expected, n, examples))
    for rule in (r for r in to_run if r.groups is not None):
        groups = rule.groups(table)
        n = int(groups.n_rows.sum().to_pyarrow().as_py() or 0)
        if n:
            problems.append(
                Problem(
                    name, rule.column, rule.name, rule.expected, n, _examples(groups, rule.keys)
                )
            )
    return check, problems, table


def validate(source: Source, progress: Progress | None = None) -> ValidationReport:
    """Check all three tables of ``source``; raise :class:`WarehouseValidationError` (exit 2)
    listing every broken rule, or return the report with the completed tables."""
    progress = progress or Progress(len(TABLES), quiet=True)
    checks, problems, tables = {}, [], {}
    for name in TABLES:
        with progress.step(f"check {name}"):
            check, found, table = check_table(source, name, source.tables[name])
        checks[name], tables[name] = check, table
        problems += found
    if problems:
        raise WarehouseValidationError(problems, source.location)
    return ValidationReport(source.location, source.engine, checks, tables)
