"""Check a news article's claims against the bank panel: agrees, contradicts or no data.

The article is :data:`wb.banks.claims.ARTICLE` (每日经济新闻 2025-12-31, 李玉雯), on banks'
WeCom add quotas; a re-post of it swaps bank names for synonyms (宁靖银行 = 平安银行, 配置银行 =
建设银行). Its claims about H1 2025 retail banking are data (:data:`wb.banks.claims.CLAIMS`);
:func:`check` evaluates each against the panel.

Figures whose source is the article itself (its mirrors and summaries, :data:`wb.banks.claims.ARTICLE_URLS`)
cannot confirm it: they are left out of the evidence and named in the note. A claim with no
other figure gets ``no data``; a claim about the sign of retail profit with no pre-tax figure
is checked on segment net profit when the panel has it, and says so.

Evidence is counted by independent **origin**, not by page (:mod:`wb.banks.origins`): the author
when the source names one, else the outlet; two columns by one columnist, an article and the
AI summary of it, or one source that gives both a level and a change are one origin. Every
verdict says how strong its evidence is (:func:`wb.banks.origins.strength`): "strong" needs two independent
named origins seen first-hand; an AI summary or a page that names no outlet or author never
makes a verdict strong. Rows that state only a direction (小幅上涨, 不同程度下滑) count as
evidence for a claim about the sign of a change, never for a claim about its size. Each claim
also says where it comes from: the article's text or only a summary of it (the two figures
only reportify's summary prints).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from wb.banks.changes import Change, retail_share, same_basis_pair, share_change, yoy
from wb.banks.claims import (
    AGREES,
    ARTICLE,
    CLAIMS,
    CONTRADICTS,
    JOINT_STOCK_BANKS,
    LARGE_BANKS,
    MIN_BANKS_TO_RANK,
    NO_DATA,
    Claim,
    article_source_ids,
    independent,
)
from wb.banks.display import display_value, sign_is_known
from wb.banks.origins import Evidence, origins, strength, voices
from wb.banks.panel import CONFIDENCE_RANK, Panel, prior_period, select
from wb.door.display import html_table, jsonable

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
}


def _passes(claim: Claim, value: float) -> bool:
    """Whether a change (a fraction) bears the claim out; a bound passes when its bound does."""
    if claim.test == "yoy_close":
        return abs(value - claim.threshold) <= claim.tolerance
    return _OPS[claim.op](value, claim.threshold)


def _verdict_yoy(claim: Claim, change: Change) -> str:
    if math.isnan(change.value):
        return NO_DATA
    return AGREES if _passes(claim, change.value) else CONTRADICTS


def _sign_claim(claim: Claim) -> bool:
    """A claim about the sign of a change (not its size): a direction can bear on it."""
    return claim.test == "yoy" and claim.threshold == 0.0


def _evidence(claim: Claim, panel: Panel, metric: str | None = None) -> list[Evidence]:
    """Every piece of independent evidence on a change or loss claim (on ``metric``, default
    the claim's), one per source: a source that prints the level and the change is one piece."""
    metric = metric or claim.metric
    out: list[Evidence] = []
    if claim.test == "loss":
        rows = panel.rows(claim.bank_id, claim.period, metric)
        out += [
            Evidence((r.source_id,), r.confidence, r.value < 0, "figure", r.status != "ok")
            for r in rows.itertuples()
        ]
    else:
        base = prior_period(claim.period)
        pair = same_basis_pair(panel, claim.bank_id, metric, claim.period, base)
        if pair is not None and pair[1].value > 0:
            new, old = pair
            conf = max(new.chosen["confidence"], old.chosen["confidence"], key=CONFIDENCE_RANK.get)
            value = new.value / old.value - 1
            ids = tuple(dict.fromkeys((new.source_id, old.source_id)))
            unverified = "unverified" in (new.status, old.status)
            out.append(
                Evidence(ids, conf, _passes(claim, value), "derived from two levels", unverified)
            )
        quoted = panel.rows(claim.bank_id, claim.period, f"{metric}_yoy")
        out += [
            Evidence(
                (r.source_id,), r.confidence, _passes(claim, r.value), "figure", r.status != "ok"
            )
            for r in quoted.itertuples()
        ]
    said = f"{metric}_yoy" if claim.test != "loss" else metric
    directions = panel.directions(claim.bank_id, claim.period, said)
    for r in directions.itertuples():
        if claim.test == "loss" and r.direction == "loss":
            out.append(Evidence((r.source_id,), r.confidence, True, "direction only"))
        elif _sign_claim(claim) and r.direction in ("up", "down"):
            agrees = (r.direction == "down") == (claim.op in ("<", "<="))
            out.append(Evidence((r.source_id,), r.confidence, agrees, "direction only"))
    by_source: dict[str, Evidence] = {}
    for e in out:
        by_source.setdefault(e.source_ids[0], e)
    return list(by_source.values())


def _what_is_known(claim: Claim, panel: Panel, change: Change) -> tuple[str, Change]:
    """For a claim without a change: the levels there are, in words, and their sources."""
    if change.note:
        return change.note, change
    level = select(panel, claim.bank_id, claim.period, claim.metric)
    if level is None:
        return "", change
    base = prior_period(claim.period)
    shown = display_value(level.value, level.qualifier, status=level.status)
    text = f"{claim.period}: {shown}; no {base} figure"
    return text, Change(value=math.nan, method="none", source_ids=(level.source_id,))


def _from_directions(evidence: list[Evidence]) -> dict[str, object] | None:
    """A verdict from direction-only rows, when they are all there is and they agree."""
    said = {e.agrees for e in evidence}
    if not evidence or len(said) != 1:
        return None
    ids = tuple(s for e in evidence for s in e.source_ids)
    return {
        "verdict": AGREES if said.pop() else CONTRADICTS,
        "figures": "direction only: " + ", ".join("stated" for _ in evidence),
        "method": "direction",
        "source_ids": ids,
    }


def _evaluate_share_fell(claim: Claim, panel: Panel) -> tuple[dict[str, object], list[Evidence]]:
    """Most large and joint-stock banks with data saw retail's income and profit share fall."""
    parts, unsure, evidence, cited = [], [], [], []
    for bank in (*LARGE_BANKS, *JOINT_STOCK_BANKS):
        for of in ("income", "profit"):
            change = share_change(panel, bank, claim.period, prior_period(claim.period), of)
            if math.isnan(change.value):
                continue
            shown = display_value(change.value, change.qualifier, "points", status=change.status)
            cited += change.source_ids
            if not sign_is_known(change.value, change.qualifier):
                unsure.append(f"{bank} {of} {shown}")
                continue
            parts.append(f"{bank} {of} {shown}")
            ids = change.source_ids
            evidence.append(
                Evidence(
                    ids,
                    _worst_confidence(panel, ids),
                    change.value < 0,
                    "derived from two levels",
                    change.status == "unverified",
                    voice=f"{bank} {of}",
                )
            )
    if len(evidence) < 3:
        figures = (
            f"only {len(evidence)} bank × share pair(s) with {claim.period} and "
            f"{prior_period(claim.period)} on one basis"
            + (f": {'; '.join(parts)}" if parts else "")
        )
        return {"verdict": NO_DATA, "figures": figures, "method": "none", "source_ids": ()}, []
    fell = sum(e.agrees for e in evidence)
    return {
        "verdict": AGREES if fell > len(evidence) / 2 else CONTRADICTS,
        "figures": f"{fell} of {len(evidence)} shares fell: "
        + "; ".join(parts)
        + (f"; direction uncertain, not counted: {'; '.join(unsure)}" if unsure else ""),
        "method": "derived",
        "source_ids": tuple(dict.fromkeys(cited)),
    }, evidence


def _worst_confidence(panel: Panel, ids: tuple[str, ...]) -> str:
    found = set(panel.frame.loc[panel.frame["source_id"].isin(ids), "confidence"])
    return max(found, key=CONFIDENCE_RANK.get, default="medium")


def _evaluate_share_low(claim: Claim, panel: Panel) -> tuple[dict[str, object], list[Evidence]]:
    """The bank's pre-tax retail profit share is below the median of banks with one."""
    shares = {b: retail_share(panel, b, claim.period, "profit") for b in panel.banks()}
    pre_tax = {b: s for b, s in shares.items() if s.basis == "pre_tax" and not math.isnan(s.value)}
    own = pre_tax.get(claim.bank_id)
    if own is None or len(pre_tax) < MIN_BANKS_TO_RANK:
        why = (
            "no pre-tax retail profit share"
            if own is None
            else f"only {len(pre_tax)} banks have a pre-tax retail profit share "
            f"({', '.join(sorted(pre_tax))}): too few to call one low"
        )
        return {"verdict": NO_DATA, "figures": why, "method": "none", "source_ids": ()}, []
    values = sorted(s.value for s in pre_tax.values())
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    low = own.value < median
    figures = (
        f"{display_value(own.value, own.qualifier, 'share', status=own.status)} vs median "
        f"{median * 100:.1f}% of {len(values)} banks (pre-tax)"
    )
    conf = _worst_confidence(panel, own.source_ids)
    return {
        "verdict": AGREES if low else CONTRADICTS,
        "figures": figures,
        "method": own.method,
        "source_ids": own.source_ids,
    }, [Evidence(own.source_ids, conf, low, "figure", own.status == "unverified")]


def _evaluate(claim: Claim, panel: Panel) -> tuple[dict[str, object], list[Evidence]]:
    """Verdict, figure text, method and sources of one claim on one panel, and its evidence."""
    if claim.test == "share_fell":
        return _evaluate_share_fell(claim, panel)
    if claim.test == "share_low":
        return _evaluate_share_low(claim, panel)
    evidence = _evidence(claim, panel)
    if claim.test == "loss":
        level = select(panel, claim.bank_id, claim.period, claim.metric)
        if level is None:
            return _from_directions(evidence) or _no_data(), evidence
        return {
            "verdict": AGREES if level.value < 0 else CONTRADICTS,
            "figures": display_value(level.value, status=level.status),
            "method": "quoted",
            "source_ids": (level.source_id,),
        }, evidence
    change = yoy(panel, claim.bank_id, claim.period, claim.metric)
    label = ""
    if math.isnan(change.value) and _sign_claim(claim) and claim.metric == "retail_profit":
        # no pre-tax change: segment net profit bears on the sign, and the text says so
        net = yoy(panel, claim.bank_id, claim.period, "retail_net_profit")
        if not math.isnan(net.value):
            change, label = net, "零售净利润 segment net profit, not pre-tax: "
            evidence = _evidence(claim, panel, "retail_net_profit")
    figures = label + display_value(
        change.value, change.qualifier, "change", digits=2, status=change.status
    )
    if math.isnan(change.value):
        if found := _from_directions(evidence):
            return found, evidence
        figures, change = _what_is_known(claim, panel, change)
    elif change.note:
        figures += f" ({change.note})"
    return {
        "verdict": _verdict_yoy(claim, change),
        "figures": figures,
        "method": change.method,
        "source_ids": change.source_ids,
    }, evidence


def _no_data() -> dict[str, object]:
    return {"verdict": NO_DATA, "figures": "", "method": "none", "source_ids": ()}


@dataclass(frozen=True)
class NewsCheck:
    """The article's claims checked against the panel: one row per claim (see :func:`check`)."""

    table: pd.DataFrame = field(repr=False)

    def tidy(self) -> pd.DataFrame:
        """One row per claim: key, bank_id, bank_name, claim, period, origin, article, verdict, strength,
        n_sources, origins, confidence, figures, method, source_ids, note (see :func:`check`)."""
        return self.table.copy()

    def summary(self) -> str:
        """``"15 claims: 10 agree (4 strong, …), 0 contradict, 5 no data"``."""
        t = self.table
        grades = t.loc[t["verdict"] != NO_DATA, "strength"].str.split(":").str[0].value_counts()
        parts = [f"{int(n)} {g}" for g, n in grades.items()]
        n = {v: int((t["verdict"] == v).sum()) for v in (AGREES, CONTRADICTS, NO_DATA)}
        return (
            f"{len(t)} claims: {n[AGREES]} agree, {n[CONTRADICTS]} contradict, "
            f"{n[NO_DATA]} no data; evidence: {', '.join(parts) or 'none'}"
        )

    def _repr_html_(self) -> str:
        shown = ["claim", "origin", "verdict", "strength", "figures", "source_ids"]
        return html_table(self.table[shown], f"News check · {self.summary()}")

    def to_json(self) -> list[dict[str, object]]:
        """The rows as strict JSON (missing → null, ids → lists)."""
        return [{k: jsonable(v) for k, v in row.items()} for row in self.table.to_dict("records")]

    @property
    def source_ids(self) -> set[str]:
        """Every source behind a verdict."""
        return {s for ids in self.table["source_ids"] for s in ids}


def check(panel: Panel, claims: tuple[Claim, ...] = CLAIMS) -> NewsCheck:
    """Evaluate every claim on the independent figures of ``panel``.

    Returns
    -------
    NewsCheck
        Its ``tidy()`` table has one row per claim: key, bank_id, bank_name, claim, period (the
        one the claim is about, e.g. ``H1 2025``), origin
        (the article's text or only a summary of it), article (:data:`ARTICLE`), verdict (agrees / contradicts / no
        data), strength (how strong the evidence is, in words, naming the agreeing origins),
        n_sources (independent origins bearing on it: authors or outlets, not pages; for the
        share claim, bank × share pairs), origins (their names), confidence (the best
        confidence among them), figures (the evidence in words, changes in %, unverified
        figures marked), method (derived from two levels, quoted, direction, or none),
        source_ids (tuple), note (what the article's own pages say, when they were left out).
    """
    names = panel.bank_names()
    known = origins(panel)
    indep = independent(panel)
    own_ids = article_source_ids(panel)
    own = Panel(frame=panel.frame[panel.frame["source_id"].isin(own_ids)], sources=panel.sources)
    rows = []
    for claim in claims:
        result, evidence = _evaluate(claim, indep)
        self_report, _ = _evaluate(claim, own)
        note = ""
        if self_report["source_ids"]:
            note = (
                f"the article's own pages say {self_report['figures']} "
                f"({', '.join(self_report['source_ids'])}); not counted as evidence"
            )
        said = voices(evidence, known)
        unit = "bank × share pair" if claim.test == "share_fell" else "origin"
        rows.append(
            {
                "key": claim.key,
                "bank_id": claim.bank_id,
                "bank_name": names.get(claim.bank_id, claim.bank_id or "—"),
                "claim": claim.says,
                "period": claim.period,
                "origin": claim.origin,
                "article": ARTICLE,
            }
            | result
            | {
                "strength": strength(str(result["verdict"]), said, unit),
                "n_sources": len(said),
                "origins": "; ".join(v.name for v in said),
                "confidence": min(
                    (e.confidence for e in evidence),
                    key=CONFIDENCE_RANK.get,
                    default="",
                ),
                "note": note,
            }
        )
    return NewsCheck(pd.DataFrame(rows))
