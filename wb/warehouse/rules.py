"""The rules of the three warehouse tables (docs/warehouse.md, section 3).

Every rule is an **Ibis rule expression** (:data:`RULES`): a predicate on a row, or a group-by
that finds the groups breaking it. They run on both engines and are counted inside the
**groupings** of :mod:`wb.warehouse.tables` (:data:`~wb.warehouse.tables.GROUPINGS`), so the
data are scanned once per grouping, not once per rule:

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

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from wb.door.calendar import MONTH_RE
from wb.door.column_types import MAX_EXACT_INT
from wb.warehouse.patterns import bad_id_characters, blank, looks_personal
from wb.warehouse.tables import MAX_MONEY_CNY, MONEY, MONTH_BITS, SPECS, bit_count

Predicate = Callable[[ir.Table], ir.BooleanValue]
GroupFinder = Callable[[ir.Table], ir.Table]
#: A screen: the grouping it runs on and a predicate, true on every group that may break a rule.
Screen = tuple[str, Predicate]


def _months_may_repeat(g: ir.Table) -> ir.BooleanValue:
    return (g.n_rows > MONTH_BITS) | (bit_count(g.month_bits.fill_null(0)) != g.n_rows)


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


def _non_empty(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    return Rule(
        table,
        column,
        "non_empty",
        "a non-empty id",
        keys,
        (column,),
        bad=lambda t: blank(t[column]),
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


def _judged_once(t: ir.Table, found: Predicate, judged: str) -> ir.BooleanValue:
    """``found(t)`` where ``t`` has no column ``judged``; else that column where it is set (the
    id's verdict, searched once per id in the ``customers`` grouping, which holds it and
    which :func:`wb.warehouse.tables.add_facts` joins), the search elsewhere."""
    if judged not in t.columns:
        return found(t)
    return ibis.ifelse(t[judged].isnull(), found(t), t[judged])


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
        bad=lambda t: (
            t[column].notnull()
            & _judged_once(t, lambda u: bad_id_characters(u[column]), f"{column}_defect")
        ),
    )


def _id_rules(table: str, column: str, keys: tuple[str, ...]) -> list[Rule]:
    """The value rules every id column shares: no personal data, no defective characters."""
    return [_personal(table, column, keys), _id_characters(table, column, keys)]


def _finite_number(value: ir.FloatingValue) -> ir.BooleanValue:
    """Whether a floating value is finite: ``x - x`` is NaN for +-inf and NaN, 0 for any finite
    ``x``, alike on DuckDB and Spark (whose isinf Ibis compiles differently); null stays null."""
    return value - value == 0


def _finite(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    def bad(t: ir.Table) -> ir.BooleanValue:
        value = t[column]
        if not value.type().is_floating():  # an integer or decimal is finite; a column
            return value.isnull() & ibis.literal(False)  # expression, as the counts need
        # NaN is missing (_not_null), not infinite
        return (~_finite_number(value) & ~value.isnan()).fill_null(False)

    return Rule(table, column, "finite", "a finite number (not infinite)", keys, (column,), bad=bad)


def _bounded(table: str, column: str, keys: tuple[str, ...], bound: float, what: str) -> Rule:
    def bad(t: ir.Table) -> ir.BooleanValue:
        value = t[column]
        beyond = value.abs() > bound
        if value.type().is_floating():  # NaN is missing (_not_null) and an infinity is not
            # finite (_finite), neither beyond the bound (both engines sort NaN above every
            # number): each bad value is reported under the one rule it breaks
            beyond = beyond & ~value.isnan() & _finite_number(value)
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


def _negative(t: ir.Table) -> ir.BooleanValue:
    """AUM below zero; -inf is not finite (:func:`_finite`), reported under that rule alone."""
    value = t.aum_cny
    if value.type().is_floating():
        return (value < 0) & _finite_number(value)
    return value < 0


def _personal(table: str, column: str, keys: tuple[str, ...]) -> Rule:
    return Rule(
        table,
        column,
        "no_personal_data",
        "a pseudonymous id, not a phone number, ID number, WeChat id or e-mail (values not shown)",
        tuple(k for k in keys if k != column),
        (column,),
        bad=lambda t: (
            t[column].notnull()
            & _judged_once(t, lambda u: looks_personal(u[column]), f"{column}_personal")
        ),
    )


def _duplicates(table: str, key: tuple[str, ...], where: Predicate | None = None) -> GroupFinder:
    def groups(t: ir.Table) -> ir.Table:
        rows = t.filter(where(t)) if where is not None else t
        counted = rows.group_by(list(key)).aggregate(n_rows=rows.count())
        return counted.filter(counted.n_rows > 1)

    return groups


def _one_branch_per_rm_month(g: ir.Table) -> ir.Table:
    """The RM-months of more than one branch, from the ``rm_months`` grouping (one row per
    branch of an RM-month). Its rows of one RM-month hold distinct branches, so their count
    of branch ids is the number of branches: a count, not a count of distinct values (which
    Spark runs as three aggregations of every row twice over: 3 s of the benchmark build)."""
    rows = g.filter(g.rm_id.notnull())
    counted = rows.group_by(["rm_id", "month"]).aggregate(
        n_rows=rows.n_rows.sum(), n_branches=rows.branch_id.count()
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
            bad=_negative,
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
