"""The engine side of the customer-level event study (:mod:`wb.warehouse.uplift`): Ibis
expressions that run where the data lives (DuckDB or Spark).

* **Bindings.** A customer's *binding month* ``g`` is the month of the earliest
  ``certified_at`` of any of its ``wecom_contact`` rows (or, ``onset="added"``, the month its
  binding contact was added); its *kind* is ``quota_month`` when the RM of a contact certified
  in ``g`` had a quota in force in ``g`` (the build's rule), else ``no_quota``.
* **Spells.** One row per customer with an RM in the window: its branch (of its first month
  with an RM), first and last month, binding month, kind and AUM tier in ``g - 1``, and its role
  (never bound, used, or left out and why).
* **Cells.** Customers grouped by (branch, ``g`` or never, kind, AUM tier in ``g - 1``, first
  and last month), one row per cell and month with the customer count and the AUM sum (yuan):
  only these rows leave the engine (:class:`wb.warehouse.imputation.Cells` reads them).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from wb.door.calendar import month_index_expr
from wb.warehouse.build import MonthWindow, quota_in_force
from wb.warehouse.imputation import Design
from wb.warehouse.tables import month_text


def first_bindings(
    contacts: ir.Table, customers: ir.Table, quota: ir.Table, onset: str = "certified"
) -> ir.Table:
    """One row per bound customer: ``b_customer``, ``g``, ``quota_kind`` and
    ``added_before``. Its *binding contacts* are its contacts certified in the month of its
    first ``certified_at``; ``g`` is that month (``onset="certified"``) or the earliest month
    in which a binding contact was added (``onset="added"``); ``quota_kind`` is 1 when the RM of
    a binding contact dated ``g`` had a quota in force in ``g`` (the build's rule), else 0;
    ``added_before`` is 1 when every binding contact was added in an earlier month than it was
    certified. Uses the whole tables, whatever the month window."""
    c = contacts.filter(contacts.customer_id.notnull() & contacts.certified_at.notnull())
    cert, added = c.certified_at, c.added_at
    cert = cert if cert.type().is_timestamp() else cert.cast("timestamp")
    added = added if added.type().is_timestamp() else added.cast("timestamp")
    c = c.select(
        cid=c.customer_id, rm=c.rm_id, cm=cert.strftime("%Y-%m"), am=added.strftime("%Y-%m")
    )
    c = c.mutate(gi=month_index_expr(c.cm), ai=month_index_expr(c.am))
    first = c.group_by(fid=c.cid).aggregate(f=c.gi.min())
    at_f = c.join(first, (c.cid == first.fid) & (c.gi == first.f))
    earlier = at_f.group_by(eid=at_f.cid).aggregate(
        earlier=(at_f.ai < at_f.gi).cast("int64").min(), ga=at_f.ai.min()
    )
    at_f = at_f.join(earlier, at_f.cid == earlier.eid)
    if onset == "added":  # binding contacts added in the binding month, dated by the add
        at_g = at_f.filter(at_f.ai == at_f.ga).select("cid", "rm", "earlier", cm=at_f.am, g=at_f.ga)
    else:
        at_g = at_f.select("cid", "rm", "cm", "earlier", g=at_f.f)
    cmo = customers.mutate(month=month_text(customers.month))
    cmo = cmo.filter(cmo.rm_id.notnull())
    rm_branch = cmo.group_by(rb_rm=cmo.rm_id, rb_month=cmo.month).aggregate(
        rb_branch=cmo.branch_id.max()
    )
    rm_q, branch_q = quota_in_force(quota)
    j1 = at_g.left_join(
        rm_branch, (at_g.rm == rm_branch.rb_rm) & (at_g.cm == rm_branch.rb_month)
    ).select("cid", "rm", "cm", "g", "earlier", "rb_branch")
    j2 = j1.left_join(rm_q, (j1.rm == rm_q.q_rm) & (j1.cm == rm_q.q_month)).select(
        "cid", "cm", "g", "earlier", "rb_branch", "rm_target"
    )
    j = j2.left_join(
        branch_q, (j2.rb_branch == branch_q.q_branch) & (j2.cm == branch_q.q_bmonth)
    ).select("cid", "g", "earlier", "rm_target", "branch_target")
    target = ibis.coalesce(j.rm_target, j.branch_target, 0)
    j = j.mutate(has_quota=(target > 0).cast("int64"))
    return j.group_by(b_customer=j.cid).aggregate(
        g=j.g.max(), quota_kind=j.has_quota.max(), added_before=j.earlier.min()
    )


def customer_spells(
    customers: ir.Table, bindings: ir.Table, window: MonthWindow, design: Design
) -> ir.Table:
    """One row per customer with an RM in the window: ``branch`` (of its first month with an
    RM), first and last month ``a``, ``z`` and month count ``n`` (indices), binding month ``g``,
    ``quota_kind`` and ``added_before`` (null when never bound or bound after its last month),
    AUM in ``g - 1`` (``base_aum``, yuan), its
    ``tier``, and ``role``: 0 never bound, 1 bound after its first month (used), 2 bound in or
    before its first month (no month before binding: left out), 3 months with gaps (left out)."""
    cm = customers.mutate(month=month_text(customers.month))
    cm = cm.filter(cm.rm_id.notnull() & cm.branch_id.notnull() & window.contains(cm.month))
    cm = cm.select(cid=cm.customer_id, branch_id=cm.branch_id, m=month_index_expr(cm.month),
                   aum=cm.aum_cny.cast("float64"))  # fmt: skip
    j = cm.left_join(bindings, cm.cid == bindings.b_customer)
    s = j.group_by(j.cid).aggregate(
        branch=j.branch_id.argmin(j.m),
        a=j.m.min(),
        z=j.m.max(),
        n=j.count(),
        g=j.g.max(),
        quota_kind=j.quota_kind.max(),
        added_before=j.added_before.max(),
        base_aum=ibis.cases((j.m == j.g - 1, j.aum), else_=None).max(),
    )
    # a binding after the customer's last month is not seen: such a customer is a control
    s = s.mutate(g=ibis.ifelse(s.g - 1 <= s.z, s.g, ibis.null("int64")))
    role = ibis.cases(
        (s.z - s.a + 1 != s.n, 3),
        (s.g.isnull(), 0),
        (s.g <= s.a, 2),
        else_=1,
    )
    return s.mutate(
        role=role.cast("int64"),
        quota_kind=ibis.ifelse(s.g.isnull(), ibis.null("int64"), s.quota_kind),
        added_before=ibis.ifelse(s.g.isnull(), ibis.null("int64"), s.added_before),
        tier=design.tiers.index(s.base_aum),
    )


def cell_sums(customers: ir.Table, spells: ir.Table, window: MonthWindow, design: Design):
    """Cell-month sums: one row per (``branch``, ``g``, ``kind``, ``tier``, ``a``, ``z``, ``t``)
    with ``n`` customers and ``s`` their AUM sum (yuan). Never-bound customers have ``g``,
    ``kind``, ``tier`` = -1; bound customers' months after ``g + post`` are not needed."""
    cm = customers.mutate(month=month_text(customers.month))
    cm = cm.filter(cm.rm_id.notnull() & cm.branch_id.notnull() & window.contains(cm.month))
    cm = cm.select(rid=cm.customer_id, t=month_index_expr(cm.month), aum=cm.aum_cny.cast("float64"))
    used = spells.filter(spells.role <= 1)
    j = cm.join(used, cm.rid == used.cid)
    j = j.filter(j.g.isnull() | (j.t <= j.g + design.post))
    never = j.g.isnull()
    keyed = j.select(
        branch=j.branch,
        g=ibis.ifelse(never, -1, j.g).cast("int64"),
        kind=ibis.ifelse(never, -1, j.quota_kind).cast("int64"),
        tier=ibis.ifelse(never, -1, j.tier).cast("int64"),
        a=j.a,
        z=j.z,
        t=j.t,
        aum=j.aum,
    )
    return keyed.group_by(["branch", "g", "kind", "tier", "a", "z", "t"]).aggregate(
        n=keyed.count(), s=keyed.aum.sum()
    )


def spell_counts(spells: ir.Table) -> ir.Table:
    """Customers per role and kind (one row each), and how many of them were bound through a
    contact added in an earlier month (``added_before``)."""
    kind = ibis.ifelse(spells.role == 1, spells.quota_kind, -1).cast("int64")
    s = spells.mutate(k=kind)
    return s.group_by(["role", "k"]).aggregate(
        customers=s.count(),
        branches=s.branch.nunique(),
        added_before=s.added_before.sum().fill_null(0),
    )
