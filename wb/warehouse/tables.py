"""The three warehouse tables of docs/warehouse.md: their columns, keys and rules.

Every rule is an **Ibis rule expression** (:data:`RULES`): a predicate on a row, or a group-by
that finds the groups breaking it. They run on both engines and are counted inside the
**groupings** (:data:`GROUPINGS`), the group-bys of each table that the build needs anyway
(customer-months per RM-month and branch and per customer, contacts added more than once
per ``contact_id``), so the data are scanned once per grouping (twice for the contacts), not once
per rule:

* a row rule on the key columns (ids, months) of a grouping of every group is judged once per
  group and weighs ``n_rows``; any other row rule adds one count of its breaking rows to the
  grouping that ``counts_rows`` (or, for a table without one, to one aggregate over the table);
* a group rule (unique keys) has a **screen** on a grouping, true on every group that may
  break it (e.g. a customer whose months are not all distinct). Only when a screen is true
  somewhere does the rule's exact group-by run, on those groups' rows. One branch per
  RM-month is a group-by of the ``rm_months`` grouping itself (one row per branch of an
  RM-month: far fewer rows than the table).

Example keys are fetched only for broken rules (``filter`` + ``limit(5)``).

The column rules are also declared as a **pandera.ibis schema** per table
(:func:`pandera_schema`: not null, non-empty ids, ``YYYY-MM`` months, money >= 0, quota > 0),
which ``build.json`` names per rule. It is not run by the build: a pandera.ibis validation is
one more pass over the table per check, where the groupings count the same rules for free, and
on Spark it numbers rows with ``row_number() OVER ()``, a window without a partition that moves
every row onto one executor (see docs/warehouse.md). Rules pandera cannot state
(cross-column, per-group, personal data by pattern) exist only as Ibis expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from wb.door import privacy
from wb.door.calendar import MONTH_RE, month_index_expr
from wb.door.column_types import MAX_EXACT_INT
from wb.errors import InputError

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
    """A warehouse table: its columns and its key (example keys in reports come from it)."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

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


# ------------------------------------------------------------------ personal data in engine


#: The character class of an e-mail's local part in :data:`wb.door.privacy.VALUE_PATTERN`.
_EMAIL_LOCAL = "[A-Za-z0-9._%+-]"


def engine_personal_pattern() -> str:
    """wb.privacy's value recogniser rewritten for the engines' regex dialects.

    DuckDB uses RE2 and Spark Java regex; RE2 has no look-around, so ``(?<!\\d)`` / ``(?!\\d)``
    become explicit boundaries. Inside ids the boundary is any non-alphanumeric character (or
    the ends), so a hash whose hex digits happen to run 11 long is not taken for a phone
    number, while ``tel:13812345678`` or ``+86 138...`` still are. Python's ``\\d`` (a digit of
    any script, fullwidth ones too) is ``\\p{Nd}`` in both engines.

    The e-mail's local part is searched for as its last character only (``x@host.cn`` is found
    wherever ``name.x@host.cn`` is, and only there): Java's backtracking search ran the greedy
    ``[...]+`` to the end of an id from every position, half of Spark's time on the pattern.
    """
    text = privacy.VALUE_PATTERN.pattern
    local = _EMAIL_LOCAL
    if local + "+@" not in text:
        raise RuntimeError("wb.privacy.VALUE_PATTERN's e-mail is not the one this module ports")
    text = text.replace(local + "+@", local + "@")
    text = text.replace(r"[\dXx]", r"[\p{Nd}Xx]")
    text = text.replace(r"(?<!\d)", r"(?:^|[^\p{Nd}A-Za-z])")
    text = text.replace(r"(?!\d)", r"(?:$|[^\p{Nd}A-Za-z])")
    text = text.replace(r"\d", r"\p{Nd}")
    if re.search(r"\(\?<?[!=]", text):  # a look-around the engines cannot run
        raise RuntimeError("wb.privacy.VALUE_PATTERN has a look-around this module cannot port")
    return text


#: An id character the engines refuse (:func:`bad_id_characters`): invisible anywhere, a space
#: at either end, a Chinese character anywhere; RE2 and Java regex alike.
ID_DEFECT_PATTERN = "|".join(
    (
        privacy.char_class(privacy.INVISIBLE_RANGES, engine=True),
        "^" + privacy.char_class(privacy.SPACE_RANGES, engine=True),
        privacy.char_class(privacy.SPACE_RANGES, engine=True) + "$",
        privacy.char_class(privacy.HAN_RANGES, engine=True),
    )
)


def bad_id_characters(column: ir.StringValue) -> ir.BooleanValue:
    """In-engine test: does this id hold an invisible character (NUL, zero-width,
    right-to-left), a space at either end or a Chinese character (:mod:`wb.door.privacy`)?
    Each would make one customer or RM two, or put a name where a pseudonymous id belongs."""
    return column.re_search(ID_DEFECT_PATTERN).fill_null(False)


PERSONAL_PATTERN = engine_personal_pattern()


def looks_personal(column: ir.StringValue) -> ir.BooleanValue:
    """In-engine test: does this id value hold a phone, ID number, WeChat id or e-mail?"""
    return column.re_search(PERSONAL_PATTERN).fill_null(False)


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


@dataclass(frozen=True)
class Grouping:
    """A group-by of one table that the build reuses and the table's rules are counted in.

    One row per distinct ``keys`` (columns of the table; null is a key value too) with
    ``n_rows``, the table's rows in that group, and the aggregates ``values(table)``.
    ``counts_rows``: the grouping also counts the row rules no grouping can judge per group
    (else one aggregate over the table does). ``repeated_only``: the grouping has one key and
    holds only the groups of more than one row (and the few single rows whose key shares a
    hash with another's); it judges no row rule and counts no rows of the table.
    """

    name: str
    keys: tuple[str, ...]
    values: Callable[[ir.Table], dict[str, ir.Scalar]]
    counts_rows: bool = False
    repeated_only: bool = False

    def of(self, table: ir.Table, extra: dict[str, ir.Scalar] | None = None) -> ir.Table:
        """The grouping of ``table``, with ``extra`` aggregates beside its own."""
        rows = repeated_rows(table, self.keys[0]) if self.repeated_only else table
        return rows.group_by(list(self.keys)).aggregate(
            n_rows=rows.count(), **self.values(rows), **(extra or {})
        )


def repeated_rows(table: ir.Table, key: str) -> ir.Table:
    """The rows of ``table`` whose ``key`` may occur in another row: those whose key's hash
    does. One group-by of a 64-bit hash (32-bit on Spark) costs DuckDB half the CPU of one of
    10M text ids; a collision only lets a row through, and the rows through are grouped by the
    key itself."""
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


def contact_values(t: ir.Table) -> dict[str, ir.Scalar]:
    """Per ``contact_id``: ``n_rms``, the distinct RMs that added it."""
    return {"n_rms": t.rm_id.nunique()}


#: Each table's groupings. ``contacts`` holds only the contacts added more than once (0.6% of
#: the benchmark's 10M): the others can neither repeat a key nor be shared by three RMs, and
#: their ids' rules are row rules.
GROUPINGS: dict[str, tuple[Grouping, ...]] = {
    "customer_month": (
        # the branch a key, not a max and a min: Spark aggregates text min/max by sorting
        # every row (a SortAggregate), and the branch's id rules are judged once per group
        Grouping("rm_months", ("rm_id", "month", "branch_id"), rm_month_values, counts_rows=True),
        Grouping("customers", ("customer_id",), customer_values),
    ),
    "wecom_contact": (
        # per RM: its id judged once per RM (a regex per add cost Spark more than the group-by)
        Grouping("rms", ("rm_id",), lambda t: {}, counts_rows=True),
        Grouping("contacts", ("contact_id",), contact_values, repeated_only=True),
    ),
    "quota": (),
}


def _months_may_repeat(g: ir.Table) -> ir.BooleanValue:
    return (g.n_rows > MONTH_BITS) | (bit_count(g.month_bits.fill_null(0)) != g.n_rows)


# ------------------------------------------------------------------------------- rules

Predicate = Callable[[ir.Table], ir.BooleanValue]
GroupFinder = Callable[[ir.Table], ir.Table]
#: A screen: the grouping it runs on and a predicate, true on every group that may break a rule.
Screen = tuple[str, Predicate]


@dataclass(frozen=True)
class Rule:
    """One rule on one table.

    Exactly one of ``bad`` (a row predicate: True on a breaking row) and ``groups`` (a function
    returning the breaking groups, with their key columns and ``n_rows``) is set. A group rule
    may have a ``screen`` on one of the table's :data:`GROUPINGS`; without one its group-by
    always runs, on the table's rows or, with ``over``, on the rows of that grouping (each a
    group of the table's rows, weighing ``n_rows``). Which rules the table's pandera.ibis schema also declares is said by
    :func:`pandera_checks`. ``keys`` are the columns shown as example keys; a personal-data
    rule never shows the column it found data in. ``needs`` lists the columns that must be
    present for the rule to apply.
    """

    table: str
    column: str
    name: str
    expected: str
    keys: tuple[str, ...]
    needs: tuple[str, ...]
    bad: Predicate | None = None
    groups: GroupFinder | None = None
    screen: Screen | None = None
    over: str | None = None

    @property
    def id(self) -> str:
        return f"{self.table}.{self.column}.{self.name}"


def _missing(value: ir.Value) -> ir.BooleanValue:
    """Null, or NaN in a floating column: Spark (through Ibis) reads NaN as null, so both
    engines count it missing."""
    if value.type().is_floating():
        return value.isnull() | value.isnan().fill_null(False)
    return value.isnull()


def _not_null(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    return Rule(
        table,
        column,
        "not_null",
        "a value in every row (NaN counts as missing)",
        keys,
        (column,),
        bad=lambda t: _missing(t[column]),
    )


#: A character that is not whitespace (Python's ``string.whitespace``, which Ibis's ``strip``
#: removes): an id without one is empty once stripped. Written with regex escapes, read alike
#: by RE2 and Java regex, so no control character goes through a SQL string literal: sqlglot
#: 30.17 writes vertical tab and form feed into Spark SQL as ``\v`` and ``\f``, which Spark
#: reads as the letters v and f.
NOT_BLANK_RE = r"[^ \t\n\r\x0b\x0c]"


def _blank(column: ir.StringValue) -> ir.BooleanValue:
    """Whether an id is empty once stripped; false on null.

    Not ``strip().length() == 0``: DuckDB's TRIM with a character set costs 2.6 s of CPU on
    10M ids. Every whitespace character sorts before ``"!"``, so a blank id does too, and only
    such ids (few) are searched for a character that is not whitespace; the conditional keeps
    the engines from searching the others (3 s of CPU on 11M contacts otherwise).
    """
    return ibis.ifelse(column < "!", ~column.re_search(NOT_BLANK_RE), False)


def _non_empty(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    return Rule(
        table,
        column,
        "non_empty",
        "a non-empty id",
        keys,
        (column,),
        bad=lambda t: _blank(t[column]),
    )


def _month_format(table: str, keys: tuple[str, ...]) -> Rule:
    def bad(t: ir.Table) -> ir.BooleanValue:
        m = t["month"]
        if m.type().is_string():  # the length too: Java's $ also matches before a final newline
            return m.notnull() & ~(m.re_search(MONTH_RE) & (m.length() == 7)).fill_null(False)
        return m.notnull() & (m.day() != 1)

    return Rule(
        table,
        "month",
        "month_format",
        "YYYY-MM, or a date on the first of the month",
        keys,
        ("month",),
        bad=bad,
    )


def _id_characters(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    return Rule(
        table,
        column,
        "id_characters",
        "an id without invisible characters (NUL, zero-width, right-to-left), spaces at either "
        "end or Chinese characters (a name cannot be told from other Chinese text; values not "
        "shown)",
        tuple(k for k in keys if k != column),
        (column,),
        bad=lambda t: t[column].notnull() & bad_id_characters(t[column]),
    )


def _id_rules(table: str, column: str, keys: tuple[str, ...]) -> list[Rule]:
    """The value rules every id column shares: no personal data, no defective characters."""
    return [_personal(table, column, keys), _id_characters(table, column, keys)]


def _finite(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    def bad(t: ir.Table) -> ir.BooleanValue:
        value = t[column]
        if not value.type().is_floating():  # an integer or decimal is finite; a column
            return value.isnull() & ibis.literal(False)  # expression, as the counts need
        # x - x is NaN for +-inf (and NaN, which is missing: _not_null), 0 for any finite x,
        # alike on DuckDB and Spark (whose isinf Ibis compiles differently)
        return ((value - value != 0) & ~value.isnan()).fill_null(False)

    return Rule(table, column, "finite", "a finite number (not infinite)", keys, (column,), bad=bad)


def _bounded(table: str, column: str, keys: tuple[str, ...], bound: float, what: str) -> Rule:
    def bad(t: ir.Table) -> ir.BooleanValue:
        value = t[column]
        beyond = value.abs() > bound
        if value.type().is_floating():  # NaN is missing (_not_null), not beyond the bound
            beyond = beyond & ~value.isnan()  # (both engines sort NaN above every number)
        return beyond.fill_null(False)

    return Rule(
        table,
        column,
        "bounded",
        f"{what} between -{bound:,.0f} and {bound:,.0f}",
        keys,
        (column,),
        bad=bad,
    )


def _personal(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    return Rule(
        table,
        column,
        "no_personal_data",
        "a pseudonymous id, not a phone number, ID number, WeChat id or e-mail (values not shown)",
        tuple(k for k in keys if k != column),
        (column,),
        bad=lambda t: t[column].notnull() & looks_personal(t[column]),
    )


def _duplicates(table: str, key: tuple[str, ...], where: Predicate | None = None) -> GroupFinder:
    def groups(t: ir.Table) -> ir.Table:
        rows = t.filter(where(t)) if where is not None else t
        counted = rows.group_by(list(key)).aggregate(n_rows=rows.count())
        return counted.filter(counted.n_rows > 1)

    return groups


def _one_branch_per_rm_month(g: ir.Table) -> ir.Table:
    """The RM-months of more than one branch, from the ``rm_months`` grouping (one row per
    branch of an RM-month)."""
    rows = g.filter(g.rm_id.notnull())
    counted = rows.group_by(["rm_id", "month"]).aggregate(
        n_rows=rows.n_rows.sum(), n_branches=rows.branch_id.nunique()
    )
    return counted.filter(counted.n_branches > 1).select("rm_id", "month", "n_rows")


def _build_rules() -> tuple[Rule, ...]:
    cm_keys = SPECS["customer_month"].key
    wc_keys = SPECS["wecom_contact"].key
    q_keys = ("branch_id", "rm_id", "month")
    rules: list[Rule] = [
        # customer_month
        _not_null("customer_month", "customer_id", cm_keys),
        _non_empty("customer_month", "customer_id", cm_keys),
        *_id_rules("customer_month", "customer_id", cm_keys),
        *_id_rules("customer_month", "rm_id", cm_keys),
        *_id_rules("customer_month", "branch_id", cm_keys),
        _not_null("customer_month", "month", cm_keys),
        _month_format("customer_month", cm_keys),
        _not_null("customer_month", "aum_cny", cm_keys),
        *(_finite("customer_month", m, cm_keys) for m in MONEY),
        *(_bounded("customer_month", m, cm_keys, MAX_MONEY_CNY, "yuan") for m in MONEY),
        Rule(
            "customer_month",
            "aum_cny",
            "ge_0",
            "a value >= 0 (yuan)",
            cm_keys,
            ("aum_cny",),
            bad=lambda t: t.aum_cny < 0,
        ),
        Rule(
            "customer_month",
            "branch_id",
            "null_iff_rm_null",
            "a branch exactly when rm_id is set (null iff rm_id is null)",
            cm_keys,
            ("rm_id", "branch_id"),
            bad=lambda t: t.rm_id.isnull() != t.branch_id.isnull(),
        ),
        _non_empty("customer_month", "rm_id", cm_keys),
        Rule(
            "customer_month",
            "customer_id, month",
            "unique_key",
            "one row per customer and month",
            cm_keys,
            cm_keys,
            groups=_duplicates("customer_month", cm_keys),
            screen=("customers", _months_may_repeat),
        ),
        Rule(
            "customer_month",
            "branch_id",
            "one_branch_per_rm_month",
            "one branch per (rm_id, month)",
            ("rm_id", "month"),
            ("rm_id", "branch_id", "month"),
            groups=_one_branch_per_rm_month,
            over="rm_months",
        ),
        # wecom_contact
        _not_null("wecom_contact", "rm_id", wc_keys),
        _non_empty("wecom_contact", "rm_id", wc_keys),
        _not_null("wecom_contact", "contact_id", wc_keys),
        _non_empty("wecom_contact", "contact_id", wc_keys),
        *_id_rules("wecom_contact", "rm_id", wc_keys),
        *_id_rules("wecom_contact", "contact_id", wc_keys),
        _not_null("wecom_contact", "added_at", wc_keys),
        *_id_rules("wecom_contact", "customer_id", wc_keys),
        Rule(
            "wecom_contact",
            "certified_at",
            "null_iff_customer_null",
            "a certification time exactly when customer_id is set",
            wc_keys,
            ("customer_id", "certified_at"),
            bad=lambda t: t.customer_id.isnull() != t.certified_at.isnull(),
        ),
        Rule(
            "wecom_contact",
            "certified_at",
            "not_before_added",
            "certified_at >= added_at",
            wc_keys,
            ("certified_at", "added_at"),
            bad=lambda t: (t.certified_at < t.added_at).fill_null(False),
        ),
        Rule(
            "wecom_contact",
            "removed_at",
            "not_before_added",
            "removed_at >= added_at",
            wc_keys,
            ("removed_at", "added_at"),
            bad=lambda t: (t.removed_at < t.added_at).fill_null(False),
        ),
        Rule(
            "wecom_contact",
            "rm_id, contact_id, added_at",
            "unique_key",
            "one row per (rm_id, contact_id, added_at)",
            wc_keys,
            wc_keys,
            groups=_duplicates("wecom_contact", wc_keys),
            # a repeated key repeats an RM within its contact_id
            screen=("contacts", lambda g: g.n_rows > g.n_rms),
        ),
        # quota
        Rule(
            "quota",
            "rm_id, branch_id",
            "one_level",
            "exactly one of branch_id and rm_id per row",
            q_keys,
            ("branch_id", "rm_id"),
            bad=lambda t: t.branch_id.isnull() == t.rm_id.isnull(),
        ),
        _not_null("quota", "month", q_keys),
        _month_format("quota", q_keys),
        _not_null("quota", "quota_target", q_keys),
        _bounded("quota", "quota_target", q_keys, MAX_EXACT_INT, "an integer"),
        *_id_rules("quota", "branch_id", q_keys),
        *_id_rules("quota", "rm_id", q_keys),
        Rule(
            "quota",
            "quota_target",
            "gt_0",
            "an integer > 0 (a month without a quota has no row)",
            q_keys,
            ("quota_target",),
            bad=lambda t: t.quota_target <= 0,
        ),
        Rule(
            "quota",
            "branch_id, month",
            "unique_key",
            "one branch-level row per (branch_id, month)",
            ("branch_id", "month"),
            ("branch_id", "rm_id", "month"),
            groups=_duplicates(
                "quota", ("branch_id", "month"), lambda t: t.rm_id.isnull() & t.branch_id.notnull()
            ),
        ),
        Rule(
            "quota",
            "rm_id, month",
            "unique_key",
            "one RM-level row per (rm_id, month)",
            ("rm_id", "month"),
            ("branch_id", "rm_id", "month"),
            groups=_duplicates("quota", ("rm_id", "month"), lambda t: t.rm_id.notnull()),
        ),
    ]
    return tuple(rules)


RULES: tuple[Rule, ...] = _build_rules()


def rules_for(table: str) -> tuple[Rule, ...]:
    """The rules of one table, in report order."""
    return tuple(r for r in RULES if r.table == table)


# ------------------------------------------------------------------------ pandera.ibis


#: A pandera check a schema declares: the rule it states, the ``pandera.Check`` method and its
#: keyword arguments.
PanderaCheck = tuple[str, str, dict[str, object]]


def pandera_checks(
    table: str, schema: ibis.Schema
) -> tuple[dict[str, tuple[PanderaCheck, ...]], frozenset[str]]:
    """What the pandera.ibis schema of ``table`` declares for the columns present, without
    importing pandera (0.6 s a build spent on it for the names alone): the checks per column,
    and the rule ids covered.

    Types are checked by :func:`kind_accepts` beforehand (the contract allows several storage
    types per column, e.g. a month as text or as a date), so columns are declared without a
    dtype; the schema carries nullability, non-empty ids, the text month format and the value
    ranges. A rule is covered only when the schema states all of it
    (a month stored as a date is checked by the Ibis rule alone).
    """
    spec = SPECS[table]
    by_id = {r.id: r for r in rules_for(table)}
    covered: set[str] = set()
    columns: dict[str, tuple[PanderaCheck, ...]] = {}
    for col in spec.columns:
        if col.name not in schema:
            continue
        checks: list[PanderaCheck] = []
        dtype = schema[col.name]
        if not col.nullable:
            covered.add(f"{table}.{col.name}.not_null")
        if f"{table}.{col.name}.non_empty" in by_id and dtype.is_string():
            checks.append(("non_empty", "str_length", {"min_value": 1}))
        if col.kind == "month" and dtype.is_string():
            checks.append(("month_format", "str_matches", {"pattern": MONTH_RE}))
        if col.name == "aum_cny":
            checks.append(("ge_0", "ge", {"min_value": 0}))
        if col.name == "quota_target":
            checks.append(("gt_0", "gt", {"min_value": 0}))
        covered |= {f"{table}.{col.name}.{rule}" for rule, _, _ in checks}
        columns[col.name] = tuple(checks)
    # The unique key is not declared here: pandera.ibis checks it with a window count over a
    # partition by the key, four times slower on DuckDB than the group-by rule (46 s against
    # 11 s on 40M customer-months), so keys are checked by the Ibis rule on both engines.
    return columns, frozenset(covered & set(by_id))


def pandera_schema(table: str, schema: ibis.Schema) -> tuple[object, frozenset[str]]:
    """The pandera.ibis schema of ``table`` for the columns present (:func:`pandera_checks`),
    and the rule ids it covers."""
    import pandera.ibis as pa

    declared, covered = pandera_checks(table, schema)
    columns = {
        name: pa.Column(
            None,
            checks=[getattr(pa.Check, method)(**kw, name=rule) for rule, method, kw in checks],
            nullable=SPECS[table].column(name).nullable,
        )
        for name, checks in declared.items()
    }
    return pa.DataFrameSchema(columns, strict=False, name=table), covered
