"""The typing stage of validation (:mod:`wb.door.validation`): each declared column is parsed
from what the reader gave (text for CSV, objects for XLSX, typed columns for Parquet) to its
declared kind; a value that is not of that kind (``3.5`` for an integer, ``abc`` for a number,
``2024-13`` for a month) is a problem, never silently coerced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wb.door import privacy
from wb.door.problems import Problem, found_in, rows_of
from wb.door.table_specs import TableSpec

#: A text column typed: each row's code (-1 = missing) into the column's distinct values.
Coded = tuple[np.ndarray, pd.Series]


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
            problems.append(Problem(file, (name,), expected, rows_of(looks)))
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


def type_columns(
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
                problems.append(
                    Problem(file, (col.name,), what, rows_of(bad), found_in(series, bad))
                )
            if comma.any():
                problems.append(
                    Problem(
                        file,
                        (col.name,),
                        "a number with a decimal point (172889567.50); a comma only between "
                        "groups of three digits (172,889,567.50)",
                        rows_of(comma),
                        found_in(series, comma),
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
                            rows_of(fractional),
                            found_in(series, fractional),
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
                            rows_of(huge),
                        )
                    )
                    values = values.mask(huge)
            infinite = np.isinf(values)
            if infinite.any():
                problems.append(Problem(file, (col.name,), "a finite number", rows_of(infinite)))
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
                Problem(file, (col.name,), "a value (required, found empty)", rows_of(missing))
            )
        typed[col.name] = values
    return pd.DataFrame(typed, index=raw.index, copy=False), problems, coded
