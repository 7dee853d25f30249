"""The three warehouse tables of docs/warehouse.md: their columns and keys, and their groupings.

Each table's **groupings** (:data:`GROUPINGS`) are the group-bys the build needs anyway
(customer-months per RM-month and branch and per customer, contacts added more than once per
``contact_id``, adds per RM-month with their quality flags). The rules of :mod:`wb.warehouse.rules` are counted inside
them, so the data are scanned once per grouping, not once per rule; the build reuses them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from wb.door.calendar import month_index_expr
from wb.errors import InputError
from wb.warehouse.patterns import bad_id_characters, looks_personal
from wb.warehouse.spark import on_spark

TABLES = ("customer_month", "wecom_contact", "quota")

Kind = Literal["text", "month", "timestamp", "number", "integer"]


#: How each kind is described to the user when a column has the wrong type.
KIND_TEXT = {
    "text": "text",
    "month": "YYYY-MM text or a date on the first of the month",
    "timestamp": "a timestamp (bank-local, no time zone)",
    "number": "a number",
    "integer": "an integer",
}


@dataclass(frozen=True)
class Column:
    """One declared column of a warehouse table.

    ``personal`` marks pseudonymous id columns whose values are checked, in the engine, for
    phone numbers, ID numbers, WeChat ids and e-mail addresses.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    personal: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: its columns and its key (example keys in reports come from it).
    ``per_rm_month``: at most one row per RM-month or branch-month, so on Spark its rows come
    back to Python and are checked in an in-process DuckDB
    (:meth:`wb.warehouse.source.Source.local`; four small Spark queries cost 0.7-1.2 s on the
    benchmark's 66,353 quota rows)."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    per_rm_month: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SPECS: dict[str, TableSpec] = {
    "customer_month": TableSpec(
        "customer_month",
        (
            Column("customer_id", "text", personal=True),
            Column("month", "month"),
            Column("rm_id", "text", nullable=True),
            Column("branch_id", "text", nullable=True),
            Column("aum_cny", "number"),
            Column("net_new_money_cny", "number", required=False, nullable=True),
            Column("product_sales_cny", "number", required=False, nullable=True),
        ),
        key=("customer_id", "month"),
    ),
    "wecom_contact": TableSpec(
        "wecom_contact",
        (
            Column("rm_id", "text"),
            Column("contact_id", "text", personal=True),
            Column("added_at", "timestamp"),
            Column("customer_id", "text", nullable=True, personal=True),
            Column("certified_at", "timestamp", nullable=True),
            Column("removed_at", "timestamp", nullable=True),
        ),
        key=("rm_id", "contact_id", "added_at"),
    ),
    "quota": TableSpec(
        "quota",
        (
            Column("branch_id", "text", required=False, nullable=True),
            Column("rm_id", "text", required=False, nullable=True),
            Column("month", "month"),
            Column("quota_target", "integer"),
        ),
        key=("branch_id", "rm_id", "month"),
        per_rm_month=True,
    ),
}

# ------------------------------------------------------------------------ problems


@dataclass(frozen=True)
class Problem:
    """One broken rule: table, column (none for a rule on files), rule, how many rows (or
    files: ``unit``) break it, up to five example keys (or file labels)."""

    table: str
    column: str
    rule: str
    expected: str
    rows: int | None
    examples: tuple[str, ...] = ()
    unit: str = "row"

    def __str__(self) -> str:
        plural = "s" if self.rows != 1 else ""
        count = "" if self.rows is None else f"{self.rows:,} {self.unit}{plural}: "
        column = f"column {self.column}: " if self.column else ""
        text = f"{self.table}: {column}rule {self.rule}: {count}expected {self.expected}"
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


#: Optional money columns of ``customer_month`` carried into the panel as sums.
OPTIONAL_MONEY = ("net_new_money_cny", "product_sales_cny")
#: Money columns of ``customer_month`` summed per RM-month (yuan).
MONEY = ("aum_cny", *OPTIONAL_MONEY)
#: Largest money value a row may hold, in yuan (10^15, a thousand trillion: beyond any
#: customer's holdings; larger values are unit or overflow errors, and would break the sums).
MAX_MONEY_CNY = 1e15


# ------------------------------------------------------------------------------- helpers


def month_text(column: ir.Value) -> ir.StringValue:
    """A month column as ``YYYY-MM`` text, whether stored as text or as a date/timestamp."""
    if column.type().is_string():
        return column
    return column.strftime("%Y-%m")


def complete(table: ir.Table, name: str) -> ir.Table:
    """Add the optional id columns a table lacks as typed nulls (e.g. a quota table with
    ``branch_id`` only gets an all-null ``rm_id``), so every rule and the build can refer to them."""
    missing = {
        c.name: ibis.null().cast("string")
        for c in SPECS[name].columns
        if not c.required and c.kind == "text" and c.name not in table.columns
    }
    return table.mutate(**missing) if missing else table


def kind_accepts(kind: Kind, dtype: ibis.DataType) -> bool:
    """Whether a column of Ibis type ``dtype`` can hold a column of this kind."""
    if kind == "text":
        return dtype.is_string()
    if kind == "month":
        return dtype.is_string() or dtype.is_date() or dtype.is_timestamp()
    if kind == "timestamp":
        return dtype.is_timestamp() or dtype.is_date()
    if kind == "number":
        return dtype.is_numeric()
    return dtype.is_integer()


# --------------------------------------------------------------------------- groupings

#: Distinct months one customer's month bit set can tell apart (:func:`customer_values`).
MONTH_BITS = 56


def bit_count(value: ir.IntegerValue, bits: int = MONTH_BITS) -> ir.IntegerValue:
    """How many of the lowest ``bits`` bits of a non-negative integer are one."""
    return sum(((value >> k) & 1 for k in range(1, bits)), value & 1)


#: How a grouping's rows are made from its table and the groupings built before it (of
#: earlier tables and of this one), by name: the table's own columns and any derived ones.
Rows = Callable[[ir.Table, dict[str, ir.Table]], ir.Table]


@dataclass(frozen=True)
class Grouping:
    """A group-by of one table that the build reuses and the table's rules are counted in.

    One row per distinct ``keys`` (columns of the grouping's rows; null is a key value too)
    with ``n_rows``, the table's rows in that group, and the aggregates ``values(rows)``. The
    rows are the table's, or ``rows(table, before)``: the table with more columns, derived from
    its own and joined from the groupings ``before`` it (each row of the table once).
    ``derived(grouping)`` adds columns computed once per group (the key's id judged once for
    the rows of other tables that join it). ``counts_rows``: the grouping also counts the row
    rules no grouping can judge per group (else one aggregate over the table does).
    ``repeated_only``: the grouping has one key and holds only the groups of more than one row
    (and, on DuckDB, the few single rows whose key shares a hash with another's:
    :func:`repeated_rows`); it judges no row rule and counts no rows of the table.
    ``per_rm_month``: one row per RM-month (or per branch of one), rows that come back to
    Python for the panel anyway; on Spark they come back as soon as they are grouped, and the
    rules' small aggregates over them and the panel's joins run in-process
    (:meth:`wb.warehouse.source.Source.keep`). No grouping's rows may join one.
    """

    name: str
    keys: tuple[str, ...]
    values: Callable[[ir.Table], dict[str, ir.Scalar]]
    counts_rows: bool = False
    repeated_only: bool = False
    rows: Rows | None = None
    derived: Callable[[ir.Table], dict[str, ir.Value]] | None = None
    per_rm_month: bool = False

    def rows_of(self, table: ir.Table, before: dict[str, ir.Table]) -> ir.Table:
        """The rows this grouping groups (before ``repeated_only`` keeps the repeated)."""
        return table if self.rows is None else self.rows(table, before)

    def of(self, rows: ir.Table, extra: dict[str, ir.Scalar] | None = None) -> ir.Table:
        """The grouping of ``rows`` (:meth:`rows_of`), with ``extra`` aggregates of them beside
        its own."""
        if self.repeated_only:
            rows = repeated_rows(rows, self.keys[0])
        grouped = rows.group_by(list(self.keys)).aggregate(
            n_rows=rows.count(), **self.values(rows), **(extra or {})
        )
        return grouped if self.derived is None else grouped.mutate(**self.derived(grouped))


def repeated_rows(table: ir.Table, key: str) -> ir.Table:
    """The rows of ``table`` whose ``key`` may occur in another row.

    On DuckDB those whose key's hash does: one group-by of a 64-bit hash costs DuckDB half the
    CPU of one of 10M text ids; a collision only lets a row through, and the rows through are
    grouped by the key itself. On Spark those whose key does, by a count over a window of the
    key (one shuffle of the rows, sorted by key): Spark's group-by of the hash reduced nothing
    before its shuffle (a partial aggregation: 11.3M contacts in, 10.1M out) and then read the
    table again for the semi-join, 7.5-8.0 s against 5.1-6.2 s on the benchmark's contacts in
    a warm JVM; DuckDB runs a window over text ids several times slower than the hash."""
    if on_spark(table):
        counted = table.mutate(rows_with_key=table.count().over(ibis.window(group_by=table[key])))
        return counted.filter(counted.rows_with_key > 1).select(*table.columns)
    hashed = table.mutate(key_hash=table[key].hash())
    counted = hashed.group_by("key_hash").aggregate(rows_with_hash=hashed.count())
    shared = counted.filter(counted.rows_with_hash > 1).select(shared_hash=counted.key_hash)
    kept = hashed.semi_join(shared, hashed.key_hash == shared.shared_hash)
    return kept.select(*table.columns)


def rm_month_values(t: ir.Table) -> dict[str, ir.Scalar]:
    """Per ``(rm_id, month, branch_id)``: ``aum_cny`` and the optional money columns present
    summed (yuan)."""
    return {name: t[name].cast("float64").sum() for name in MONEY if name in t.columns}


def customer_values(t: ir.Table) -> dict[str, ir.Scalar]:
    """Per ``customer_id``: ``first_index``, the smallest month index of its months
    (:func:`~wb.door.calendar.month_index_expr`; on valid months that of the earliest; an integer minimum costs DuckDB less than a text
    one), and the customer's months as a bit set for the unique-key screen: ``month_bits``, the sum over rows of ``2 ** (i mod
    MONTH_BITS)`` for month index ``i`` (null when no row has an index). A sum of ``k`` powers
    of two has at most ``k`` one bits, and exactly ``k`` when they are distinct, so with at
    most :data:`MONTH_BITS` rows the months are distinct only when ``month_bits`` has
    ``n_rows`` one bits: a repeated month carries into a higher bit, a month without an index
    adds none."""
    index = month_index_expr(t.month)
    # a cast, not a typed literal: Ibis writes ``literal(1, "int64")`` as a bare ``1``, which
    # Spark takes for a 32-bit INT whose shift wraps at 32 (bit 40 landing on bit 8), so most
    # customers' months looked repeated and the unique-key group-by ran on every row
    bit = ibis.literal(1).cast("int64") << (index % MONTH_BITS).abs()
    return {"first_index": index.min(), "month_bits": bit.sum()}


def customer_id_judged(g: ir.Table) -> dict[str, ir.Value]:
    """Per customer of the ``customers`` grouping: whether its id holds personal data
    (``customer_id_personal``) or a defective character (``customer_id_defect``),
    :mod:`wb.warehouse.patterns` searched once per customer (the rules of ``customer_id`` read
    them); a ``wecom_contact`` row certified to a customer takes these
    (:func:`add_facts`) instead of searching its id again (7M of the benchmark's 11M adds)."""
    return {
        "customer_id_personal": looks_personal(g.customer_id),
        "customer_id_defect": bad_id_characters(g.customer_id),
    }


def contact_values(t: ir.Table) -> dict[str, ir.Scalar]:
    """Per ``contact_id``: ``n_rms``, the distinct RMs that added it."""
    return {"n_rms": t.rm_id.nunique()}


def _ts(column: ir.Value) -> ir.TimestampValue:
    return column if column.type().is_timestamp() else column.cast("timestamp")


def add_facts(contacts: ir.Table, before: dict[str, ir.Table]) -> ir.Table:
    """Every ``wecom_contact`` row (an add) with its month and quality flags, from the
    ``customers`` grouping of ``customer_month`` (each customer's ``first_index``) and the
    ``contacts`` grouping of ``wecom_contact`` (each repeated contact's ``n_rms``) in
    ``before``; without ``customers`` (its table failed its type checks, so the build stops)
    no add is an existing customer's.

    Added columns: ``month_index`` (of ``added_at``, :func:`~wb.door.calendar.month_index_expr`:
    an integer, which the engines group and compare at a fraction of the cost of ``YYYY-MM``
    text formatted on every add), ``certified_30d`` (``certified_at - added_at <= 30 days``),
    ``existing_customer`` (certified within 30 days to a customer with a ``customer_month`` row
    in an earlier month, any RM or none), ``removed_30d`` / ``removed_90d`` (``removed_at -
    added_at <= 30 / 90 days``), ``shared_3plus`` (the ``contact_id`` was added by three or more
    distinct RMs over the whole table) and ``last3days`` (added on one of the last three
    calendar days of its month); with ``customers``, ``customer_id_personal`` and
    ``customer_id_defect``: the customer's judged id (:func:`customer_id_judged`), null when
    the ``customer_id`` is null or no customer of ``customer_month``.
    """
    added = _ts(contacts.added_at)
    certified = _ts(contacts.certified_at)
    removed = _ts(contacts.removed_at)
    day0 = added.date()
    facts = contacts.mutate(
        month_index=month_index_expr(added),
        certified_30d=(certified <= added + ibis.interval(days=30)).fill_null(False),
        removed_30d=(removed <= added + ibis.interval(days=30)).fill_null(False),
        removed_90d=(removed <= added + ibis.interval(days=90)).fill_null(False),
        last3days=(day0 + ibis.interval(days=3)).month() != day0.month(),
    )
    contact_rms = before["contacts"]
    shared = contact_rms.filter(contact_rms.n_rms >= 3).select(sid=contact_rms.contact_id)
    joined = facts.left_join(shared, facts.contact_id == shared.sid)
    judged: dict[str, ir.Value] = {}
    if "customers" in before:
        customers = before["customers"]
        first = customers.select(
            cid=customers.customer_id,
            first_index=customers.first_index,
            customer_id_personal=customers.customer_id_personal,
            customer_id_defect=customers.customer_id_defect,
        )
        joined = joined.left_join(first, joined.customer_id == first.cid)
        existing = joined.certified_30d & (joined.first_index < joined.month_index)
        judged = {name: joined[name] for name in ("customer_id_personal", "customer_id_defect")}
    else:
        existing = ibis.literal(False)
    return joined.select(
        *facts.columns,
        **judged,
        existing_customer=existing.fill_null(False),
        shared_3plus=joined.sid.notnull(),
    )


def add_counts(t: ir.Table) -> dict[str, ir.Scalar]:
    """Per ``(rm_id, month_index)`` of :func:`add_facts`: the adds certified within 30 days and
    those of each quality flag (docs/warehouse.md); ``n_rows`` is the adds."""
    return {
        "wecom_certified_adds": t.certified_30d.sum(),
        "adds_existing_customer": t.existing_customer.sum(),
        "adds_removed_30d": t.removed_30d.sum(),
        "adds_removed_90d": t.removed_90d.sum(),
        "adds_shared_3plus": t.shared_3plus.sum(),
        "adds_last3days": t.last3days.sum(),
    }


#: Each table's groupings, in the order they are built (a grouping's rows may join the
#: groupings before it). ``contacts`` holds only the contacts added more than once (0.6% of
#: the benchmark's 10M): the others can neither repeat a key nor be shared by three RMs, and
#: their ids' rules are row rules.
GROUPINGS: dict[str, tuple[Grouping, ...]] = {
    "customer_month": (
        # the branch a key, not a max and a min: Spark aggregates text min/max by sorting
        # every row (a SortAggregate), and the branch's id rules are judged once per group
        Grouping(
            "rm_months",
            ("rm_id", "month", "branch_id"),
            rm_month_values,
            counts_rows=True,
            per_rm_month=True,
        ),
        Grouping("customers", ("customer_id",), customer_values, derived=customer_id_judged),
    ),
    "wecom_contact": (
        Grouping("contacts", ("contact_id",), contact_values, repeated_only=True),
        # the build's adds per RM-month, counted in the same pass as the table's row rules
        # (the RM's id rules judged once per RM-month: a regex per add cost Spark more)
        Grouping(
            "adds",
            ("rm_id", "month_index"),
            add_counts,
            counts_rows=True,
            rows=add_facts,
            per_rm_month=True,
        ),
    ),
    "quota": (),
}
