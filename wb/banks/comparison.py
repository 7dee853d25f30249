"""The bank comparison's findings, in words computed from the panel, and its JSON artifact.

Each finding (:class:`wb.banks.finding.Finding`) is one plain sentence (Chinese and English) with
the numbers and source ids behind it. The figures in :mod:`wb.plots.banks` use these sentences as
titles; the notebook
``10_bank_comparison`` writes them, the news check and the figure list to
``bank_comparison.json`` (schema ``wb.bank_comparison/1``), which ``wb run`` reads for the brief.
No matplotlib here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from wb.banks import changes, metrics
from wb.banks.display import display_value, sign_is_known
from wb.banks.finding import (
    COVERAGE,
    Finding,
    Findings,
    named_value,
    numbers_of,
    short_name,
    unverified_clause,
)
from wb.banks.newscheck import NewsCheck
from wb.banks.panel import Panel, period_end
from wb.door.atomic import write_json
from wb.door.display import jsonable
from wb.door.documents import DocumentSchema

SCHEMA = "wb.bank_comparison/1"
#: The committed schema of ``bank_comparison.json``, checked on every write.
DOCUMENT = DocumentSchema("wb.banks", "bank_comparison.schema.json", SCHEMA)
ARTIFACT_NAME = "bank_comparison.json"


def income_finding(panel: Panel, period: str, banks: list[str] | None = None) -> Finding:
    """How many banks with data saw retail operating income fall (YoY) in ``period``."""
    table = metrics.yoy_table(panel, period, "retail_operating_income", banks)
    known = table.dropna(subset=["value"]).sort_values("value")
    n, falls = len(known), int((known["value"] < 0).sum())
    if n == 0:
        return Finding(
            "retail_income", f"{period}无零售营收同比数据", f"No retail income YoY for {period}"
        )
    low = known.iloc[0]
    numbers = numbers_of(table, "retail_operating_income_yoy", period)
    if n == 1:  # one bank: say what it did, not "0 of 1 banks"
        name, change = (
            short_name(low["bank_name"]),
            named_value(low, "value", "qualifier", "change"),
        )
        change = change.removeprefix(name + " ")
        moved = ("fell", "下降") if low["value"] < 0 else ("rose", "增长")
        zh = f"{period}仅{name}有零售营收同比数据:同比{moved[1]}{change}"
        en = f"Only {name} has retail operating income YoY for {period}: it {moved[0]} {change}"
        return Finding("retail_income", zh, en, numbers)
    stated = (low["bank_id"],) if falls else ()
    extra = unverified_clause(known, "value", "qualifier", "change", stated)
    zh = f"{period}有数据的{n}家银行中{falls}家零售营收同比下降{extra[0]}"
    en = f"{falls} of {n} banks with data saw retail operating income fall in {period}{extra[1]}"
    if falls:
        named = named_value(low, "value", "qualifier", "change")
        zh += f"(最大降幅:{named})"
        en += f" (largest fall: {named})"
    return Finding("retail_income", zh, en, numbers)


def profit_finding(panel: Panel, period: str, banks: list[str] | None = None) -> Finding:
    """How many banks have a retail profit YoY for ``period``, and which moved which way."""
    table = metrics.yoy_table(panel, period, "retail_profit", banks)
    known = table.dropna(subset=["value"])
    rises = int((known["value"] > 0).sum())
    extra = unverified_clause(known, "value", "qualifier", "change")
    zh = f"{period}零售(税前)利润同比仅{len(known)}/{len(table)}家银行可知,{rises}家上升{extra[0]}"
    en = (
        f"Retail (pre-tax) profit YoY for {period} is known for only {len(known)} of {len(table)} "
        f"banks; {rises} rose{extra[1]}"
    )
    turned = table[table["value"].isna() & table["note"].str.contains("base ≤ 0")]
    if len(turned):
        names = [short_name(n) for n in turned["bank_name"]]
        zh += f";{'、'.join(names)}由亏转盈"
        en += f"; {', '.join(names)} turned from loss to profit"
    net = metrics.yoy_table(panel, period, "retail_net_profit", banks).dropna(subset=["value"])
    if len(net):  # segment NET profit is its own line, never mixed with pre-tax profit
        said = [named_value(r, "value", "qualifier", "change") for _, r in net.iterrows()]
        zh += f";另有零售净利润同比:{'、'.join(said)}"
        en += f"; segment net profit YoY, reported apart: {', '.join(said)}"
    numbers = numbers_of(table, "retail_profit_yoy", period)
    numbers += numbers_of(net, "retail_net_profit_yoy", period)
    return Finding("retail_profit", zh, en, numbers)


def share_finding(panel: Panel, period: str, banks: list[str] | None = None) -> Finding:
    """The range of retail's share of operating income across banks in ``period``."""
    table = metrics.share_table(panel, period, banks)
    income = table[(table["of"] == "income")].dropna(subset=["value"]).sort_values("value")
    profit = table[(table["of"] == "profit")].dropna(subset=["value"])
    numbers = numbers_of(table[table["of"] == "income"], "retail_income_share", period)
    numbers += numbers_of(table[table["of"] == "profit"], "retail_profit_share", period)
    if income.empty:
        return Finding("retail_share", f"{period}无零售收入占比", f"No retail shares for {period}")
    lo, hi = (
        named_value(r, "value", "qualifier", "share") for r in (income.iloc[0], income.iloc[-1])
    )
    if len(income) == 1:
        zh = f"{period}零售占营收比重仅一家可知:{lo}"
        en = f"Retail's share of operating income is known for one bank in {period}: {lo}"
        return Finding("retail_share", zh, en, numbers)
    ends = (income.iloc[0]["bank_id"], income.iloc[-1]["bank_id"])
    extra = unverified_clause(income, "value", "qualifier", "share", ends)
    extra_profit = unverified_clause(profit, "value", "qualifier", "share")
    zh = (
        f"{period}零售占营收比重从{lo}到{hi}({len(income)}家){extra[0]};"
        f"利润占比仅{len(profit)}家可知{extra_profit[0]}"
    )
    en = (
        f"Retail's share of operating income ranged from {lo} to {hi} across "
        f"{len(income)} banks in {period}{extra[1]}; the profit share is known for "
        f"{len(profit)}{extra_profit[1]}"
    )
    return Finding("retail_share", zh, en, numbers)


def aum_finding(panel: Panel, period: str, banks: list[str] | None = None) -> Finding:
    """How many banks grew retail AUM since the previous year-end, and the range."""
    table = metrics.aum_table(panel, period, banks)
    known = table.dropna(subset=["growth"]).sort_values("growth")
    numbers = numbers_of(table, "retail_aum_growth_ytd", period, value="growth")
    if known.empty:  # levels only: the sentence and its table name them
        levels = table.dropna(subset=["level"]).sort_values("level", ascending=False)
        numbers = numbers_of(
            levels.assign(qualifier=levels["level_qualifier"], method="quoted"),
            "retail_aum",
            period,
            value="level",
        )
        if levels.empty:
            return Finding("retail_aum", f"{period}无零售AUM数据", f"No retail AUM for {period}")
        named = "、".join(
            named_value(r, "level", "level_qualifier", "level") for _, r in levels.iterrows()
        )
        banks_text = "one bank" if len(levels) == 1 else f"{len(levels)} banks"
        zh = f"{period}零售AUM仅有余额({len(levels)}家),无较上年末增速:{named}"
        en = (
            f"Retail AUM for {period} is known as a level only, at {banks_text}, with no growth "
            f"since the year-end: {named}"
        )
        return Finding("retail_aum", zh, en, numbers)
    lo, hi = (
        named_value(r, "growth", "growth_qualifier", "change")
        for r in (known.iloc[0], known.iloc[-1])
    )
    grew = int((known["growth"] > 0).sum())
    if len(known) == 1:
        zh = f"{period}零售AUM较上年末增速仅一家可知:{lo}"
        en = f"Retail AUM growth since the year-end is known for one bank in {period}: {lo}"
        return Finding("retail_aum", zh, en, numbers)
    ends = (known.iloc[0]["bank_id"], known.iloc[-1]["bank_id"])
    extra = unverified_clause(known, "growth", "growth_qualifier", "change", ends)
    zh = f"{period}零售AUM较上年末:{len(known)}家中{grew}家增长,从{lo}到{hi}{extra[0]}"
    en = (
        f"Retail AUM grew since the year-end at {grew} of {len(known)} banks with a rate in "
        f"{period}, from {lo} to {hi}{extra[1]}"
    )
    return Finding("retail_aum", zh, en, numbers)


def wecom_finding(
    panel: Panel, period: str | None = None, banks: list[str] | None = None
) -> Finding:
    """How many banks had published bank-wide WeCom reach by the end of ``period`` (all
    figures when ``None``), and when; figures dated after the period are counted, not stated."""
    until = period_end(period) if period else None
    table = metrics.wecom_reach(panel, banks, until)
    n_banks = len(panel.resolve_banks(banks) or panel.banks())
    numbers = numbers_of(
        table.rename(columns={"connected": "value", "connected_qualifier": "qualifier"}),
        "wecom_connected",
        "",
    )
    for number, dated in zip(numbers, table.get("connected_period", []), strict=True):
        number["period"] = dated
    by_zh, by_en = (f"截至{period}末,", f" by the end of {period}") if period else ("", "")
    later_zh, later_en = _published_later(panel, banks, until, period)
    if table.empty and banks:  # a selection: say which banks have no figure
        chosen = "、".join(
            short_name(panel.bank_names()[b]) for b in panel.resolve_banks(banks) or []
        )
        zh = f"{by_zh}所选银行({chosen})未公布全行企微触达{later_zh}"
        en = f"No bank-wide WeCom reach had been published{by_en} by the banks chosen ({chosen})"
        return Finding("wecom", zh, en + later_en)
    if table.empty:
        zh = f"{by_zh}无银行公布全行企微触达{later_zh}"
        return Finding("wecom", zh, f"No bank had published bank-wide WeCom reach{by_en}{later_en}")
    extra = unverified_clause(table, "connected", "connected_qualifier", "count")
    dated_zh, dated_en = _dated(table["connected_period"])
    zh = f"{by_zh}{n_banks}家银行中仅{len(table)}家公布全行企微连接客户数{extra[0]},{dated_zh}"
    en = (
        f"Only {len(table)} of {n_banks} banks had published bank-wide WeCom reach{by_en}"
        f"{extra[1]}, {dated_en}"
    )
    return Finding("wecom", zh + later_zh, en + later_en, numbers)


def _dated(periods: pd.Series) -> tuple[str, str]:
    """When dated figures are from, in words (Chinese, English)."""
    first, last = min(periods), max(periods)
    if first == last:
        return f"时点{first}", f"dated {first}"
    return (
        f"时点从{first}到{last},不可直接比较",
        f"dated {first} to {last}: not comparable at one date",
    )


def _published_later(
    panel: Panel, banks: list[str] | None, until: object, period: str | None
) -> tuple[str, str]:
    """A clause counting the banks whose latest WeCom figure is dated after ``period`` (the
    sentence does not state those figures), or empty strings."""
    if until is None:
        return "", ""
    latest = metrics.wecom_reach(panel, banks)
    later = latest[[period_end(p) > until for p in latest["connected_period"]]]
    if later.empty:
        return "", ""
    first, last = min(later["connected_period"]), max(later["connected_period"])
    zh, en = (first, first) if first == last else (f"{first}至{last}", f"{first} to {last}")
    n = len(later)
    return (
        f";另有{n}家银行的数字时点晚于{period}({zh})",
        f"; {n} bank{'s have figures' if n > 1 else ' has a figure'} dated after {period} ({en})",
    )


def trend_kind(period: str) -> str:
    """The trend a period sits in: half-years with half-years (``H1``), else full years."""
    return "H1" if period.startswith("H1") else "FY"


def period_year(period: str) -> int:
    """The year a period ends in (``"H1 2024"`` → 2024)."""
    return int(period[-4:]) if period[-4:].isdigit() else int(period[:4])


def _trend_period(kind: str, year: int) -> str:
    return f"FY{year}" if kind == "FY" else f"H1 {year}"


def trend_finding(
    panel: Panel, kind: str = "H1", banks: list[str] | None = None, until: int | None = None
) -> Finding:
    """How retail's share of operating income moved in the period the brief is about: the
    ``kind`` period of year ``until`` (default: the latest year with a share) against the same
    period a year earlier (FY2024 with FY2023, H1 2025 with H1 2024), never a longer window.

    Counts the banks with both shares whose share surely fell (a change whose bound points
    toward zero, from a base "over 55%", has no sure direction and is named instead), and names
    the largest move, in words that follow its sign.
    """
    table = metrics.trend_table(panel, kind, banks, until)
    share = table[table["series"] == "retail_income_share"]
    year = until if until is not None else int(share["year"].max()) if len(share) else 0
    period, base = _trend_period(kind, year), _trend_period(kind, year - 1)
    rows = share.set_index(["bank_id", "period"])
    moves = []
    for bank in sorted(set(share.loc[share["period"] == period, "bank_id"])):
        change = changes.share_change(panel, bank, period, base)
        if (bank, base) in rows.index and not pd.isna(change.value):
            moves.append((bank, rows.loc[(bank, base)], rows.loc[(bank, period)], change))
    window_zh, window_en = f"{period}较{base}", f"{period} vs {base}"
    if not moves:
        zh = f"{window_zh}:无银行两期均有零售收入占比"
        en = f"{window_en}: no bank has retail's share of operating income in both"
        return Finding("trend", zh, en)

    def path(move: tuple) -> tuple[str, str]:
        """``(zh, en)``: the bank's move in words that follow its sign."""
        _, old, new, change = move
        shown = [
            display_value(r["value"], r["qualifier"], "share", status=r["status"])
            for r in (old, new)
        ]
        delta = display_value(change.value, change.qualifier, "points")
        name = short_name(str(new["bank_name"]))
        if not sign_is_known(change.value, change.qualifier):
            return (
                f"{name}方向不确定:{shown[0]}→{shown[1]}({delta})",
                f"direction uncertain at {name}: {shown[0]} → {shown[1]} ({delta})",
            )
        verbs = ("降至", "fell") if change.value < 0 else ("升至", "rose")
        return (
            f"{name}由{shown[0]}{verbs[0]}{shown[1]}({delta})",
            f"{name} {verbs[1]} from {shown[0]} to {shown[1]} ({delta})",
        )

    numbers = [
        {
            "bank_id": bank,
            "metric": "retail_income_share",
            "period": when,
            "value": float(r["value"]),
            "qualifier": r["qualifier"] or "exact",
            "method": r["method"],
            "status": r["status"] or "ok",
            "source_ids": list(r["source_ids"]),
        }
        for bank, old, new, _ in moves
        for when, r in ((base, old), (period, new))
    ]
    if len(moves) == 1:  # one bank: its own path, not "1 of 1 banks"
        zh, en = path(moves[0])
        return Finding(
            "trend",
            f"{window_zh}:仅一家银行两期均有零售收入占比:{zh}",
            f"{window_en}: only one bank has retail's share of operating income in both: {en}",
            numbers,
        )
    sure = [m for m in moves if sign_is_known(m[3].value, m[3].qualifier)]
    fell = sum(m[3].value < 0 for m in sure)
    unsure = [path(m) for m in moves if m not in sure]
    largest = path(max(moves, key=lambda m: abs(m[3].value)))
    zh = f"{window_zh}:两期均有数据的{len(moves)}家银行中{fell}家零售收入占比下降"
    en = f"{window_en}: retail's share of operating income fell at {fell} of {len(moves)} banks with both"
    zh += f";变动最大:{largest[0]}" + "".join(f";{z}" for z, _ in unsure)
    en += f"; largest move: {largest[1]}" + "".join(f"; {e}" for _, e in unsure)
    return Finding("trend", zh, en, numbers)


def coverage_finding(panel: Panel, periods: list[str], banks: list[str] | None = None) -> Finding:
    """The share of bank × metric × period cells with no figure: a note on the data
    (``kind="coverage"``), not a finding about the banks."""
    table = metrics.coverage(panel, periods, banks=banks)
    empty = int((table["n_rows"] == 0).sum())
    share = empty / len(table)
    zh = f"{len(table)}个银行×指标×期间格中{empty}个({share:.0%})无数据"
    en = f"{empty} of {len(table)} bank × metric × period cells ({share:.0%}) have no figure"
    return Finding("coverage", zh, en, kind=COVERAGE)


def findings(
    panel: Panel, period: str, periods: list[str], banks: list[str] | None = None
) -> Findings:
    """All findings of the comparison, in the order of the three questions."""
    items = (
        income_finding(panel, period, banks),
        profit_finding(panel, period, banks),
        share_finding(panel, period, banks),
        aum_finding(panel, period, banks),
        wecom_finding(panel, period, banks),
        trend_finding(panel, trend_kind(period), banks, period_year(period)),
        coverage_finding(panel, periods, banks),
    )
    return Findings(period, items)


#: Workbook name in a run folder: the tables behind every bank chart, a sheet per chart.
WORKBOOK_NAME = "bank_tables.xlsx"


def chart_tables(
    panel: Panel, period: str, periods: list[str], banks: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """The table behind each bank chart, keyed by the chart's stem (``bank_income``, …).

    Every value carries its qualifier, basis, status and source ids; suspect figures never
    appear as values (the coverage sheet shows them as ``excluded (suspect)``). Units: yuan,
    persons, fractions, as in the panel.
    """
    trend = trend_kind(period)
    return {
        "bank_income": metrics.yoy_table(panel, period, "retail_operating_income", banks),
        "bank_profit": metrics.yoy_table(panel, period, "retail_profit", banks),
        "bank_share": metrics.share_table(panel, period, banks),
        "bank_aum": metrics.aum_table(panel, period, banks),
        "bank_wecom": metrics.wecom_reach(panel, banks, period_end(period)),
        "bank_trends": metrics.trend_table(panel, trend, banks, period_year(period)),
        "bank_coverage": metrics.coverage(panel, periods, banks=banks),
    }


#: A researcher's pointer to a file of the research folder ("full text in seeds/002 re-post"),
#: with the separator before it: the brief's reader has no such file.
_FILE_REFERENCE = re.compile(r"[;,]?\s*[^;,()]*\bseeds/\d+[^;,()]*")


def without_file_references(text: str) -> str:
    """``text`` without clauses that point at research files the reader lacks
    (``"证券时报网 (via eastmoney; repost in seeds/000)"`` → ``"证券时报网 (via eastmoney)"``)."""
    return _FILE_REFERENCE.sub("", text).replace("()", "").strip()


def comparison_artifact(
    panel: Panel,
    period: str,
    found: Findings,
    news: NewsCheck,
    figures: list[dict[str, str]],
) -> dict[str, object]:
    """The ``bank_comparison.json`` content (schema ``wb.bank_comparison/1``).

    Parameters
    ----------
    panel
        The panel the numbers came from.
    period
        The compared period (``"H1 2025"``).
    found
        :func:`findings`.
    news
        :func:`wb.banks.newscheck.check`.
    figures
        One dict per saved figure: ``stem``, ``caption``, ``source`` (its footer line).

    Returns
    -------
    dict
        ``schema``, ``period``, ``findings`` (key, zh, en, numbers, source_ids), ``news_check``
        (rows), ``figures`` and ``sources`` (every cited source: id, title, publisher, date as
        printed or null, url, and ``unverified``: why figures used from it are unverified). Money in yuan, counts in persons, shares and changes as fractions; missing = null.
    """
    cited = found.source_ids | news.source_ids
    sources = metrics.source_table(panel, sorted(cited)).drop(columns="n_rows")
    sources["publisher"] = sources["publisher"].map(without_file_references)
    unverified = panel.usable[panel.usable["status"] == "unverified"]
    reasons = unverified.groupby("source_id")["status_reason"].agg(
        lambda r: "; ".join(dict.fromkeys(r))
    )
    sources["unverified"] = sources["source_id"].map(reasons).fillna("")
    return {
        "schema": SCHEMA,
        "period": period,
        "findings": [f.to_json() for f in found],
        "news_check": news.to_json(),
        "figures": figures,
        "sources": [{k: jsonable(v) for k, v in row.items()} for row in sources.to_dict("records")],
    }


def write_artifact(artifact: dict[str, object], out_dir: str | Path) -> Path:
    """Check ``artifact`` against the committed schema (exit 6 if it does not match) and write
    ``bank_comparison.json`` into ``out_dir`` atomically (UTF-8, sorted keys, strict JSON)."""
    DOCUMENT.check(artifact, ARTIFACT_NAME)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return write_json(artifact, out / ARTIFACT_NAME, sort_keys=True)
