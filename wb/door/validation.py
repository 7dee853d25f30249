"""One-pass validation of an input frame against its schema (:mod:`wb.door.schemas`), with
row-level messages.

Validation has two stages, both lazy (every problem in the file is found in one pass):

1. **typing**: each declared column is parsed from what the reader gave (text for CSV,
   objects for XLSX, typed columns for Parquet) to its declared kind; a value that is not of
   that kind (``3.5`` for an integer, ``abc`` for a number, ``2024-13`` for a month) is a
   problem, never silently coerced;
2. **rules**: ranges, cross-column rules, uniqueness. When every rule lives in the specs
   (``rm_month``) they are first checked directly, text columns on their distinct values; only
   when one fails does pandera (``lazy=True``) run them again, to name every failing row.

Each :class:`Problem` names the file, the column(s), what was expected and the spreadsheet
rows (header = row 1, first data row = row 2), summarised when there are many.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wb.door import privacy
from wb.door.schemas import FRAME_CHECK_COLUMNS, SCHEMA_NAMES, SPECS, ColumnSpec, Rule, TableSpec
from wb.errors import InputError

if TYPE_CHECKING:
    import pandera.pandas as pa

#: A text column typed: each row's code (-1 = missing) into the column's distinct values.
Coded = tuple[np.ndarray, pd.Series]

#: Rows listed per problem before the rest is counted.
MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One kind of failure on one column (or column set), over one or more rows."""

    file: str
    columns: tuple[str, ...]
    expected: str
    rows: tuple[int, ...] = ()
    found: tuple[str, ...] = field(default=(), compare=False)
    missing_column: bool = False

    def __str__(self) -> str:
        cols = ", ".join(f"'{c}'" for c in self.columns)
        where = f"column{'s' if len(self.columns) > 1 else ''} {cols}"
        if self.rows:
            where += f", {format_rows(self.rows)}"
        text = f"{self.file}: {where}: expected {self.expected}"
        if self.found:
            shown = ", ".join(self.found[:3])
            text += f"; found {shown}" + (" …" if len(self.found) > 3 else "")
        return text


def format_rows(rows: Iterable[int]) -> str:
    """'row 5', 'rows 5, 9' or 'rows 2, 3, 4, 5, 6 and 1,234 more (1,239 rows)'."""
    ordered = sorted(set(rows))
    if len(ordered) == 1:
        return f"row {ordered[0]}"
    shown = ", ".join(str(r) for r in ordered[:MAX_ROWS_SHOWN])
    rest = len(ordered) - MAX_ROWS_SHOWN
    if rest > 0:
        return f"rows {shown} and {rest:,} more ({len(ordered):,} rows)"
    return f"rows {shown}"


class ValidationError(InputError):
    """Invalid input: carries every :class:`Problem` found (exit 2)."""

    def __init__(self, problems: list[Problem], file: str, schema: str):
        self.problems = problems
        head = (
            f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''} ({schema} schema)"
        )
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


# --------------------------------------------------------------------------- typing


def _rows(mask: pd.Series | np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) + 2 for i in np.flatnonzero(np.asarray(mask)))


def _found(series: pd.Series, mask: pd.Series) -> tuple[str, ...]:
    return tuple(_show(v) for v in series[mask].head(3).tolist())


def _as_text(series: pd.Series) -> pd.Series:
    """Text as given; numbers from XLSX/Parquet become their plain text ('7', not '7.0')."""
    if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        return series.str.strip()

    def one(v: object) -> object:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return np.nan
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()

    mapped = series.map(one)
    # pandas < 3 turns a missing value into the text "nan" in astype("str"): put it back
    return mapped.astype("str").mask(mapped.isna())


def _as_month(series: pd.Series) -> pd.Series:
    """Months as 'YYYY-MM'; a spreadsheet date on the 1st of a month (Excel's reading of
    '2024-01') is accepted as that month. Anything else stays as text for the format rule."""

    def one(v: object) -> object:
        if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "strftime"):
            ts = pd.Timestamp(v)
            if ts.day == 1 and ts.hour == ts.minute == ts.second == 0:
                return ts.strftime("%Y-%m")
        return v

    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_object_dtype(series):
        series = series.map(one)
    return _as_text(series)


#: A number with thousands separators in their places: 1,234 or 172,889,567.50.
_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
#: Largest integer a float64 holds exactly (2^53): integer columns beyond it are refused.
MAX_EXACT_INT = 2**53


def _exact_integers(series: pd.Series) -> bool:
    """Whether a column holds NumPy integers between -2^53 and 2^53 (as Parquet gives them):
    whole, present, finite and exact as float64, so no number rule can fail on it."""
    return (
        series.dtype.kind in "iu"
        and isinstance(series.dtype, np.dtype)
        and bool(series.min() >= -MAX_EXACT_INT and series.max() <= MAX_EXACT_INT)
    )


def _as_number(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse to float64; return (values, mask of values present but not numbers, mask of
    numbers written with a decimal comma or misplaced separators). Commas are read only as
    thousands separators in their places (``172,889,567.50``); ``172889567,50`` is refused,
    never read as a hundred times the amount."""
    none = pd.Series(False, index=series.index)
    if pd.api.types.is_bool_dtype(series):
        return pd.Series(np.nan, index=series.index), series.notna(), none
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64"), none, none
    text = _as_text(series)
    comma = text.str.contains(",", regex=False, na=False)
    misplaced = none
    if comma.any():
        grouped = comma & text.str.match(_GROUPED, na=False)
        misplaced = comma & ~grouped
        text = text.mask(grouped, text.str.replace(",", "", regex=False)).mask(misplaced)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = text.notna() & values.isna()
    return values, bad, misplaced


def _coded(series: pd.Series, kind: str) -> tuple[Coded, bool]:
    """A text or month column typed (:func:`_as_text`, :func:`_as_month`) as codes into its
    distinct typed values, and whether typing left every value (and the dtype) as it was.

    A column of strings is typed once per distinct value; any other (numbers and dates from
    XLSX) row by row, since ``True == 1 == 1.0`` would share a distinct value but are typed
    apart."""
    typer = _as_month if kind == "month" else _as_text
    codes, uniques = pd.factorize(series)
    if pd.api.types.infer_dtype(uniques, skipna=True) != "string":
        codes, values = pd.factorize(typer(series))
        return (codes, pd.Series(values)), False
    typed = typer(pd.Series(uniques))
    regroup, values = pd.factorize(typed)  # ' a' and 'a' are one value once stripped
    unchanged = typed.dtype == series.dtype and typed.equals(pd.Series(uniques))
    return (np.append(regroup, -1)[codes], pd.Series(values)), unchanged


def _expand(coded: Coded, index: pd.Index) -> pd.Series:
    """The typed column of each row (missing where the code is -1)."""
    codes, values = coded
    return pd.Series(values.array.take(codes, allow_fill=True), index=index)


def _screen_text(name: str, coded: Coded, file: str) -> tuple[Coded, list[Problem]]:
    """Problems of a text column: values that look like personal data (phone, ID number,
    WeChat id, e-mail) or hold invisible characters (NUL, zero-width) that would make one id
    two. Flagged values are masked (coded -1) and never shown. Each distinct value is scanned
    once."""
    problems = []
    codes, values = coded
    uniques = values.astype(object).astype(str)
    for flagged, expected in (
        (
            privacy.looks_personal(uniques),
            ("a pseudonymous id" if name.endswith("_id") else "text")
            + ", not personal data (values look like phone or ID numbers, WeChat ids or "
            "e-mails; not shown)",
        ),
        (
            _invisible(uniques),
            "text without control, zero-width or right-to-left characters (a NUL byte, ...)",
        ),
    ):
        if flagged.any():
            looks = np.append(flagged, False)[codes]
            problems.append(Problem(file, (name,), expected, _rows(looks)))
            codes = np.where(looks, -1, codes)
    return (codes, values), problems


def _invisible(text: pd.Series) -> np.ndarray:
    """Whether each value holds a character of :data:`wb.door.privacy.INVISIBLE`, searched only in values
    with an ASCII control character or any non-ASCII one (one vectorised pass)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow = pa.array(text.to_numpy(dtype=object), type=pa.large_string())
    maybe = pc.or_(
        pc.invert(pc.string_is_ascii(arrow)),
        pc.match_substring_regex(arrow, r"[\x00-\x08\x0b-\x1f\x7f]"),
    )
    return privacy.matching(text, privacy.INVISIBLE, maybe.to_numpy(zero_copy_only=False))


def _type_columns(
    raw: pd.DataFrame, spec: TableSpec, file: str
) -> tuple[pd.DataFrame, list[Problem], dict[str, Coded]]:
    """The declared columns typed, the problems found, and the text and month columns coded
    (:func:`_coded`, for :func:`_rules_hold`)."""
    problems: list[Problem] = []
    typed = {}
    coded: dict[str, Coded] = {}
    for col in spec.columns:
        if col.name not in raw.columns:
            if col.required:
                problems.append(
                    Problem(
                        file,
                        (col.name,),
                        f"a column '{col.name}' ({col.meaning}); the file has no such column",
                        missing_column=True,
                    )
                )
            continue
        series = raw[col.name]
        if col.kind in ("int", "number") and _exact_integers(series):
            # integers stay as they are (no copy); the rules read them as float (_rule_problems)
            values = series if col.kind == "int" else series.astype("float64")
            missing = np.zeros(len(series), dtype=bool)
        elif col.kind in ("int", "number"):
            values, bad, comma = _as_number(series)
            if bad.any():
                what = "an integer" if col.kind == "int" else "a number"
                problems.append(Problem(file, (col.name,), what, _rows(bad), _found(series, bad)))
            if comma.any():
                problems.append(
                    Problem(
                        file,
                        (col.name,),
                        "a number with a decimal point (172889567.50); a comma only between "
                        "groups of three digits (172,889,567.50)",
                        _rows(comma),
                        _found(series, comma),
                    )
                )
            missing = values.isna() & ~bad & ~comma
            if col.kind == "int":
                fractional = values.notna() & (values != np.floor(values))
                if fractional.any():
                    problems.append(
                        Problem(
                            file,
                            (col.name,),
                            "a whole number (an integer count)",
                            _rows(fractional),
                            _found(series, fractional),
                        )
                    )
                    values = values.mask(fractional)
                huge = values.abs() > MAX_EXACT_INT
                if huge.any():
                    problems.append(
                        Problem(
                            file,
                            (col.name,),
                            f"an integer between -{MAX_EXACT_INT:,} and {MAX_EXACT_INT:,} (2^53)",
                            _rows(huge),
                        )
                    )
                    values = values.mask(huge)
            infinite = np.isinf(values)
            if infinite.any():
                problems.append(Problem(file, (col.name,), "a finite number", _rows(infinite)))
                values = values.mask(infinite)
        else:
            (codes, distinct), unchanged = _coded(series, col.kind)
            empty = distinct.isna() | (distinct == "") if col.kind != "text" else distinct.isna()
            missing = np.append(empty.to_numpy(dtype=bool), True)[codes]
            found: list[Problem] = []
            if col.kind == "text":
                (codes, distinct), found = _screen_text(col.name, (codes, distinct), file)
            problems += found
            coded[col.name] = codes, distinct
            values = series if unchanged and not found else _expand(coded[col.name], raw.index)
        if not col.nullable and missing.any():
            problems.append(
                Problem(file, (col.name,), "a value (required, found empty)", _rows(missing))
            )
        typed[col.name] = values
    return pd.DataFrame(typed, index=raw.index, copy=False), problems, coded


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


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return privacy.redact(value)


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
                file, cols, str(check), rows, tuple(_show(v) for v in first["failure_case"].head(3))
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
    typed, problems, coded = _type_columns(raw, spec, file)
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
            _rows(missing),
            _found(panel["source_id"], missing),
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
