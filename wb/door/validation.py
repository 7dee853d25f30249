"""One-pass validation of an input frame against its schema (:mod:`wb.door.schemas`), with
row-level messages.

Validation has two stages, both lazy (every problem in the file is found in one pass):

1. **typing** (:mod:`wb.door.column_types`): each declared column is parsed from what the
   reader gave (text for CSV, objects for XLSX, typed columns for Parquet) to its declared
   kind; a value that is not of that kind (``3.5`` for an integer, ``abc`` for a number,
   ``2024-13`` for a month) is a problem, never silently coerced;
2. **rules**: ranges, cross-column rules, uniqueness. When every rule lives in the specs
   (``rm_month``) they are first checked directly, text columns on their distinct values; only
   when one fails does pandera (``lazy=True``) run them again, to name every failing row.

Each :class:`~wb.door.problems.Problem` names the file, the column(s), what was expected and the spreadsheet
rows (header = row 1, first data row = row 2), summarised when there are many.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wb.door.column_types import Coded, type_columns
from wb.door.problems import Problem, ValidationError, found_in, rows_of, shown
from wb.door.schemas import FRAME_CHECK_COLUMNS, SCHEMA_NAMES, SPECS
from wb.door.table_specs import ColumnSpec, Rule, TableSpec
from wb.errors import InputError

if TYPE_CHECKING:
    import pandera.pandas as pa

# --------------------------------------------------------------------------- rules, directly


def _rules_hold(frame: pd.DataFrame, spec: TableSpec, coded: dict[str, Coded]) -> bool:
    """Whether every rule of a table whose rules live in its specs holds, checked without
    pandera: column rules on each text column's distinct values (they are element-wise) and on
    the other columns' values, missing values exempt; table rules on the frame; the key's
    uniqueness on the columns' codes. False (also for a table with rules of its own) sends
    the frame to pandera, which names the failing rows."""
    if not spec.rules_in_specs:
        return False
    for col in spec.columns:
        if col.name in frame.columns and not all(
            _holds(rule, _checked_values(col, frame, coded)) for rule in col.checks
        ):
            return False
    if not all(rule.fn(frame).all() for rule in spec.checks if _check_applies(rule, frame)):
        return False
    return (
        not spec.unique
        or not set(spec.unique) <= set(frame.columns)
        or _unique([coded[name][0] for name in spec.unique])
    )


def _checked_values(col: ColumnSpec, frame: pd.DataFrame, coded: dict[str, Coded]) -> pd.Series:
    """What a column rule is checked on: a text column's distinct values, else the column."""
    return coded[col.name][1] if col.name in coded else frame[col.name]


def _holds(rule: Rule, values: pd.Series) -> bool:
    """A column rule holds on every value present (pandera's ``ignore_na``)."""
    return bool((rule.fn(values) | values.isna()).all())


def _unique(codes: list[np.ndarray]) -> bool:
    """Whether no two rows share the same codes (and none is missing) in every column."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for column in codes:
        if (column < 0).any():
            return False
        key = key * (int(column.max()) + 1) + column
    if int(key.max()) < 4 * len(key):  # dense keys (RM x month): count them
        return bool(np.bincount(key).max() <= 1)
    key.sort()
    return not bool((key[1:] == key[:-1]).any())


# --------------------------------------------------------------------------- rules → problems


def _rule_problems(frame: pd.DataFrame, spec: TableSpec, file: str) -> list[Problem]:
    # integer columns as the rules declare them: float, so that a missing one stays missing
    ints = {c.name: "float64" for c in spec.columns if c.kind == "int" and c.name in frame}
    frame = frame.astype(ints)
    schema = spec.rules
    present = {k: v for k, v in schema.columns.items() if k in frame.columns}
    unique = schema.unique if schema.unique and set(schema.unique) <= set(frame.columns) else None
    checks = [c for c in schema.checks if _check_applies(c, frame)]
    schema = schema.__class__(present, checks=checks, unique=unique, strict=False, coerce=False)
    import pandera.pandas as pa  # only here: ~0.5 s to load, with pyspark through it

    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return _problems_from_failures(err.failure_cases, schema, file)
    return []


def _check_applies(check: pa.Check | Rule, frame: pd.DataFrame) -> bool:
    """A dataframe-wide check runs when the frame has the columns it needs."""
    needs = FRAME_CHECK_COLUMNS.get(check.name, ((), ()))[1]
    return set(needs) <= set(frame.columns)


def _problems_from_failures(
    fc: pd.DataFrame, schema: pa.DataFrameSchema, file: str
) -> list[Problem]:
    """Turn pandera's failure cases (one row per failing cell) into one Problem per rule."""
    wide = {c.error: FRAME_CHECK_COLUMNS[c.name][0] for c in schema.checks}
    problems: list[Problem] = []
    fc = fc[fc["index"].notna()]
    # a column rule is one problem per column (rules of several columns may share their
    # wording, e.g. "a value >= 0"); a rule across columns, or the key, is one problem
    across = {*wide, "multiple_fields_uniqueness"}
    column = fc["column"].astype(str).where(~fc["check"].isin(across), "")
    for (check, _), group in fc.groupby([fc["check"], column], sort=False):
        rows = tuple(sorted({int(i) + 2 for i in group["index"]}))
        if check == "multiple_fields_uniqueness":
            cols = tuple(schema.unique)
            problems.append(
                Problem(
                    file, cols, f"one row per ({', '.join(cols)}); these rows repeat a key", rows
                )
            )
            continue
        cols = wide.get(check, (str(group["column"].iloc[0]),))
        first = group[group["column"] == cols[0]]
        problems.append(
            Problem(
                file, cols, str(check), rows, tuple(shown(v) for v in first["failure_case"].head(3))
            )
        )
    return problems


# --------------------------------------------------------------------------- public API


def validate(raw: pd.DataFrame, schema: str, label: str) -> pd.DataFrame:
    """Type and check ``raw`` against ``schema``; return the typed frame or raise. Messages
    name the file by ``label``.

    Integer columns come back as ``int64`` (nullable optional ones as ``Int64``), numbers as
    ``float64``, text as ``str``. Raises :class:`ValidationError` listing every problem.
    """
    return validate_coded(raw, schema, label)[0]


def validate_coded(
    raw: pd.DataFrame, schema: str, label: str
) -> tuple[pd.DataFrame, dict[str, Coded]]:
    """:func:`validate`, and the text and month columns as validation coded them: each row's
    code into the column's distinct values, as ``pandas.factorize`` (``sort=False``) of the
    typed column gives them."""
    if schema not in SPECS:
        raise InputError(f"unknown schema '{schema}'; expected one of {', '.join(SCHEMA_NAMES)}")
    spec = SPECS[schema]
    file = label
    if raw.empty:
        raise ValidationError(
            [Problem(file, spec.column_names[:1], "at least one data row")], file, schema
        )
    typed, problems, coded = type_columns(raw, spec, file)
    checked = not problems and _rules_hold(typed, spec, coded)
    if not checked and not any(p.missing_column for p in problems):
        problems += _rule_problems(typed, spec, file)
    if problems:
        problems.sort(key=lambda p: p.rows[0] if p.rows else 0)
        raise ValidationError(problems, file, schema)
    for col in spec.columns:
        if col.kind == "int" and col.name in typed:
            typed[col.name] = typed[col.name].astype("Int64" if col.nullable else "int64")
    return typed, coded


def check_source_ids(panel: pd.DataFrame, sources: pd.DataFrame, label: str) -> None:
    """Every ``source_id`` of a bank panel (named ``label`` in messages) must exist in its
    sources table."""
    known = set(sources["source_id"])
    missing = ~panel["source_id"].isin(known)
    if missing.any():
        problem = Problem(
            label,
            ("source_id",),
            "an id listed in sources.csv beside the file",
            rows_of(missing),
            found_in(panel["source_id"], missing),
        )
        raise ValidationError([problem], label, "bank_panel")


def summarise(frame: pd.DataFrame, schema: str, label: str, sources: pd.DataFrame | None) -> str:
    """One summary line for a validated table, naming it by ``label``."""
    n = len(frame)
    head = f"{label}: {schema} OK"
    if schema == "rm_month":
        months = frame["month"]
        return (
            f"{head}: {n:,} rows; {frame['rm_id'].nunique():,} RMs, "
            f"{frame['branch_id'].nunique():,} branches, {months.nunique():,} months "
            f"({months.min()} to {months.max()})"
        )
    extra = f"; {len(sources):,} sources" if sources is not None else ""
    return (
        f"{head}: {n:,} rows; {frame['bank_id'].nunique():,} banks, "
        f"{frame['metric'].nunique():,} metrics, {frame['period'].nunique():,} periods{extra}"
    )
