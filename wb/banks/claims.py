"""The checked news article and its claims, as data: :data:`ARTICLE` (每日经济新闻 2025-12-31,
李玉雯) on banks' WeCom add quotas, the pages that carry it (:data:`ARTICLE_URLS`: not
independent evidence), its claims about H1 2025 retail banking (:data:`CLAIMS`), each with
the test that bears it out, and the three verdicts. :mod:`wb.banks.newscheck` checks them
against the panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from wb.banks.panel import Panel

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
