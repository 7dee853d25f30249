"""Check a news article's claims against the bank panel: agrees, contradicts or no data.

The article is 每日经济新闻 2025-12-31 (李玉雯), on banks' WeCom add quotas, re-posted with
synonym-swapped words in ``seeds/002`` (宁靖银行 = 平安银行, 配置银行 = 建设银行). Its claims about
H1 2025 retail banking are data (:data:`CLAIMS`); :func:`check` evaluates each against the panel.

Figures whose source is the article itself (its mirrors and summaries, :data:`ARTICLE_URLS`)
cannot confirm it: they are left out of the evidence and named in the note. A claim with no
other figure gets ``no data``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from wb.banks.metrics import Change, Panel, display_value, prior_period, select, yoy

AGREES, CONTRADICTS, NO_DATA = "agrees", "contradicts", "no data"

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
        ``"loss"`` (the level is below zero) or ``"yoy_close"`` (the YoY change is within
        ``tolerance`` of ``threshold``).
    op : str
        ``"<"``, ``"<="`` or ``">"``, for ``test="yoy"``.
    threshold : float
        Fraction (``-0.10`` for a double-digit fall).
    tolerance : float
        Fraction points, for ``test="yoy_close"``.
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


def _verdict_yoy(claim: Claim, change: Change) -> str:
    if math.isnan(change.value):
        return NO_DATA
    if claim.test == "yoy_close":
        return AGREES if abs(change.value - claim.threshold) <= claim.tolerance else CONTRADICTS
    # a bounded change ("down more than 30%") passes when its bound does
    return AGREES if _OPS[claim.op](change.value, claim.threshold) else CONTRADICTS


def _what_is_known(claim: Claim, panel: Panel, change: Change) -> tuple[str, Change]:
    """For a claim without a change: the levels there are, in words, and their sources."""
    if change.note:
        return change.note, change
    level = select(panel, claim.bank_id, claim.period, claim.metric)
    if level is None:
        return "", change
    base = prior_period(claim.period)
    text = f"{claim.period}: {display_value(level.value, level.qualifier)}; no {base} figure"
    return text, Change(value=math.nan, method="none", source_ids=(level.source_id,))


def _evaluate(claim: Claim, panel: Panel) -> dict[str, object]:
    """Verdict, figure text, method and sources of one claim on one panel."""
    if claim.test == "loss":
        level = select(panel, claim.bank_id, claim.period, claim.metric)
        sign = select(panel, claim.bank_id, claim.period, f"{claim.metric}_sign")
        found = level or sign
        if found is None:
            return {"verdict": NO_DATA, "figures": "", "method": "none", "source_ids": ()}
        negative = found.value < 0
        figure = "a loss (amount not printed)" if found is sign else display_value(found.value)
        return {
            "verdict": AGREES if negative else CONTRADICTS,
            "figures": figure,
            "method": "quoted",
            "source_ids": (found.source_id,),
        }
    change = yoy(panel, claim.bank_id, claim.period, claim.metric)
    figures = display_value(change.value, change.qualifier, "change", digits=2)
    if math.isnan(change.value):
        figures, change = _what_is_known(claim, panel, change)
    elif change.note:
        figures += f" ({change.note})"
    return {
        "verdict": _verdict_yoy(claim, change),
        "figures": figures,
        "method": change.method,
        "source_ids": change.source_ids,
    }


def check(panel: Panel, claims: tuple[Claim, ...] = CLAIMS) -> pd.DataFrame:
    """Evaluate every claim on the independent figures of ``panel``.

    Returns
    -------
    pandas.DataFrame
        One row per claim: key, bank_id, bank_name, claim, verdict (agrees / contradicts /
        no data), figures (the evidence in words, changes in %), method (derived from two
        levels, quoted, or none), source_ids (tuple), note (what the article's own pages say,
        when they were left out).
    """
    names = panel.bank_names()
    indep = independent(panel)
    own_ids = article_source_ids(panel)
    own = Panel(frame=panel.frame[panel.frame["source_id"].isin(own_ids)], sources=panel.sources)
    rows = []
    for claim in claims:
        result = _evaluate(claim, indep)
        self_report = _evaluate(claim, own)
        note = ""
        if self_report["source_ids"]:
            note = (
                f"the article's own pages say {self_report['figures']} "
                f"({', '.join(self_report['source_ids'])}); not counted as evidence"
            )
        rows.append(
            {
                "key": claim.key,
                "bank_id": claim.bank_id,
                "bank_name": names.get(claim.bank_id, claim.bank_id),
                "claim": claim.says,
            }
            | result
            | {"note": note}
        )
    return pd.DataFrame(rows)
