"""The customer-level uplift's result (:class:`CustomerUpliftResult`) and its document,
``customer_uplift.json``: estimates by kind of binding month and AUM tier, counts, design and
provenance, checked against the committed schema when written (:func:`wb.warehouse.uplift.write`)
and when read (:func:`load`). Money in yuan of AUM per bound customer; event months are months
since the binding month."""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from wb.door import provenance
from wb.door.display import table
from wb.door.documents import DocumentSchema
from wb.errors import ExportError, InputError
from wb.warehouse.build import MonthWindow
from wb.warehouse.imputation import Design, Estimate, Group, json_number, path_matrix
from wb.warehouse.uplift_finding import (
    NOTE,
    finding,
    first_month_gaps,
    first_month_note,
    late_certified,
)

SCHEMA = "wb.customer_uplift/1"
JSON_NAME = "customer_uplift.json"
DOCUMENT = DocumentSchema("wb.warehouse", "customer_uplift.schema.json", SCHEMA)

#: The two kinds of binding month, in output order.
KINDS = ("no_quota", "quota_month")


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
        """A few lines of plain text: the two kinds, the difference, the tiers; the simulated
        mark first when the source is simulated."""
        d = self.design
        lines = [provenance.LABEL] if self.simulated else []
        lines += [
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
        """The result in two sentences with units, English then Chinese (:func:`finding`),
        after :data:`wb.door.provenance.LABEL` when the source is simulated."""
        zh, en = finding(self.to_json())
        mark = f"{provenance.LABEL}: " if self.simulated else ""
        return f"{mark}{en}\n{zh}"

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


def _fmt(est: Estimate) -> str:
    if est.coef is None:
        return f"n/a ({est.reason})"
    if est.ci_low is None:
        return f"{est.coef:+,.0f}"
    return f"{est.coef:+,.0f} [{est.ci_low:+,.0f}, {est.ci_high:+,.0f}]"


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"


def _truth_average(truth: dict, kind: str, design: Design) -> float | None:
    """The simulator's realised first-binding effect averaged like the estimate: event months
    0..post, each the chained mean monthly increments (trends) or mean level (levels)."""
    key = "change_by_event_month" if design.model == "trends" else "level_by_event_month"
    values = truth.get(key, {}).get(kind)
    if (
        not values
        or len(values) <= design.post
        or any(v is None for v in values[: design.post + 1])
    ):
        return None
    v = np.asarray(values[: design.post + 1], dtype=float)
    path = np.cumsum(v) if design.model == "trends" else v
    return float(path.mean())


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
