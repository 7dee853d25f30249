"""Customer-level uplift: does a customer's AUM change once an RM binds them?

A staggered event study at the customer level, computed where the data lives.

* **Event.** A customer's *binding month* ``g`` is the month of the earliest ``certified_at`` of
  any of its ``wecom_contact`` rows (a customer bound more than once: the first binding). Its
  *kind* is ``quota_month`` when the RM of a contact certified in ``g`` had a quota in force in
  ``g`` (the build's rule: the RM's quota row, else that of the branch the RM sat in), else
  ``no_quota``.
* **Estimator.** The imputation estimator (Borusyak, Jaravel & Spiess 2024) with customer
  effects and branch x month effects, fitted on the customer-months not yet bound (never-bound
  customers and bound customers' months before ``g - leads``); the effect of a bound
  customer-month is its outcome less the imputed one. Two outcome models:

  - ``trends`` (default): the outcome is the monthly AUM change, so the customer effect is the
    customer's own AUM *trend* (an RM whose customers grow faster also binds them sooner: a
    customer effect in levels would not absorb that). The path in yuan of AUM is the sum of
    the monthly effects from the binding month on.
  - ``levels``: the outcome is the AUM level, customer effects are levels.

  The ``leads`` months before ``g`` are held out of the fit and imputed too: their effects
  are placebo estimates, tested jointly (the pre-trend test, Liu, Wang & Xu 2022).
* **Cells.** Customers are grouped in the engine by (branch, ``g`` or never, kind, AUM tier in
  ``g - 1``, first and last month), one row per cell and month with the customer count and
  the AUM sum. A cell's customers share the set of months in the fit, so the fixed-effect
  normal equations, the customer effects summed over a cell and every imputed effect summed
  over a cell-month are exact functions of these sums: only cell rows leave the engine. A
  customer's branch is that of its first month with an RM; customer-months without an RM are
  left out; customers with a gap between their first and last month are left out (counted).
* **Inference.** Branches are the clusters: a branch's imputed effects depend on its own
  customers only (its month effects and its customers' effects are fitted on its rows), so an
  estimate is a ratio of branch totals and its influence function per branch is exact. The
  covariance is ``G/(G-1) * sum_b psi_b psi_b'``; intervals use Student t with ``G - 1``
  degrees of freedom, the pre-trend test an F(leads, G - 1) statistic.

Money is yuan of AUM per bound customer; event months are months since the binding month.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from wb.door.atomic import check_out, staged_dir, write_json
from wb.door.calendar import month_index_expr
from wb.door.display import table
from wb.door.documents import DocumentSchema
from wb.door.interrupts import interruptible
from wb.errors import ExportError, InputError, NotIdentified
from wb.warehouse.build import MonthWindow, quota_in_force, spill_beside
from wb.warehouse.imputation import (
    Cells,
    Design,
    Estimate,
    Group,
    Imputed,
    difference,
    group_estimates,
    impute,
    json_number,
    path_matrix,
)
from wb.warehouse.progress import Progress
from wb.warehouse.source import EngineOptions, Source, open_source
from wb.warehouse.tables import month_text

SCHEMA = "wb.customer_uplift/1"
JSON_NAME = "customer_uplift.json"
DOCUMENT = DocumentSchema("wb.warehouse", "customer_uplift.schema.json", SCHEMA)

#: The two kinds of binding month, in output order.
KINDS = ("no_quota", "quota_month")
#: Fewest branches (clusters) an estimate may rest on.
MIN_BRANCHES = 5

NOTE = (
    "A binding is the first time a customer is real-name certified on an RM's WeCom. Its "
    "effect is the customer's AUM after binding less the AUM imputed from the customer's own "
    "path before binding{trend} and from customers of the same branch not yet bound in the same "
    "month. A binding in a month when the RM had a quota in force (quota_month) mixes organic "
    "adds, which would have been made anyway, with adds the quota induced, in shares not seen "
    "customer by customer; its effect is a blend of the two. So the difference between the "
    "kinds is not the effect of a quota add alone: it also carries any difference between the "
    "customers, branches and months bound with and without a quota. It can show whether "
    "customers bound under a quota go on to hold more or less AUM than customers bound "
    "without one; it cannot price a quota-induced add by itself (if quota adds were worth "
    "nothing and a share s of quota-month bindings were quota-induced, quota_month would be "
    "about (1 - s) x no_quota), and it rests on bound and not-yet-bound customers of a branch "
    "following parallel paths{trend_again}; the pre-trend test checks the months just before "
    "binding. Only customers bound at least {min_gap} months after their first month with an "
    "RM enter (their path before binding must be fitted); where customers bound sooner differ "
    "(on the simulator they belong to RMs who add more and are re-bound more often), the "
    "estimate describes the later-bound customers only: there the average effect over all "
    "bound customers was 3-4% above the one over those the estimate can use."
)
#: What the note adds when the effect at event month 0 differs from the later months.
FIRST_MONTH = (
    " The window average counts event month 0, so it is not the level the effect reaches "
    "after binding: an effect that starts a month after the binding month (e.g. AUM recorded "
    "before the binding moves it; on a held-out simulated world with a +20,000 yuan shift "
    "recorded a month late the window averages were 5/6 of it, while the average over event "
    "months 1-5 covered it) or that grows (later bindings of the same customer) shows this way; "
    "read the event path and the later months' average."
)
#: The understatement (:func:`late_shortfall`) from which the finding states it.
LATE_SHARE_STATED = 0.01
#: The note's sentence on customers certified in a later month than their binding contact was
#: added, by onset (measured on the held-out worlds of tests/warehouse/heldout_worlds.py,
#: certification 0-10 days after the add, 8.4% of customers certified a month late).
LATE_CERTIFIED = {
    "certified": (
        " Event month 0 is the month of certification: {late:,} of the {used:,} bound "
        "customers used ({share:.1%}) were certified in a later month than their binding "
        "contact was added on WeCom. If AUM moves from the add rather than the certification, "
        "their effect falls in the held-out months before event month 0 (where the pre-trend "
        "test sees it) and the estimate falls short of the effect by about that share: on a "
        "held-out simulated world with 8.4% certified a month late, the estimates were 8.1% "
        "(no quota) and 8.4% (quota month) low, their intervals covering the truth in 77 and "
        "22 of 100 seeds (dated by the add, --onset added, 94 and 93)."
    ),
    "added": (
        " Event month 0 is the month the binding contact was added on WeCom: {late:,} of the "
        "{used:,} bound customers used ({share:.1%}) were certified in a later month. If AUM "
        "moves from the certification rather than the add, their effect starts after event "
        "month 0 and the estimate falls short of the effect by about that share divided by "
        "the {months} months averaged: on a held-out simulated world with 8.4% certified a "
        "month late, the estimates were 1.3% (no quota) and 1.8% (quota month) low, their "
        "intervals covering the truth in 95 and 88 of 100 seeds (dated by the certification, "
        "96 and 93)."
    ),
}


# ---------------------------------------------------------------------------- engine side


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


# ---------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class CustomerUpliftResult:
    """The customer-level event study: estimates by kind and by AUM tier, counts, the design
    and provenance. Money in yuan of AUM per bound customer.

    ``kinds[kind]`` and ``tiers[j][kind]`` are :class:`Group` estimates; ``difference`` is
    quota_month less no_quota. ``simulated``: the source holds the simulator's ``truth.json`` or
    its files carry the ``wb simulate`` stamp (:attr:`wb.warehouse.source.Source.stamp`, kept
    when the tables are copied alone); ``truth`` holds the simulator's realised effects when
    ``truth.json`` is there.
    """

    source: str
    engine: str
    engine_version: str
    design: Design
    months: MonthWindow
    kinds: dict[str, Group]
    tiers: tuple[dict[str, Group], ...]
    difference: Estimate
    counts: dict
    timings_s: dict
    simulated: bool = False
    truth: dict | None = None

    @property
    def note(self) -> str:
        trend = self.design.model == "trends"
        return (
            NOTE.format(
                trend=" (its AUM trend)" if trend else "",
                trend_again=" once each customer's own trend is allowed for" if trend else "",
                min_gap=self.design.leads + (2 if trend else 1),
            )
            + late_certified(self.counts, self.design)
            + first_month_note(self.to_first_month())
        )

    def to_first_month(self) -> dict:
        """``customer_uplift.json``'s ``first_month`` block (:func:`first_month_note`)."""
        return {k: _first_month_doc(self.kinds[k], self.design.post) for k in KINDS}

    def att(self, kind: str) -> Estimate:
        """The window-average effect for ``kind`` (``no_quota`` or ``quota_month``)."""
        return self.kinds[kind].att

    def truth_att(self, kind: str) -> float | None:
        """The simulated realised effect averaged like the estimate (yuan), if simulated."""
        if not self.truth:
            return None
        return _truth_average(self.truth, kind, self.design)

    def tidy(self) -> pd.DataFrame:
        """One row per estimate: ``group`` (all or a tier label), ``kind``, ``term`` (att,
        event, difference), ``event_month``, ``coef``, ``se``, ``ci_low``, ``ci_high`` (yuan),
        ``n_customer_months``, ``n_branches``."""
        rows = []
        groups = [("all", self.kinds)] + [
            (label, g) for label, g in zip(self.design.tiers.labels, self.tiers, strict=True)
        ]
        for label, by_kind in groups:
            for kind in KINDS:
                grp = by_kind[kind]
                rows.append(_row(label, kind, "att", None, grp.att))
                rows += [_row(label, kind, "event", ev, est) for ev, est in grp.path]
        rows.append(_row("all", "quota_month - no_quota", "difference", None, self.difference))
        return table(pd.DataFrame(rows), yuans=("coef", "se", "ci_low", "ci_high"))

    def summary(self) -> str:
        """A few lines of plain text: the two kinds, the difference, the tiers."""
        d = self.design
        lines = [
            f"Customer-level uplift ({d.model} model, bindings dated by the month of "
            f"{'certification' if d.onset == 'certified' else 'the add'}; effects averaged over "
            f"event months 0..{d.post},"
            f" yuan of AUM per bound customer; 95% CI clustered by branch)",
            f"source {self.source} on {self.engine_version}; {self.counts['customers']:,} "
            f"customers, {self.counts['bound_used']:,} bound, {self.counts['branches']:,} branches,"
            f" {self.counts['cells']:,} cells",
        ]
        for kind in KINDS:
            g = self.kinds[kind]
            lines.append(f"  {kind:<12} {_fmt(g.att)}  pre-trend p = {_p(g.pretrend.p_value)}"
                         f"  ({g.n_customers:,} customers)")  # fmt: skip
            truth = self.truth_att(kind)
            if truth is not None:
                lines.append(f"  {'':<12} simulated truth {truth:+,.0f}")
        for kind, block in first_month_gaps(self.to_first_month()).items():
            lines.append(
                f"  {kind:<12} event month 0 {block['event_month_0']['coef']:+,.0f} differs "
                f"from months 1..{d.post}: {_fmt(self.kinds[kind].later)}"
            )
        lines.append(f"  {'difference':<12} {_fmt(self.difference)}  (quota_month - no_quota)")
        for label, by_kind in zip(d.tiers.labels, self.tiers, strict=True):
            parts = "; ".join(f"{k} {_fmt(by_kind[k].att)}" for k in KINDS)
            lines.append(f"  tier {label:<12} {parts}")
        return "\n".join(lines)

    def finding(self) -> str:
        """The result in two sentences with units, English then Chinese (:func:`finding`)."""
        zh, en = finding(self.to_json())
        return f"{en}\n{zh}"

    def _repr_html_(self) -> str:
        t = self.tidy()
        t = t[t.term != "event"].drop(columns=["event_month", "term"])
        head = f"<p><b>Customer-level uplift</b> ({html.escape(self.design.model)} model)</p>"
        return head + t.to_html(index=False, float_format=lambda v: f"{v:,.0f}", na_rep="–")

    def to_json(self) -> dict:
        """The ``customer_uplift.json`` document (strict JSON: no NaN)."""
        d = self.design
        months, _ = path_matrix(d)
        doc = {
            "schema": SCHEMA,
            "source": self.source,
            "engine": self.engine,
            "engine_version": self.engine_version,
            "ibis_version": ibis.__version__,
            "months": self.months.as_dict(),
            "design": {
                "model": d.model,
                "leads": d.leads,
                "post": d.post,
                "onset": d.onset,
                "event": "first certified_at of any of the customer's WeCom contacts; event "
                + (
                    "month 0 is its month"
                    if d.onset == "certified"
                    else "month 0 is the month the contact certified then was added"
                ),
                "kind_rule": "quota_month when an RM of a contact certified in the first "
                "certification month had a quota in force in the binding month (its own row, "
                "else its branch's)",
                "estimator": "imputation (Borusyak, Jaravel & Spiess): customer and branch x "
                "month effects fitted on not-yet-bound customer-months; "
                + (
                    "outcome the monthly AUM change (customer effect = own AUM trend); path = "
                    "cumulative effect on AUM since the month before binding"
                    if d.model == "trends"
                    else "outcome the AUM level"
                ),
                "controls": "customers of the same branch not yet bound in the month (never "
                "bound and bound later); held out: the leads months before binding",
                "window_average": f"mean of the path over event months 0..{d.post}",
                "inference": "branch-level influence functions of ratios of branch totals; "
                "G/(G-1) correction; Student t with G-1 df",
                "cells": "branch x binding month x kind x AUM tier x first and last month x "
                "month: customers and AUM sum",
                "units": "yuan of AUM per bound customer",
                "tiers": [
                    {"tier": label, "low_cny": d.tiers.edges(j)[0], "high_cny": d.tiers.edges(j)[1]}
                    for j, label in enumerate(d.tiers.labels)
                ],
            },
            "att_by_kind": {
                k: self.kinds[k].att.as_dict() | {"n_customers": self.kinds[k].n_customers}
                for k in KINDS
            },
            "difference": self.difference.as_dict() | {"meaning": "quota_month - no_quota"},
            "first_month": self.to_first_month(),
            "event_time": {
                k: [{"event_month": ev} | est.as_dict() for ev, est in self.kinds[k].path]
                for k in KINDS
            },
            "pretrend": {k: self.kinds[k].pretrend.as_dict() for k in KINDS},
            "by_tier": [
                {
                    "tier": label,
                    "low_cny": d.tiers.edges(j)[0],
                    "high_cny": d.tiers.edges(j)[1],
                    "att_by_kind": {
                        k: by_kind[k].att.as_dict() | {"n_customers": by_kind[k].n_customers}
                        for k in KINDS
                    },
                    "event_time": {
                        k: [{"event_month": ev} | est.as_dict() for ev, est in by_kind[k].path]
                        for k in KINDS
                    },
                    "pretrend": {k: by_kind[k].pretrend.as_dict() for k in KINDS},
                }
                for j, (label, by_kind) in enumerate(zip(d.tiers.labels, self.tiers, strict=True))
            ],
            "n": self.counts,
            "timings_s": self.timings_s,
            "simulated": self.simulated,
            "note": self.note,
        }
        if self.truth is not None:
            doc["truth"] = {
                "att_by_kind": {k: json_number(self.truth_att(k)) for k in KINDS},
                "gain_per_binding_cny": self.truth.get("gain_per_binding_cny"),
                "meaning": "simulated realised effect of the first binding (it includes later "
                "bindings of the same customer), averaged like the estimate",
            }
        assert len(months) == len(self.kinds[KINDS[0]].path)
        return doc


def _row(group: str, kind: str, term: str, ev: int | None, est: Estimate) -> dict:
    return {
        "group": group,
        "kind": kind,
        "term": term,
        "event_month": ev,
        "coef": est.coef,
        "se": est.se,
        "ci_low": est.ci_low,
        "ci_high": est.ci_high,
        "n_customer_months": est.n_customer_months,
        "n_branches": est.n_branches,
    }


def _first_month_doc(group: Group, post: int) -> dict | None:
    if group.later is None or group.first_gap is None:
        return None
    return {
        "event_month_0": group.path[[ev for ev, _ in group.path].index(0)][1].as_dict(),
        "later": group.later.as_dict() | {"event_months": [1, post]},
        "difference": group.first_gap.as_dict()
        | {"meaning": f"event month 0 less the average of event months 1..{post}"},
    }


def first_month_gaps(first_month: dict) -> dict[str, dict]:
    """The kinds of a ``first_month`` block whose effect at event month 0 differs from its
    average over event months ``1..post`` (the difference's 95% interval excludes 0)."""
    out = {}
    for kind, block in first_month.items():
        gap = (block or {}).get("difference") or {}
        if gap.get("ci_low") is not None and (gap["ci_low"] > 0 or gap["ci_high"] < 0):
            out[kind] = block
    return out


def first_month_note(first_month: dict) -> str:
    """The note's sentences on kinds whose effect at event month 0 differs from the later
    months (:func:`first_month_gaps`)."""
    parts = []
    for kind, b in first_month_gaps(first_month).items():
        zero, later, gap = b["event_month_0"], b["later"], b["difference"]
        first, last = later["event_months"]
        parts.append(
            f" {kind}: the effect at event month 0 ({zero['coef']:+,.0f} yuan) is "
            f"{'below' if gap['coef'] < 0 else 'above'} its average over event months "
            f"{first}-{last} ({later['coef']:+,.0f}, 95% CI {later['ci_low']:+,.0f} to "
            f"{later['ci_high']:+,.0f}; difference {gap['coef']:+,.0f}, "
            f"{gap['ci_low']:+,.0f} to {gap['ci_high']:+,.0f})."
        )
    if not parts:
        return ""
    return "".join(parts) + FIRST_MONTH


def late_certified(counts: dict, design: Design) -> str:
    """The note's sentence on the bound customers certified in a later month than their
    binding contact was added (``counts`` as in ``customer_uplift.json``'s ``n``)."""
    used = counts.get("bound_used", 0)
    late = counts.get("bound_used_added_in_an_earlier_month")
    if not used or late is None:
        return ""
    if late == 0:
        return (
            f" Every bound customer used was certified in the month its binding contact was "
            f"added, so the onset (--onset {design.onset}) does not matter here."
        )
    text = LATE_CERTIFIED[design.onset]
    return text.format(late=late, used=used, share=late / used, months=design.post + 1)


def late_shortfall(doc: dict) -> float | None:
    """How much the window averages of a ``customer_uplift.json`` document may understate the
    effect (a share) when AUM moves from the other onset than the one that dates bindings:
    the share of bound customers certified in a later month than added, divided by the months
    averaged when bindings are dated by the add; ``None`` when the count is absent."""
    used = doc["n"].get("bound_used", 0)
    late = doc["n"].get("bound_used_added_in_an_earlier_month")
    if not used or late is None:
        return None
    share = late / used
    if doc["design"].get("onset", "certified") == "added":
        return share / (doc["design"]["post"] + 1)
    return share


def _yuan_ci(est: dict, to: str) -> tuple[str, str]:
    """An estimate in yuan as ``+30,408`` and its interval as ``+27,878 <to> +32,939``."""
    if est["coef"] is None:
        return "n/a", "n/a"
    if est["ci_low"] is None:
        return f"{est['coef']:+,.0f}", "n/a"
    return f"{est['coef']:+,.0f}", f"{est['ci_low']:+,.0f} {to} {est['ci_high']:+,.0f}"


def finding(doc: dict) -> tuple[str, str]:
    """The customer-level finding of a ``customer_uplift.json`` document, in Chinese and in
    English: the AUM change per bound customer (yuan, 95% CI) after a binding in a month
    without a quota and in a quota month, and why their gap is not a quota add's value."""
    post = doc["design"]["post"]
    free, quota = doc["att_by_kind"]["no_quota"], doc["att_by_kind"]["quota_month"]
    (f_zh, fci_zh), (q_zh, qci_zh) = _yuan_ci(free, "至"), _yuan_ci(quota, "至")
    (f_en, fci_en), (q_en, qci_en) = _yuan_ci(free, "to"), _yuan_ci(quota, "to")
    zh = (
        f"客户层面：无配额月份绑定的客户，绑定后第0–{post}个月平均每位客户 AUM 变化 {f_zh} 元"
        f"（95% 置信区间 {fci_zh} 元）；配额月份绑定的客户为 {q_zh} 元（{qci_zh} 元）。"
        "配额月份的绑定混合了本来就会发生的自然新增和配额促成的新增，两者之差不是一个配额新增"
        "本身的价值。"
    )
    en = (
        f"At customer level, a customer bound in a month without a quota holds {f_en} yuan "
        f"of AUM over months 0–{post} after binding (95% CI {fci_en}), one bound in a quota "
        f"month {q_en} yuan ({qci_en}), per bound customer. A quota-month binding mixes "
        "organic adds, which would have happened anyway, with quota-induced ones, so the gap "
        "between the two is not the value of a quota-induced add."
    )
    gaps = first_month_gaps(doc.get("first_month") or {})
    for kind, b in gaps.items():
        zero, later = b["event_month_0"]["coef"], b["later"]
        low, high = later["ci_low"], later["ci_high"]
        name_zh = "无配额月份" if kind == "no_quota" else "配额月份"
        name_en = "without a quota" if kind == "no_quota" else "in a quota month"
        zh += (
            f"{name_zh}绑定的客户在绑定当月的效应（{zero:+,.0f} 元）与第1–{post}个月的平均"
            f"（{later['coef']:+,.0f} 元，{low:+,.0f} 至 {high:+,.0f}）不同，上述平均包含绑定当月。"
        )
        en += (
            f" For customers bound {name_en}, the effect in the binding month ({zero:+,.0f}) "
            f"differs from its average over months 1–{post} ({later['coef']:+,.0f}, 95% CI "
            f"{low:+,.0f} to {high:+,.0f}); the average above includes the binding month."
        )
    short = late_shortfall(doc)
    if short is not None and short >= LATE_SHARE_STATED:
        added = doc["design"].get("onset") == "added"
        moves_zh, moves_en = ("实名认证", "the certification") if added else ("添加", "the add")
        zh += (
            f"若 AUM 从{moves_zh}时起变化（部分客户在添加企业微信后的下一个月或更晚才完成实名"
            f"认证），上述估计约低估 {short:.0%}。"
        )
        en += (
            f" If AUM moves from {moves_en} (some customers were certified in a later month than "
            f"they were added on WeCom), these estimates understate the effect by about "
            f"{short:.0%}."
        )
    return zh, en


def _fmt(est: Estimate) -> str:
    if est.coef is None:
        return f"n/a ({est.reason})"
    if est.ci_low is None:
        return f"{est.coef:+,.0f}"
    return f"{est.coef:+,.0f} [{est.ci_low:+,.0f}, {est.ci_high:+,.0f}]"


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"


def _truth_average(truth: dict, kind: str, design: Design, tier: str | None = None) -> float | None:
    """The simulator's realised first-binding effect averaged like the estimate: event months
    0..post, each the chained mean monthly increments (trends) or mean level (levels)."""
    block = truth["by_tier"][tier] if tier else truth
    key = "change_by_event_month" if design.model == "trends" else "level_by_event_month"
    values = block.get(key, {}).get(kind)
    if (
        not values
        or len(values) <= design.post
        or any(v is None for v in values[: design.post + 1])
    ):
        return None
    v = np.asarray(values[: design.post + 1], dtype=float)
    path = np.cumsum(v) if design.model == "trends" else v
    return float(path.mean())


# ---------------------------------------------------------------------------- running it


def _read_truth(source: Source) -> dict | None:
    if source.engine and source.location.startswith("spark:"):
        return None
    path = Path(source.location) / "truth.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("level") != "customer":
        return None
    return doc.get("customer_level") or {}


def _counts(frame: pd.DataFrame, cells: Cells, imputed: Imputed, rows: int) -> dict:
    def pick(role: int, k: int | None = None) -> int:
        sel = frame.role == role
        if k is not None:
            sel &= frame.k == k
        return int(frame.loc[sel, "customers"].sum())

    used_branches = int(np.count_nonzero(imputed.N[..., :].sum(axis=(1, 2, 3)) > 0))
    return {
        "customers": int(frame.customers.sum()),
        "never_bound": pick(0),
        "bound_used": pick(1),
        "bound_no_quota": pick(1, 0),
        "bound_quota_month": pick(1, 1),
        "bound_used_added_in_an_earlier_month": int(
            frame.loc[frame.role == 1, "added_before"].sum()
        ),
        "left_out_bound_in_first_month": pick(2),
        "left_out_gaps": pick(3),
        "branches": len(cells.branch_names),
        "branches_with_estimates": used_branches,
        "cells": imputed.cells,
        "cell_months": len(cells),
        "customer_months": rows,
        "target_customer_months_not_imputed": imputed.not_imputed,
    }


def estimate_cells(
    cells: Cells, design: Design
) -> tuple[dict[str, Group], tuple[dict[str, Group], ...], Estimate, Imputed]:
    """Run the estimator on cell rows; raise :class:`InputError` (exit 2) when the source has
    no bindings, no controls or fewer than :data:`MIN_BRANCHES` branches to cluster on, and
    :class:`NotIdentified` (exit 2) when the AUM sums are not finite or the fixed-effect
    system cannot be solved on them (AUM beyond any account's, e.g. with ``--no-check``)."""
    design.check()
    if not np.isfinite(cells.s).all():
        raise NotIdentified(
            "AUM sums that are not finite numbers (infinite or NaN aum_cny): the fixed effects "
            "cannot be fitted; the table rules refuse such rows (run without --no-check)"
        )
    try:
        return _estimate_cells(cells, design)
    except np.linalg.LinAlgError as exc:
        raise NotIdentified(
            "the fixed-effect system cannot be solved on these AUM values "
            f"({type(exc).__name__}); check aum_cny for values beyond any account's"
        ) from exc


def _estimate_cells(
    cells: Cells, design: Design
) -> tuple[dict[str, Group], tuple[dict[str, Group], ...], Estimate, Imputed]:
    imp = impute(cells, design)
    L = design.leads
    bound_post = (cells.g >= 0) & (cells.t >= cells.g) & (cells.t <= cells.g + design.post)
    if not np.any(bound_post):
        raise InputError(
            "no bindings: no customer is bound (first certified_at) after a month with AUM "
            "in the window; nothing to estimate"
        )
    post_N = imp.N[..., L:]
    if post_N.sum() == 0:
        raise InputError(
            "no controls: bound customers have no never- or not-yet-bound customers of their "
            "branch in the same months (or no months before binding to fit); nothing to estimate"
        )
    G = int(np.count_nonzero(post_N.sum(axis=(1, 2, 3)) > 0))
    if G < MIN_BRANCHES:
        raise InputError(
            f"too few branches: bound customers with controls in {G} branch(es); "
            f"branch-clustered inference needs at least {MIN_BRANCHES}"
        )
    kinds = {
        k: group_estimates(
            imp.A[:, i].sum(axis=1), imp.N[:, i].sum(axis=1), int(imp.customers[:, i].sum()), design
        )
        for i, k in enumerate(KINDS)
    }
    tiers = tuple(
        {
            k: group_estimates(
                imp.A[:, i, j], imp.N[:, i, j], int(imp.customers[:, i, j].sum()), design
            )
            for i, k in enumerate(KINDS)
        }
        for j in range(len(design.tiers))
    )
    return kinds, tiers, difference(kinds["no_quota"], kinds["quota_month"]), imp


def estimate(
    source: str | os.PathLike[str] | Source,
    options: EngineOptions | None = None,
    months: str | MonthWindow | None = None,
    design: Design | None = None,
    progress: Progress | None = None,
    check: bool = True,
) -> CustomerUpliftResult:
    """Validate the source (unless ``check`` is false), aggregate it to cells in the engine and
    estimate the customer-level uplift. Nothing is written.

    Raises
    ------
    InputError
        Bad arguments or tables, no bindings, no controls, too few branches (exit 2).
    """
    from wb.warehouse.validate import validate

    design = design or Design()
    design.check()
    window = months if isinstance(months, MonthWindow) else MonthWindow.parse(months)
    progress = progress or Progress(6, label="customer uplift", quiet=True)
    started = time.perf_counter()
    own = not isinstance(source, Source)
    src = open_source(source, options) if own else source
    try:
        if check:
            tables = validate(src, progress).tables
        else:
            from wb.warehouse.tables import complete

            tables = {name: complete(t, name) for name, t in src.tables.items()}
        cm, wc, q = tables["customer_month"], tables["wecom_contact"], tables["quota"]
        spells = None
        try:  # the cached spells released while the engine is open, also when interrupted
            with progress.step("bindings and customer spells"), src.reading("the customer uplift"):
                spells = customer_spells(
                    cm, first_bindings(wc, cm, q, design.onset), window, design
                ).cache()
                counts_frame = spell_counts(spells).to_pandas()
            with progress.step("aggregate to cells"), src.reading("the customer uplift"):
                frame = cell_sums(cm, spells, window, design).to_pandas()
        finally:
            if spells is not None:
                spells.release()
        with progress.step("estimate on cells"):
            cells = Cells.from_frame(frame)
            del frame
            kinds, tiers, diff, imp = estimate_cells(cells, design)
        rows = int(cells.n.sum())
        counts = _counts(counts_frame, cells, imp, rows)
        engine, version, location = src.engine, src.engine_version, src.label
        truth = _read_truth(src)
        simulated = truth is not None or src.simulated
    finally:
        if own:
            src.close()
    timings = dict(progress.timings) | {"total": round(time.perf_counter() - started, 3)}
    return CustomerUpliftResult(
        source=location,
        engine=engine,
        engine_version=version,
        design=design,
        months=window,
        kinds=kinds,
        tiers=tiers,
        difference=diff,
        counts=counts,
        timings_s=timings,
        simulated=simulated,
        truth=truth,
    )


def write(
    result: CustomerUpliftResult,
    out: str | os.PathLike[str],
    figures: Callable[[Path], Iterable[Path]] | None = None,
) -> Path:
    """Write ``out/customer_uplift.json`` (checked against its committed schema) and whatever
    ``figures`` draws into the folder, staged beside ``out`` and renamed at the end.

    ``out`` must not exist, be empty or hold an earlier result (``customer_uplift.json``).
    """
    with staged_dir(out, JSON_NAME, "customer uplift", "uplift") as staging:
        doc = result.to_json()
        doc["finished_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        DOCUMENT.check(doc, JSON_NAME)
        write_json(doc, staging / JSON_NAME)
        if figures is not None:
            list(figures(staging))
    return Path(out)


def load(path: str | os.PathLike[str]) -> dict:
    """Read a written ``customer_uplift.json`` (a folder or the file) and check it against the
    committed schema; for the brief and notebooks, which need the numbers, not the engine.

    Raises :class:`InputError` (exit 2) when it is missing or not a customer uplift document.
    """
    file = Path(path)
    if file.is_dir():
        file = file / JSON_NAME
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{file}: cannot read a customer uplift document ({exc})") from exc
    try:
        DOCUMENT.check(doc, str(file))
    except ExportError as exc:
        raise InputError(str(exc)) from exc
    return doc


def run(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: EngineOptions | None = None,
    months: str | MonthWindow | None = None,
    design: Design | None = None,
    progress: Progress | None = None,
    figures: Callable[[CustomerUpliftResult, Path], Iterable[Path]] | None = None,
    check: bool = True,
    label: str | None = None,
) -> CustomerUpliftResult:
    """:func:`estimate` then :func:`write`; DuckDB spills into a hidden sibling of ``out``.

    ``label`` names the source in the outputs instead of its location (``wb run`` passes the
    data's label: a folder's name may hold personal data and never reaches a run's outputs).
    """
    options = options or EngineOptions()
    options.check()
    (design or Design()).check()
    window = months if isinstance(months, MonthWindow) else MonthWindow.parse(months)
    target = check_out(out, JSON_NAME, "customer uplift")
    with spill_beside(options, target) as spilling:
        with interruptible("the customer uplift"):
            result = estimate(source, spilling, window, design, progress, check)
        if label is not None:
            result = replace(result, source=label)
        draw = None if figures is None else (lambda folder: figures(result, folder))
        write(result, target, draw)
    return result
