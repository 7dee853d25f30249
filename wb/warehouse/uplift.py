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


# ---------------------------------------------------------------------------- engine side


def first_bindings(contacts: ir.Table, customers: ir.Table, quota: ir.Table) -> ir.Table:
    """One row per bound customer: ``b_customer``, ``g`` (month index of its first
    ``certified_at``) and ``quota_kind`` (1 when an RM with a contact certified in ``g`` had a
    quota in force in ``g``, by the build's rule; else 0). Uses the whole tables, whatever
    the month window."""
    c = contacts.filter(contacts.customer_id.notnull() & contacts.certified_at.notnull())
    cert = c.certified_at
    cert = cert if cert.type().is_timestamp() else cert.cast("timestamp")
    c = c.select(cid=c.customer_id, rm=c.rm_id, cm=cert.strftime("%Y-%m"))
    c = c.mutate(gi=month_index_expr(c.cm))
    first = c.group_by(fid=c.cid).aggregate(g=c.gi.min())
    at_g = c.join(first, (c.cid == first.fid) & (c.gi == first.g)).select("cid", "rm", "cm", "g")
    cmo = customers.mutate(month=month_text(customers.month))
    cmo = cmo.filter(cmo.rm_id.notnull())
    rm_branch = cmo.group_by(rb_rm=cmo.rm_id, rb_month=cmo.month).aggregate(
        rb_branch=cmo.branch_id.max()
    )
    rm_q, branch_q = quota_in_force(quota)
    j1 = at_g.left_join(
        rm_branch, (at_g.rm == rm_branch.rb_rm) & (at_g.cm == rm_branch.rb_month)
    ).select("cid", "rm", "cm", "g", "rb_branch")
    j2 = j1.left_join(rm_q, (j1.rm == rm_q.q_rm) & (j1.cm == rm_q.q_month)).select(
        "cid", "cm", "g", "rb_branch", "rm_target"
    )
    j = j2.left_join(
        branch_q, (j2.rb_branch == branch_q.q_branch) & (j2.cm == branch_q.q_bmonth)
    ).select("cid", "g", "rm_target", "branch_target")
    target = ibis.coalesce(j.rm_target, j.branch_target, 0)
    j = j.mutate(has_quota=(target > 0).cast("int64"))
    return j.group_by(b_customer=j.cid).aggregate(g=j.g.max(), quota_kind=j.has_quota.max())


def customer_spells(
    customers: ir.Table, bindings: ir.Table, window: MonthWindow, design: Design
) -> ir.Table:
    """One row per customer with an RM in the window: ``branch`` (of its first month with an
    RM), first and last month ``a``, ``z`` and month count ``n`` (indices), binding month ``g``
    and ``quota_kind`` (null when never bound or bound after its last month), AUM in ``g - 1`` (``base_aum``, yuan), its
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
    """Customers per role and kind (one row each)."""
    kind = ibis.ifelse(spells.role == 1, spells.quota_kind, -1).cast("int64")
    s = spells.mutate(k=kind)
    return s.group_by(["role", "k"]).aggregate(customers=s.count(), branches=s.branch.nunique())


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
        return NOTE.format(
            trend=" (its AUM trend)" if trend else "",
            trend_again=" once each customer's own trend is allowed for" if trend else "",
            min_gap=self.design.leads + (2 if trend else 1),
        )

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
            f"Customer-level uplift ({d.model} model; effects averaged over event months 0..{d.post},"
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
                "event": "first certified_at of any of the customer's WeCom contacts; event "
                "month 0 is its month",
                "kind_rule": "quota_month when an RM with a contact certified in the binding "
                "month had a quota in force in that month (its own row, else its branch's)",
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
        with progress.step("bindings and customer spells"), src.reading("the customer uplift"):
            spells = customer_spells(cm, first_bindings(wc, cm, q), window, design)
            spells = spells.cache()
            counts_frame = spell_counts(spells).to_pandas()
        with progress.step("aggregate to cells"), src.reading("the customer uplift"):
            frame = cell_sums(cm, spells, window, design).to_pandas()
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
