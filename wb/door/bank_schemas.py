"""The bank panel and its sources table, declared (docs/data.md): the id, period, qualifier and
confidence grammars, and the rules (pandera) a row must meet. Registered with the other
inputs in :mod:`wb.door.schemas`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wb.door.table_specs import ColumnSpec, TableSpec, pandera_check

if TYPE_CHECKING:  # pandera loads in ~0.5 s (and pyspark through it): only when rules run on it
    import pandera.pandas as pa

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


def _column_or_na(d: pd.DataFrame, name: str) -> pd.Series:
    """An optional column, or all-missing when the file does not have it."""
    return d[name] if name in d else pd.Series(np.nan, index=d.index, dtype=object)


def _metric_endswith(d: pd.DataFrame, suffixes: tuple[str, ...]) -> pd.Series:
    return d["metric"].str.endswith(suffixes).fillna(False).astype(bool)


def _text(check: pa.Check, *, required: bool = True, unique: bool = False) -> pa.Column:
    """A text column that may be empty (missing values are the readers' concern)."""
    import pandera.pandas as pa

    return pa.Column(str, check, nullable=True, required=required, unique=unique)


def _matches(pattern: str, name: str, expected: str) -> pa.Check:
    return pandera_check(lambda s: s.str.match(pattern), name, expected)


def _one_of(values: tuple[str, ...], name: str, expected: str | None = None) -> pa.Check:
    """Values from ``values``; the error lists them unless ``expected`` says more."""
    return pandera_check(lambda s: s.isin(values), name, expected or "one of " + ", ".join(values))


def _filled(name: str, expected: str) -> pa.Check:
    return pandera_check(lambda s: s.str.len() > 0, name, expected)


def _bank_panel_rules() -> pa.DataFrameSchema:
    """The bank panel's rules (pandera is imported here)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "bank_id": _text(
                _matches(ID_RE, "bank_id_format", "a short lower-case id such as 'ccb'")
            ),
            "period": _text(
                _matches(
                    PERIOD_RE,
                    "period_format",
                    "a period: FY2024, H1 2025, 9M 2025, Q3 2025, or a date 2025-07-31",
                )
            ),
            "metric": _text(
                _matches(ID_RE, "metric_format", "a snake_case metric name such as 'retail_aum'")
            ),
            "value": pa.Column(float, nullable=True),
            "direction": _text(
                _one_of(
                    DIRECTIONS,
                    "direction_values",
                    f"empty, or one of {', '.join(DIRECTIONS)} for a row that states no number",
                ),
                required=False,
            ),
            "status": _text(_one_of(STATUSES, "status_values"), required=False),
            "qualifier": _text(_one_of(QUALIFIERS, "qualifier_values")),
            "source_id": _text(_filled("source_id_nonempty", "a source id")),
            "quote": _text(
                pandera_check(
                    lambda s: s.str.strip().str.len() > 0,
                    "quote_nonempty",
                    "the passage of the source that carries the number",
                )
            ),
            "confidence": _text(_one_of(CONFIDENCE, "confidence_values"), required=False),
        },
        checks=[
            pandera_check(
                lambda d: d["value"].notna() | _column_or_na(d, "direction").notna(),
                "value_or_direction",
                "a value, or (for a row that states no number) a direction: "
                + ", ".join(DIRECTIONS),
            ),
            pandera_check(
                lambda d: d["value"].isna() | _column_or_na(d, "direction").isna(),
                "value_xor_direction",
                "a value or a direction, not both",
            ),
            pandera_check(
                lambda d: (
                    _column_or_na(d, "status").fillna("ok").eq("ok")
                    | _column_or_na(d, "status_reason").fillna("").str.strip().str.len().gt(0)
                ),
                "status_reason_given",
                "a status_reason for every unverified or suspect row",
            ),
            pandera_check(
                lambda d: ~(_metric_endswith(d, SHARE_SUFFIXES) & (d["value"].abs() > 1)),
                "share_is_fraction",
                "a fraction between -1 and 1 for a share or rate (0.5674 for 56.74%)",
            ),
            pandera_check(
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
            "source_id": _text(_filled("sid_nonempty", "an id"), unique=True),
            "title": _text(_filled("title_nonempty", "a title")),
            "publisher": pa.Column(str, nullable=True),
            "date": _text(
                _matches(
                    SOURCE_DATE_RE,
                    "date_format",
                    "a date as printed: YYYY-MM-DD, YYYY-MM or YYYY (empty when none is shown)",
                )
            ),
            "url": pa.Column(str, nullable=True),
            "date_precision": _text(
                _one_of(DATE_PRECISIONS, "date_precision_values"), required=False
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
