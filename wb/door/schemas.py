"""Schemas of the inputs (docs/data.md): each table's columns, their kinds, and the rules its
rows must meet (:mod:`wb.door.table_specs`): the RM x month panel and its add-quality counts
here, the bank panel and its sources in :mod:`wb.door.bank_schemas`; all registered in
:data:`SPECS`. :mod:`wb.door.validation` checks a frame against them.
"""

from __future__ import annotations

from collections.abc import Iterable

from wb.door.bank_schemas import BANK_PANEL, SOURCES
from wb.door.calendar import MONTH_RE
from wb.door.table_specs import ColumnSpec, Kind, Rule, TableSpec, nonempty, nonnegative
from wb.errors import InputError

_MONTH_FORMAT = Rule(
    lambda s: s.str.match(MONTH_RE), "month_format", "a month as YYYY-MM (e.g. 2025-06)"
)


def _amount(name: str, kind: Kind, meaning: str, *, optional: bool = False) -> ColumnSpec:
    """A count or an amount of money that is never below zero; ``optional`` columns may be
    absent or empty."""
    return ColumnSpec(
        name,
        kind,
        required=not optional,
        nullable=optional,
        meaning=meaning,
        checks=(nonnegative(name),),
    )


_RM_MONTH_COLUMNS = (
    ColumnSpec("rm_id", "text", meaning="relationship manager", checks=(nonempty("rm_id"),)),
    ColumnSpec(
        "branch_id",
        "text",
        meaning="branch the RM sat in that month",
        checks=(nonempty("branch_id"),),
    ),
    ColumnSpec("month", "month", meaning="calendar month, YYYY-MM", checks=(_MONTH_FORMAT,)),
    _amount("wecom_adds", "int", "WeCom contacts newly added that month"),
    _amount("wecom_certified_adds", "int", "of those, real-name certified"),
    _amount("quota_target", "int", "monthly add quota in force, 0 = none"),
    _amount("aum_cny", "number", "month-end AUM of managed customers, yuan"),
    _amount("customers", "int", "managed customers, month-end", optional=True),
    ColumnSpec(
        "net_new_money_cny",
        "number",
        required=False,
        nullable=True,
        meaning="net new money, yuan",
    ),
    _amount("product_sales_cny", "number", "product sales, yuan", optional=True),
)

RM_MONTH = TableSpec(
    name="rm_month",
    columns=_RM_MONTH_COLUMNS,
    checks=(
        Rule(
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
