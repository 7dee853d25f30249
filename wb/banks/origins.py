"""Evidence counted by independent origin, not by page (:func:`origin_of`): the author when the
source names one, else the bank's own report, else the outlet; an AI summary or a page that
names no outlet or author never makes a verdict strong (:func:`strength`). Used by
:mod:`wb.banks.newscheck`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wb.banks.claims import AGREES, NO_DATA
from wb.banks.panel import CONFIDENCE_RANK, Panel


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
