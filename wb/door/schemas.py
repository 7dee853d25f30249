"""Schemas of the inputs (docs/data.md): each table's columns, their kinds, and the
rules (pandera) its rows must meet. :mod:`wb.door.validation` checks a frame against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from wb.errors import InputError

if TYPE_CHECKING:  # pandera loads in ~0.5 s (and pyspark through it): only when rules run on it
    import pandera.pandas as pa

Kind = Literal["text", "month", "int", "number", "date"]

MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"
DATE_RE = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
#: A source's publication date to the precision it is printed: YYYY-MM-DD, YYYY-MM or YYYY.
SOURCE_DATE_RE = r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"
DATE_PRECISIONS = ("day", "month", "year", "none")
#: A reporting period: the part of the year and the year it ends in (FY2024, H1 2025, 9M 2025,
#: Q3 2025); group 1 is the part (with its space), group 2 the year. The one period grammar.
REPORTING_PERIOD_RE = r"(FY|H1 |9M |Q[1-4] )(\d{4})"
#: A panel row's period: a reporting period, or a date (YYYY-MM or YYYY-MM-DD).
PERIOD_RE = rf"^({REPORTING_PERIOD_RE}|\d{{4}}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)$"
ID_RE = r"^[a-z][a-z0-9_]*$"
QUALIFIERS = ("exact", "over", "about", "under")
CONFIDENCE = ("high", "medium", "low")
#: ``suspect`` rows stay in the panel for the record and are never selected or charted.
STATUSES = ("ok", "unverified", "suspect")
#: What a row that states no number says: a rise, a fall, or a loss (a level below zero).
DIRECTIONS = ("up", "down", "loss")
#: Metric-name suffixes whose values are fractions of one.
SHARE_SUFFIXES = ("_share", "_rate")
CHANGE_SUFFIXES = ("_yoy", "_growth")


@dataclass(frozen=True)
class Rule:
    """A rule rows must meet: ``fn`` maps a column (a table rule: the frame) to a boolean
    mask, True where the row meets it; ``error`` is what the user should have written.

    A column rule is element-wise (each value passes or fails on its own), so it may be
    checked on a column's distinct values. Missing values are exempt, as in pandera.
    """

    fn: Callable
    name: str
    error: str

    def check(self) -> pa.Check:
        """The rule as a pandera check."""
        import pandera.pandas as pa

        return pa.Check(self.fn, name=self.name, error=self.error)


@dataclass(frozen=True)
class ColumnSpec:
    """One declared column: its kind, whether it must be present and whether it may be empty."""

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    meaning: str = ""
    #: The column's value rules, when the table's rules come from its specs.
    checks: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """A declared table: its columns and its rules.

    The rules live either in the specs (each column's ``checks``, the table rules ``checks``
    and the key ``unique``), or, when ``custom_rules`` is given, in the pandera schema it
    builds. :attr:`rules` is the pandera schema either way, built on first use.
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    checks: tuple[Rule, ...] = ()
    unique: tuple[str, ...] = ()
    custom_rules: Callable[[], pa.DataFrameSchema] | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def rules_in_specs(self) -> bool:
        """Whether every rule is held in the specs (and can be checked without pandera)."""
        return self.custom_rules is None

    @cached_property
    def rules(self) -> pa.DataFrameSchema:
        """The table's rules as one pandera schema (pandera is imported here)."""
        return self.custom_rules() if self.custom_rules is not None else _rules_from(self)


# --------------------------------------------------------------------------- rules


def _check(fn, name: str, expected: str) -> Rule:
    """A rule whose error text is what the user should have written."""
    return Rule(fn, name, expected)


def _pandera_check(fn, name: str, expected: str) -> pa.Check:
    """:func:`_check` as a pandera check, for the rules written as pandera schemas."""
    return _check(fn, name, expected).check()


def _nonempty(name: str) -> Rule:
    return _check(lambda s: s.str.len() > 0, f"{name}_nonempty", "a non-empty id")


def _nonnegative(name: str) -> Rule:
    return _check(lambda s: s >= 0, f"{name}_ge0", "a value >= 0")


_MONTH_FORMAT = _check(
    lambda s: s.str.match(MONTH_RE), "month_format", "a month as YYYY-MM (e.g. 2025-06)"
)
#: The dtype a column of each kind has after reading (whole numbers are read as float so that
#: a missing one stays missing).
_DTYPES: dict[str, type] = {"text": str, "month": str, "int": float, "number": float}


def _rules_from(spec: TableSpec) -> pa.DataFrameSchema:
    """The pandera schema of a table whose rules live in its specs: one declaration per
    column. Missing values are the readers' concern (``nullable``)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            c.name: pa.Column(
                _DTYPES[c.kind], [r.check() for r in c.checks], nullable=True, required=c.required
            )
            for c in spec.columns
        },
        checks=[r.check() for r in spec.checks],
        unique=list(spec.unique) or None,
        strict=False,
        coerce=False,
    )


_RM_MONTH_COLUMNS = (
    ColumnSpec("rm_id", "text", meaning="relationship manager", checks=(_nonempty("rm_id"),)),
    ColumnSpec(
        "branch_id",
        "text",
        meaning="branch the RM sat in that month",
        checks=(_nonempty("branch_id"),),
    ),
    ColumnSpec("month", "month", meaning="calendar month, YYYY-MM", checks=(_MONTH_FORMAT,)),
    ColumnSpec(
        "wecom_adds",
        "int",
        meaning="WeCom contacts newly added that month",
        checks=(_nonnegative("wecom_adds"),),
    ),
    ColumnSpec(
        "wecom_certified_adds",
        "int",
        meaning="of those, real-name certified",
        checks=(_nonnegative("wecom_certified_adds"),),
    ),
    ColumnSpec(
        "quota_target",
        "int",
        meaning="monthly add quota in force, 0 = none",
        checks=(_nonnegative("quota_target"),),
    ),
    ColumnSpec(
        "aum_cny",
        "number",
        meaning="month-end AUM of managed customers, yuan",
        checks=(_nonnegative("aum_cny"),),
    ),
    ColumnSpec(
        "customers",
        "int",
        required=False,
        nullable=True,
        meaning="managed customers, month-end",
        checks=(_nonnegative("customers"),),
    ),
    ColumnSpec(
        "net_new_money_cny",
        "number",
        required=False,
        nullable=True,
        meaning="net new money, yuan",
    ),
    ColumnSpec(
        "product_sales_cny",
        "number",
        required=False,
        nullable=True,
        meaning="product sales, yuan",
        checks=(_nonnegative("product_sales"),),
    ),
)

RM_MONTH = TableSpec(
    name="rm_month",
    columns=_RM_MONTH_COLUMNS,
    checks=(
        _check(
            lambda d: ~((d["wecom_certified_adds"] > d["wecom_adds"]) & (d["wecom_adds"] >= 0)),
            "certified_le_adds",
            "wecom_certified_adds <= wecom_adds (certified adds are a subset of the month's adds)",
        ),
    ),
    unique=("rm_id", "month"),
)


#: The add-quality counts of ``add_quality.parquet`` (``wb warehouse build``), in the order of
#: docs/warehouse.md, each with what its share of an RM-month's adds means.
ADD_QUALITY_COUNTS: dict[str, str] = {
    "adds_existing_customer": "an existing customer of the bank",
    "adds_removed_30d": "removed within 30 days",
    "adds_removed_90d": "removed within 90 days",
    "adds_shared_3plus": "a ring contact (three or more RMs added it)",
    "adds_last3days": "added in the month's last three days",
}

_ADD_QUALITY_KEYS = ("rm_id", "month", "wecom_adds", "wecom_certified_adds")
#: ``add_quality.parquet``: per (rm_id, month) of the built panel, its adds and their quality
#: counts. Written by ``wb warehouse build``, read by ``wb uplift --quality``; not a schema of
#: ``wb validate`` (:data:`SPECS`).
ADD_QUALITY = TableSpec(
    name="add_quality",
    columns=(
        *(c for c in _RM_MONTH_COLUMNS if c.name in _ADD_QUALITY_KEYS),
        *(
            ColumnSpec(name, "number", meaning=f"adds: {m}")
            for name, m in ADD_QUALITY_COUNTS.items()
        ),
    ),
    unique=("rm_id", "month"),
)


def _column_or_na(d: pd.DataFrame, name: str) -> pd.Series:
    """An optional column, or all-missing when the file does not have it."""
    return d[name] if name in d else pd.Series(np.nan, index=d.index, dtype=object)


def _metric_endswith(d: pd.DataFrame, suffixes: tuple[str, ...]) -> pd.Series:
    return d["metric"].str.endswith(suffixes).fillna(False).astype(bool)


def _bank_panel_rules() -> pa.DataFrameSchema:
    """The bank panel's rules (pandera is imported here)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "bank_id": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.str.match(ID_RE),
                    "bank_id_format",
                    "a short lower-case id such as 'ccb'",
                ),
                nullable=True,
            ),
            "period": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.str.match(PERIOD_RE),
                    "period_format",
                    "a period: FY2024, H1 2025, 9M 2025, Q3 2025, or a date 2025-07-31",
                ),
                nullable=True,
            ),
            "metric": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.str.match(ID_RE),
                    "metric_format",
                    "a snake_case metric name such as 'retail_aum'",
                ),
                nullable=True,
            ),
            "value": pa.Column(float, nullable=True),
            "direction": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.isin(DIRECTIONS),
                    "direction_values",
                    "empty, or one of "
                    + ", ".join(DIRECTIONS)
                    + " for a row that states no number",
                ),
                nullable=True,
                required=False,
            ),
            "status": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.isin(STATUSES), "status_values", "one of " + ", ".join(STATUSES)
                ),
                nullable=True,
                required=False,
            ),
            "qualifier": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.isin(QUALIFIERS),
                    "qualifier_values",
                    "one of " + ", ".join(QUALIFIERS),
                ),
                nullable=True,
            ),
            "source_id": pa.Column(
                str,
                _pandera_check(lambda s: s.str.len() > 0, "source_id_nonempty", "a source id"),
                nullable=True,
            ),
            "quote": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.str.strip().str.len() > 0,
                    "quote_nonempty",
                    "the passage of the source that carries the number",
                ),
                nullable=True,
            ),
            "confidence": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.isin(CONFIDENCE),
                    "confidence_values",
                    "one of " + ", ".join(CONFIDENCE),
                ),
                nullable=True,
                required=False,
            ),
        },
        checks=[
            _pandera_check(
                lambda d: d["value"].notna() | _column_or_na(d, "direction").notna(),
                "value_or_direction",
                "a value, or (for a row that states no number) a direction: "
                + ", ".join(DIRECTIONS),
            ),
            _pandera_check(
                lambda d: d["value"].isna() | _column_or_na(d, "direction").isna(),
                "value_xor_direction",
                "a value or a direction, not both",
            ),
            _pandera_check(
                lambda d: (
                    _column_or_na(d, "status").fillna("ok").eq("ok")
                    | _column_or_na(d, "status_reason").fillna("").str.strip().str.len().gt(0)
                ),
                "status_reason_given",
                "a status_reason for every unverified or suspect row",
            ),
            _pandera_check(
                lambda d: ~(_metric_endswith(d, SHARE_SUFFIXES) & (d["value"].abs() > 1)),
                "share_is_fraction",
                "a fraction between -1 and 1 for a share or rate (0.5674 for 56.74%)",
            ),
            _pandera_check(
                lambda d: ~(_metric_endswith(d, CHANGE_SUFFIXES) & (d["value"].abs() > 10)),
                "change_is_fraction",
                "a change as a fraction (0.142 for +14.2%); |value| above 10 looks like a percent",
            ),
        ],
        strict=False,
        coerce=False,
    )


BANK_PANEL = TableSpec(
    name="bank_panel",
    columns=(
        ColumnSpec("bank_id", "text", meaning="short stable bank id"),
        ColumnSpec("period", "text", meaning="FY2024, H1 2025 or a date"),
        ColumnSpec("metric", "text", meaning="metric name"),
        ColumnSpec("value", "number", nullable=True, meaning="value in canonical units"),
        ColumnSpec("qualifier", "text", meaning="exact, over, about or under"),
        ColumnSpec("source_id", "text", meaning="key into sources.csv"),
        ColumnSpec("quote", "text", meaning="the passage that carries the number"),
        ColumnSpec("bank_name", "text", required=False, nullable=True, meaning="bank name"),
        ColumnSpec(
            "basis",
            "text",
            required=False,
            nullable=True,
            meaning="definition or basis of the figure",
        ),
        ColumnSpec(
            "direction",
            "text",
            required=False,
            nullable=True,
            meaning="up, down or loss, for a row that states no number",
        ),
        ColumnSpec(
            "definition",
            "text",
            required=False,
            nullable=True,
            meaning="what the figure measures, in the researcher's words",
        ),
        ColumnSpec(
            "confidence", "text", required=False, nullable=True, meaning="high, medium or low"
        ),
        ColumnSpec(
            "status", "text", required=False, nullable=True, meaning="ok, unverified or suspect"
        ),
        ColumnSpec(
            "status_reason",
            "text",
            required=False,
            nullable=True,
            meaning="why a row is unverified or suspect",
        ),
        ColumnSpec("note", "text", required=False, nullable=True, meaning="free text"),
    ),
    custom_rules=_bank_panel_rules,
)


def _sources_rules() -> pa.DataFrameSchema:
    """The sources table's rules (pandera is imported here)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "source_id": pa.Column(
                str,
                _pandera_check(lambda s: s.str.len() > 0, "sid_nonempty", "an id"),
                nullable=True,
                unique=True,
            ),
            "title": pa.Column(
                str,
                _pandera_check(lambda s: s.str.len() > 0, "title_nonempty", "a title"),
                nullable=True,
            ),
            "publisher": pa.Column(str, nullable=True),
            "date": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.str.match(SOURCE_DATE_RE),
                    "date_format",
                    "a date as printed: YYYY-MM-DD, YYYY-MM or YYYY (empty when none is shown)",
                ),
                nullable=True,
            ),
            "url": pa.Column(str, nullable=True),
            "date_precision": pa.Column(
                str,
                _pandera_check(
                    lambda s: s.isin(DATE_PRECISIONS),
                    "date_precision_values",
                    "one of " + ", ".join(DATE_PRECISIONS),
                ),
                nullable=True,
                required=False,
            ),
        },
        strict=False,
        coerce=False,
    )


SOURCES = TableSpec(
    name="sources",
    columns=(
        ColumnSpec("source_id", "text"),
        ColumnSpec("title", "text"),
        ColumnSpec("publisher", "text"),
        ColumnSpec("date", "text", nullable=True),
        ColumnSpec("url", "text", nullable=True),
        ColumnSpec("date_precision", "text", required=False, nullable=True),
        ColumnSpec("date_as_written", "text", required=False, nullable=True),
    ),
    custom_rules=_sources_rules,
)

#: Dataframe-wide checks: (the columns an error names, first reported; the columns it needs).
FRAME_CHECK_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "certified_le_adds": (("wecom_certified_adds", "wecom_adds"),) * 2,
    "share_is_fraction": (("value", "metric"),) * 2,
    "change_is_fraction": (("value", "metric"),) * 2,
    "value_or_direction": (("value", "direction"), ("value",)),
    "value_xor_direction": (("value", "direction"), ("value",)),
    "status_reason_given": (("status", "status_reason"), ("status",)),
}

SPECS: dict[str, TableSpec] = {s.name: s for s in (RM_MONTH, BANK_PANEL, SOURCES)}
SCHEMA_NAMES = ("rm_month", "bank_panel")


def infer_schema(columns: Iterable[str], label: str) -> str:
    """Guess the schema from the column names; raise :class:`InputError` (naming the file by
    ``label``) when neither fits."""
    cols = set(columns)
    if {"rm_id", "month"} <= cols:
        return "rm_month"
    if {"bank_id", "metric"} <= cols:
        return "bank_panel"
    raise InputError(
        f"{label}: cannot tell the schema from the columns; expected rm_month columns "
        f"({', '.join(RM_MONTH.column_names[:7])}) or bank_panel columns "
        f"({', '.join(BANK_PANEL.column_names[:7])}); or pass --schema"
    )
