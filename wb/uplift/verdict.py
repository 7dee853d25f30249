"""The verdict of ``wb uplift`` in words (docs/methods.md, "Quota uplift"): the contract's code
and one plain sentence (English and Chinese) read from the FE-2SLS interval, the Anderson–Rubin
set or the wild bootstrap, its caveats, and the plain-words line on how far the pre-trends could
move the event-study average. Money in yuan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wb.stats.cluster import LEVEL

if TYPE_CHECKING:  # the result types import this module for the verdict and the amounts
    from wb.uplift.result import Estimate, FewClusters, Interval


def signed_yuan(v: float) -> str:
    """A signed amount with thousands separators, no decimals (``+12,345``); ±∞ as ``+∞``,
    ``−∞``: how the result's summary and the verdict write yuan."""
    return f"{v:+,.0f}" if math.isfinite(v) else ("+∞" if v > 0 else "−∞")


@dataclass(frozen=True)
class Verdict:
    """The contract's verdict: a code and one plain sentence, plus caveats. ``cannot_tell``
    (e.g. ``"too_few_clusters"``) with ``reason`` when no inference holds: the code is then
    ``no_detectable_uplift`` (the contract's three codes) and the sentence says why."""

    code: str
    text: str
    caveats: tuple[str, ...]
    read_from: str
    text_zh: str
    cannot_tell: str | None = None
    reason: str | None = None


def make_verdict(
    iv: Estimate,
    ar: Interval,
    weak: bool,
    naive: Estimate,
    twfe: Estimate,
    few: FewClusters | None = None,
    months: tuple[str, str] | None = None,
) -> Verdict:
    """Read the verdict: "cannot tell" when ``few`` refuses; with few branches from the wild
    bootstrap's p-value and set; else from the IV interval (the Anderson–Rubin set when the
    first stage is weak). ``months`` (first, last, ``YYYY-MM``) is the window the sentence
    names: the estimate is about those months, not the brief's reporting period."""
    cannot_tell = reason = None
    if few is not None and few.method == "wild_bootstrap":
        low, high, kind = few.interval.low, few.interval.high, few.interval.kind
        bounded, significant = kind == "bounded", few.pvalue <= 1 - LEVEL
        source = "wild_bootstrap"
    elif weak:
        low, high, kind = ar.low, ar.high, ar.kind
        bounded = kind == "bounded"
        significant = bounded and (low > 0 or high < 0)
        source = "anderson_rubin"
    else:
        low, high, kind, bounded = iv.ci_low, iv.ci_high, "bounded", True
        significant = low > 0 or high < 0
        source = "iv_quota"
    if few is not None and few.refusal:
        source, cannot_tell, reason, significant = "none", "too_few_clusters", few.refusal, False
    if bounded:
        interval = f"95% interval {signed_yuan(low)} to {signed_yuan(high)} yuan"
        interval_zh = f"95% 置信区间 {signed_yuan(low)} 至 {signed_yuan(high)} 元"
    elif kind == "two_rays":
        interval = (
            f"weak instrument: the 95% Anderson–Rubin set is unbounded, every value outside "
            f"{signed_yuan(low)} to {signed_yuan(high)} yuan"
        )
        interval_zh = (
            "工具变量偏弱：95% Anderson–Rubin 置信集无界，"
            f"为 {signed_yuan(low)} 至 {signed_yuan(high)} 元以外的全部取值"
        )
    else:
        interval = "weak instrument: the 95% Anderson–Rubin set is unbounded, every value"
        interval_zh = "工具变量偏弱：95% Anderson–Rubin 置信集无界，包含全部取值"
    if source == "wild_bootstrap":
        interval += f"; {few.n_clusters} branches, wild cluster bootstrap p = {few.pvalue:.2f}"
        interval_zh += f"；仅 {few.n_clusters} 个支行，野聚类自助法 p = {few.pvalue:.2f}"
    when_zh = f"{months[0]}至{months[1]}，" if months else ""
    when = f"In {months[0]} to {months[1]}, a" if months else "A"
    head_zh = (
        f"{when_zh}因配额多加一个企业微信客户，客户经理名下客户的月度 AUM 变化 {signed_yuan(iv.coef)} 元"
        f"（{interval_zh}）"
    )
    head = (
        f"{when} quota-induced WeCom add {'changed' if months else 'changes'} a relationship "
        "manager's monthly AUM by "
        f"{signed_yuan(iv.coef)} yuan ({interval})"
    )
    if cannot_tell:
        code = "no_detectable_uplift"
        text = (
            "Cannot tell whether quota-driven adds change AUM"
            f"{f' (in {months[0]} to {months[1]})' if months else ''}: the quota switches on or off in "
            f"only {few.quota_clusters} of {few.n_clusters} branches, too few for any "
            f"clustered inference (the point estimate, {signed_yuan(iv.coef)} yuan per add, has no "
            "usable interval)."
        )
        text_zh = (
            f"无法判断{months[0] + '至' + months[1] + '期间' if months else ''}"
            f"配额驱动的加粉是否改变 AUM：配额仅在 {few.quota_clusters} 个支行"
            f"（共 {few.n_clusters} 个）开启或停止，支行太少，任何聚类推断都不成立"
            f"（点估计每个加粉 {signed_yuan(iv.coef)} 元，没有可用的置信区间）。"
        )
    elif significant and iv.coef > 0:
        code, text = "positive_uplift", f"{head}, so quota-driven adds do raise AUM."
        text_zh = f"{head_zh}，配额驱动的加粉确实提升了 AUM。"
    elif significant and iv.coef < 0:
        code, text = "negative_uplift", f"{head}, so quota-driven adds go with lower AUM."
        text_zh = f"{head_zh}，配额驱动的加粉伴随 AUM 下降。"
    else:
        code, text = "no_detectable_uplift", f"{head}, so no uplift can be detected."
        text_zh = f"{head_zh}，检测不到提升。"
    claims = "uplift" if naive.ci_low > 0 else ("a loss" if naive.ci_high < 0 else "nothing")
    caveats = (
        "Exclusion restriction: the quota must move AUM only through the adds it causes; "
        "penalties, effort pulled away from selling, or a campaign launched with the quota "
        "would break it.",
        f"A dashboard's pooled correlation says {signed_yuan(naive.coef)} yuan per add (95% "
        f"{signed_yuan(naive.ci_low)} to {signed_yuan(naive.ci_high)}) and would claim {claims}; it mixes "
        "RM skill into the adds.",
        f"With RM and month fixed effects adds go with {signed_yuan(twfe.coef)} yuan per add: an "
        "association, since RMs choose how many to add.",
        "The IV number is a local effect: it weights the RMs whose adds the quota moved most "
        "(those far below target) and says nothing about organic adds.",
    )
    return Verdict(code, text, caveats, source, text_zh, cannot_tell, reason)


def trend_reading(doc: dict, unit: str = "yuan") -> str:
    """The plain-words line on the ``honest_did`` block of ``uplift.json``
    (:class:`wb.uplift.sensitivity.TrendSensitivity`, in yuan), for its summary and the brief;
    amounts written in ``unit``: ``"yuan"`` or ``"万元"`` (10,000 yuan, to one decimal, as
    the figures' axes)."""
    scale, digits = {"yuan": (1.0, 0), "万元": (1e4, 1)}[unit]

    def amount(value: float, sign: str = "") -> str:
        return f"{value / scale:{sign},.{digits}f} {unit}"

    est = doc["estimate"]
    sign = "negative" if est < 0 else "positive"
    first, last = doc["post_times"][0], doc["post_times"][-1]
    what = (
        f"The average effect over months {first}–{last} after adoption ({amount(est, '+')} of "
        "monthly AUM change per RM)"
    )
    rm, sd = doc["rm_breakdown"], doc["sd_breakdown"]
    if rm == 0:
        line = f"{what} is not distinguishable from 0 even with parallel trends"
    elif rm is None:
        line = f"{what} stays {sign} whatever the size of post-adoption trend breaks"
    else:
        line = (
            f"{what} stays {sign} unless post-adoption trend breaks exceed {rm:.2g}× the "
            f"largest month-to-month pre-adoption one"
        )
        if sd is not None:
            line += f", or the trend gap bends by more than {amount(sd)} per month²"
    power = ""
    if doc["slope_50"] is not None and doc["slope_80"] is not None:
        power = (
            f" The pre-trend test would catch a steady trend of {amount(doc['slope_50'])} per "
            f"month only half the time and one of {amount(doc['slope_80'])} 80% of the time; "
            f"a trend that steep would move this average by {amount(doc['bias_at_80'])}."
        )
    return line + "." + power
