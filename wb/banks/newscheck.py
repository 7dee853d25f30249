"""Check a news article's claims against the bank panel: agrees, contradicts or no data.

The article is :data:`ARTICLE` (每日经济新闻 2025-12-31, 李玉雯), on banks' WeCom add quotas; a
re-post of it swaps bank names for synonyms (宁靖银行 = 平安银行, 配置银行 = 建设银行). Its claims
about H1 2025 retail banking are data (:data:`CLAIMS`); :func:`check` evaluates each against
the panel.

Figures whose source is the article itself (its mirrors and summaries, :data:`ARTICLE_URLS`)
cannot confirm it: they are left out of the evidence and named in the note. A claim with no
other figure gets ``no data``; a claim about the sign of retail profit with no pre-tax figure
is checked on segment net profit when the panel has it, and says so.

Evidence is counted by independent **origin**, not by page (:func:`origin_of`): the author
when the source names one, else the outlet; two columns by one columnist, an article and the
AI summary of it, or one source that gives both a level and a change are one origin. Every
verdict says how strong its evidence is (:func:`strength`): "strong" needs two independent
named origins seen first-hand; an AI summary or a page that names no outlet or author never
makes a verdict strong. Rows that state only a direction (小幅上涨, 不同程度下滑) count as
evidence for a claim about the sign of a change, never for a claim about its size. Each claim
also says where it comes from: the article's text or only a summary of it (the two figures
only reportify's summary prints).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from wb.banks.metrics import Change, retail_share, same_basis_pair, share_change, yoy
from wb.banks.panel import (
    CONFIDENCE_RANK,
    Panel,
    display_value,
    prior_period,
    select,
    sign_is_known,
)
from wb.door.display import html_table, jsonable

AGREES, CONTRADICTS, NO_DATA = "agrees", "contradicts", "no data"
#: The checked article: outlet, date, author and title, as a reader can look it up (every row
#: of the check carries it as ``article``, for a heading).
ARTICLE = "每日经济新闻 2025-12-31 (李玉雯)《“疯狂”的银行企微考核》"
#: Where a claim comes from: the article's own text (每经 = 每日经济新闻), or only a summary of it.
ARTICLE_TEXT = "每经 2025-12-31 正文 article text"
SUMMARY = "每经 2025-12-31 仅见摘要 only in reportify.cn's summary of it"
#: The article's "large state-owned and joint-stock banks" (国有大行、股份行).
LARGE_BANKS = ("icbc", "ccb", "abc", "boc", "bocom", "psbc")
JOINT_STOCK_BANKS = ("cmb", "pab", "citic", "ceb", "czb", "hxb", "spdb", "cib", "cmbc")
#: Fewest banks with a pre-tax retail profit share for "relatively low" to mean anything.
MIN_BANKS_TO_RANK = 4

#: Pages that carry the checked article (mirrors, re-posts, summaries): not independent evidence.
ARTICLE_URLS = (
    "greatertorontoproperties.com/articles/2025-12-31/4203821",
    "jxzk19.com/articles/2025-12-31/4204173",
    "reportify.cn/news/1203862725072130048",
    "reportify.ai/news/1205680094958456832",
)

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
}


@dataclass(frozen=True)
class Claim:
    """One checkable statement of the article.

    Attributes
    ----------
    key : str
        Stable id.
    bank_id : str
        The bank it is about.
    says : str
        The claim in words, as the article puts it (Chinese, then English).
    metric : str
        Panel metric: ``retail_operating_income`` or ``retail_profit``.
    period : str
        ``"H1 2025"``.
    test : str
        ``"yoy"`` (the YoY change, a fraction, compared with ``threshold`` by ``op``),
        ``"loss"`` (the level is below zero), ``"yoy_close"`` (the YoY change is within
        ``tolerance`` of ``threshold``), ``"share_fell"`` (retail's share of income and of
        profit fell on a year earlier at most of the large and joint-stock banks with data)
        or ``"share_low"`` (the bank's retail profit share is below the median of the banks
        with a pre-tax share that period).
    op : str
        ``"<"``, ``"<="`` or ``">"``, for ``test="yoy"``.
    threshold : float
        Fraction (``-0.10`` for a double-digit fall).
    tolerance : float
        Fraction points, for ``test="yoy_close"``.
    origin : str
        :data:`ARTICLE_TEXT` or :data:`SUMMARY`.
    """

    key: str
    bank_id: str
    says: str
    metric: str
    period: str
    test: str
    op: str = "<"
    threshold: float = 0.0
    tolerance: float = 0.0
    origin: str = ARTICLE_TEXT


_REV = "零售营收 retail operating income"
_PROF = "零售利润 retail profit"
CLAIMS: tuple[Claim, ...] = (
    *(
        Claim(
            f"revenue_double_digit_fall_{b}",
            b,
            f"{n}零售营收两位数降幅 · {_REV} fell by 10% or more, H1 2025",
            "retail_operating_income",
            "H1 2025",
            "yoy",
            "<=",
            -0.10,
        )
        for b, n in (("czb", "浙商银行"), ("pab", "平安银行"), ("ceb", "光大银行"))
    ),
    *(
        Claim(
            f"revenue_figure_{b}",
            b,
            f"{n}零售营收同比{v:+.2%} · {_REV} YoY {v:+.2%}, H1 2025 (within 0.5 pp)",
            "retail_operating_income",
            "H1 2025",
            "yoy_close",
            threshold=v,
            tolerance=0.005,
            origin=SUMMARY,
        )
        for b, n, v in (("psbc", "邮储银行", -0.0778), ("pab", "平安银行", -0.2049))
    ),
    *(
        Claim(
            f"profit_lower_{b}",
            b,
            f"{n}零售利润同比下降 · {_PROF} lower than a year earlier, H1 2025",
            "retail_profit",
            "H1 2025",
            "yoy",
            "<",
            0.0,
        )
        for b, n in (
            ("bocom", "交通银行"),
            ("psbc", "邮储银行"),
            ("pab", "平安银行"),
            ("abc", "农业银行"),
            ("ccb", "建设银行"),
        )
    ),
    Claim(
        "profit_loss_czb",
        "czb",
        f"浙商银行零售出现亏损 · {_PROF} was a loss, H1 2025",
        "retail_profit",
        "H1 2025",
        "loss",
    ),
    *(
        Claim(
            f"profit_up_{b}",
            b,
            f"{n}零售利润同比大幅增长 · {_PROF} up on a year earlier, H1 2025",
            "retail_profit",
            "H1 2025",
            "yoy",
            ">",
            0.0,
        )
        for b, n in (("icbc", "工商银行"), ("citic", "中信银行"))
    ),
    Claim(
        "low_base_icbc",
        "icbc",
        f"工商银行2024年上半年零售利润总额同比下降超30% · {_PROF} fell more than 30%, H1 2024",
        "retail_profit",
        "H1 2024",
        "yoy",
        "<=",
        -0.30,
    ),
    Claim(
        "low_base_citic",
        "citic",
        f"中信银行2024年同期利润基数较低 · {_PROF} fell in H1 2024 (the low base)",
        "retail_profit",
        "H1 2024",
        "yoy",
        "<",
        0.0,
    ),
    Claim(
        "shares_fell_large_and_joint_stock",
        "",
        "不少国有大行、股份行零售收入和利润在总营收和利润中的占比有不同程度下降 · retail's share of "
        "income and of profit fell at many large and joint-stock banks, H1 2025",
        "retail_income_share",
        "H1 2025",
        "share_fell",
    ),
    *(
        Claim(
            f"profit_share_low_{b}",
            b,
            f"{n}零售利润在全行利润中的贡献占比仍处于相对低位 · {_PROF}'s share of the bank's "
            "profit stays low, H1 2025",
            "retail_profit_share",
            "H1 2025",
            "share_low",
        )
        for b, n in (("icbc", "工商银行"), ("citic", "中信银行"))
    ),
)


def article_source_ids(panel: Panel) -> set[str]:
    """Source ids of the checked article's own pages (:data:`ARTICLE_URLS`)."""
    urls = panel.sources["url"].fillna("")
    own = urls.map(lambda u: any(marker in u for marker in ARTICLE_URLS))
    return set(panel.sources.loc[own, "source_id"])


def independent(panel: Panel) -> Panel:
    """The panel without the article's own figures."""
    own = article_source_ids(panel)
    return Panel(frame=panel.frame[~panel.frame["source_id"].isin(own)], sources=panel.sources)


def _passes(claim: Claim, value: float) -> bool:
    """Whether a change (a fraction) bears the claim out; a bound passes when its bound does."""
    if claim.test == "yoy_close":
        return abs(value - claim.threshold) <= claim.tolerance
    return _OPS[claim.op](value, claim.threshold)


def _verdict_yoy(claim: Claim, change: Change) -> str:
    if math.isnan(change.value):
        return NO_DATA
    return AGREES if _passes(claim, change.value) else CONTRADICTS


@dataclass(frozen=True)
class Origin:
    """Who a source's figure comes from, read from its publisher and title (:func:`origin_of`).

    Attributes
    ----------
    key : str
        Equal for pages of one origin: the author, else the outlet, else the article's title.
    name : str
        The origin in words, for the evidence column.
    named : bool
        The page names its author, outlet or the bank's own report.
    summary : bool
        The page is a machine summary (AI or automated) of what it carries.
    """

    key: str
    name: str
    named: bool
    summary: bool


#: A machine-written page: an AI summary (reportify), an automated announcement digest.
_SUMMARY_RE = re.compile(r"reportify|AI summary|AI财报|automated|auto-generated", re.IGNORECASE)
#: A page that names neither the outlet nor the author of what it carries.
_UNNAMED_RE = re.compile(r"not (?:named|shown)")
#: The bank's own report or site, however it reached the panel.
_OWN_RE = re.compile(r"own (?:report|website|IR|annual)|bank's own|text of bank's|own report text")
#: An author: 记者/作者 X, "X's column", or a 2–3 character name in brackets after an outlet.
_AUTHOR_RES = (
    re.compile(r"(?:记者|作者)\s*([\u4e00-\u9fff]{2,3})"),
    re.compile(r"of ([\u4e00-\u9fff]{2,4})'s"),
    re.compile(r"\(([\u4e00-\u9fff]{2,3})[),;、]"),
)
#: An article a page carries, when its title quotes it ("same content as … '<title>'").
_SAME_CONTENT_RE = re.compile(r"same content as [^']*'([^']+)'")


def origin_of(source_id: str, publisher: str, title: str) -> Origin:
    """The independent origin of one source (see the module docstring).

    The author when the publisher names one (洪偌馨's column and an AI summary of it are one
    origin); else the bank's own report; else the outlet (a summary "of 每日经济新闻" is that
    outlet); a page that names no outlet or author is its own origin unless its title shows
    which article it carries (a re-post and an AI summary of one article are one origin).
    """
    summary = bool(_SUMMARY_RE.search(publisher))
    for pattern in _AUTHOR_RES:
        if found := pattern.search(publisher):
            return Origin(found.group(1), found.group(1), True, summary)
    if _OWN_RE.search(publisher):
        return Origin("own report", "银行自身报告 the bank's own report", True, summary)
    if _UNNAMED_RE.search(publisher):
        carried = _SAME_CONTENT_RE.search(title)
        article = carried.group(1) if carried else re.sub(r"\s*[(\[].*?[)\]]\s*", " ", title)
        site = publisher.split(" ")[0]
        key = f"article {article.strip()}" if article.strip() else source_id
        return Origin(key, f"{site} (outlet not named)", False, summary)
    of = re.search(r"summary of ([^ (]+)", publisher)
    head = of.group(1) if of else re.split(r" \(| via |, |; ", publisher)[0]
    return Origin(head.split(" ")[0], head.strip(), True, summary)


def origins(panel: Panel) -> dict[str, Origin]:
    """source_id → :class:`Origin`, for every source of the panel."""
    s = panel.sources.fillna("")
    return {
        r.source_id: origin_of(r.source_id, str(r.publisher), str(r.title)) for r in s.itertuples()
    }


@dataclass(frozen=True)
class Evidence:
    """One source's say on a claim: its sources (the claim period's figure first), confidence
    and whether it agrees. ``voice`` groups evidence that is one say (default: the origin of
    the first source)."""

    source_ids: tuple[str, ...]
    confidence: str
    agrees: bool
    kind: str  # "figure", "derived from two levels" or "direction only"
    unverified: bool = False
    voice: str = ""


@dataclass(frozen=True)
class Voice:
    """The evidence of one independent origin on a claim."""

    name: str
    agrees: bool
    confidence: str
    first_hand: bool  # named, and seen on a page that is not a machine summary
    named: bool
    only_direction: bool
    unverified: bool


def voices(evidence: list[Evidence], known: dict[str, Origin]) -> list[Voice]:
    """Evidence grouped by independent origin: one source counted twice counts once, two
    pages of one author or article count once. A voice's say is its best piece (a figure
    before a direction)."""
    unknown = Origin("", "", False, False)
    groups: dict[str, list[Evidence]] = {}
    for e in evidence:
        key = e.voice or known.get(e.source_ids[0], unknown).key or e.source_ids[0]
        groups.setdefault(key, []).append(e)
    out = []
    for key, pieces in groups.items():
        grouped = bool(pieces[0].voice)  # a pair of figures: every page must be first-hand
        ids = [s for e in pieces for s in (e.source_ids if grouped else e.source_ids[:1])]
        pages = [known.get(s, unknown) for s in ids]
        best = min(pieces, key=lambda e: e.kind == "direction only")
        seen = [p.named and not p.summary for p in pages]
        out.append(
            Voice(
                name=key if grouped else pages[0].name or key,
                agrees=best.agrees,
                confidence=min((e.confidence for e in pieces), key=CONFIDENCE_RANK.get),
                first_hand=all(seen) if grouped else any(seen),
                named=any(p.named for p in pages),
                only_direction=all(e.kind == "direction only" for e in pieces),
                unverified=any(e.unverified for e in pieces),
            )
        )
    return out


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


def strength(verdict: str, said: list[Voice], unit: str = "origin") -> str:
    """The strength of a verdict's evidence, in words, from its independent voices.

    ``strong``: two or more named origins seen first-hand agree and none disagrees;
    ``moderate``: at least one named origin agrees (one seen only through an AI summary
    counts here, never for strong); ``weak``: only directions, only low-confidence figures,
    or only AI summaries and pages that name no outlet or author; ``conflicting``: voices
    disagree. The agreeing origins are named.
    """
    if verdict == NO_DATA or not said:
        return "no independent evidence"
    agree = [v for v in said if v.agrees == (verdict == AGREES)]
    against = len(said) - len(agree)
    first_hand = [v for v in agree if v.first_hand]
    n = len(agree)
    plural = "s" if n != 1 else ""
    if against:
        grade, detail = "conflicting", f"{n} {unit}{plural} for, {against} against"
    elif all(v.only_direction for v in agree):
        grade, detail = "weak", "direction only, no figure"
    elif {v.confidence for v in agree} <= {"low"}:
        grade = "weak"
        detail = f"{'one' if n == 1 else n} low-confidence {unit}{plural}"
    elif len(first_hand) >= 2:
        grade, detail = "strong", f"{len(first_hand)} independent {unit}s agree"
    elif any(v.named for v in agree):
        grade = "moderate"
        best = min((v.confidence for v in agree), key=CONFIDENCE_RANK.get)
        detail = (
            f"one {best}-confidence {unit}"
            if n == 1
            else f"{n} {unit}s, {len(first_hand) or 'none'} seen first-hand"
        )
    else:
        grade = "weak"
        detail = f"{n} {unit}{plural}, only AI summaries or pages that name no outlet"
    if unit == "origin":
        named = [v.name for v in agree if v.named]
        unnamed = len(agree) - len(named)
        detail += f" ({'; '.join([*named, *([f'{unnamed} unnamed'] if unnamed else [])])})"
    if any(v.unverified for v in agree):
        detail += ", unverified"
    return f"{grade}: {detail}"


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
