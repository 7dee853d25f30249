"""The brief's sections, each filled from its artifact (checked on load by
:mod:`wb.run.brief_context`): the bank comparison (figures, the news check), the uplift (the
verdict and its estimates, designs, add quality, the customer-level finding) and the sources
cited. Each returns the plain values the template shows; money in yuan."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wb.banks.panel import period_order
from wb.errors import ExportError
from wb.plots.banks import CHART_NAMES, CHARTS
from wb.uplift.result import MODELS
from wb.uplift.verdict import trend_reading

#: The artifact each section reads from the notebook's ``out_dir``.
SECTION_FILES = {"bank_comparison": "bank_comparison.json", "uplift": "uplift.json"}
#: News-check verdicts as the brief prints them; "no data" rows are counted, not listed.
NO_DATA = "no data"
NEWS_VERDICTS = {"agrees": "相符 agrees", "contradicts": "不符 contradicts"}
#: Bank figures notebooks/10_bank_comparison writes (``bank_<key>``; a test holds the two
#: together); ``brief.bank_figures`` picks among them, checked with the params.
BANK_FIGURES = tuple(f"bank_{key}" for key in CHARTS)
#: Uplift figures every uplift run writes; the brief shows the first.
UPLIFT_FIGURES = ("uplift_forest", "uplift_binscatter", "uplift_by_quota")


@dataclass(frozen=True)
class Figure:
    """A numbered figure in the brief: its number, image (relative to the artifacts folder),
    title (the image's alternative text; the chart draws it) and whether its data are
    simulated. The chart carries its own source line."""

    number: int
    src: str
    caption: str
    simulated: bool = False


@dataclass(frozen=True)
class CustomerUplift:
    """A run's customer-level uplift: ``customer_uplift.json`` (:mod:`wb.warehouse.uplift_result`;
    money in yuan of AUM per bound customer) and its paths figure, relative to the artifacts
    folder."""

    doc: dict[str, Any]
    figure: str


def bank_section(bank: dict[str, Any], first: int, show: list[str] | None) -> dict[str, Any]:
    """The bank section from ``bank_comparison.json`` (checked against its schema on load)."""
    refs = {f["stem"]: f for f in bank["figures"]}
    unknown = [stem for stem in show or [] if stem not in refs]
    if unknown:
        raise ExportError(
            f"brief.bank_figures names {', '.join(unknown)}, which {SECTION_FILES['bank_comparison']}"
            f" does not list (it has: {', '.join(refs)})"
        )
    listed = [refs[stem] for stem in show] if show is not None else bank["figures"]
    # a chart of nothing but 无数据 for this period says nothing: named in a line instead
    chosen = [f for f in listed if f.get("has_data", True)]
    empty = [
        CHART_NAMES[f["stem"].removeprefix("bank_")] for f in listed if not f.get("has_data", True)
    ]
    figures = [Figure(first + i, f"{f['stem']}.png", f["caption"]) for i, f in enumerate(chosen)]
    news = [
        {
            **row,
            "verdict": NEWS_VERDICTS.get(row["verdict"], row["verdict"]),
            # the brief shows the claim in Chinese and the evidence without its notes; the run
            # folder's bank_comparison.json keeps both in full
            "claim": row["claim"].split(" · ")[0],
            "figures": row["figures"].split(" (")[0],
        }
        for row in bank["news_check"]
        if row["verdict"] != NO_DATA
    ]
    # one article: named once above the table; each row keeps what differs (text or summary)
    articles = sorted({row.get("article", "") for row in news})
    if len(articles) == 1 and len(news) > 1:
        words = [row["origin"].split(" ") for row in news]
        n = next((i for i, w in enumerate(zip(*words, strict=False)) if len(set(w)) > 1), 0)
        news = [{**row, "origin": " ".join(w[n:])} for row, w in zip(news, words, strict=True)]
    # each claim names its period; periods other than the brief's are named above the table
    # (an H1 2024 brief checks an article about H1 2025)
    claimed = {row["period"] for row in news if row.get("period")}
    other = sorted(claimed - {bank["period"]}, key=period_order)
    return {
        "model": bank,
        "figures": figures,
        "news": news,
        "news_article": articles[0] if len(articles) == 1 else "",
        "news_other_periods": "、".join(other),
        "news_all_other": bool(other) and bank["period"] not in claimed,
        "news_unchecked": len(bank["news_check"]) - len(news),
        "empty": [zh for zh, _ in empty],
        "empty_en": [en for _, en in empty],
    }


def _customer_section(customer: CustomerUplift, number: int) -> dict[str, Any]:
    """The customer-level finding (no-quota and quota-month bindings, yuan of AUM per bound
    customer, 95% CI) and its paths figure."""
    from wb.warehouse.uplift_finding import finding

    doc = customer.doc
    zh, en = finding(doc)
    return {
        "text": zh,
        "en": en,
        "simulated": doc["simulated"],
        "figure": Figure(
            number,
            customer.figure,
            "客户绑定后的 AUM 路径：无配额月份与配额月份的绑定 · A customer's AUM by months since "
            "its WeCom binding, bound without a quota vs in a quota month (yuan of AUM per bound "
            "customer, 95% CI)",
            simulated=doc["simulated"],
        ),
    }


def heterogeneous_lines(data: dict[str, Any]) -> list[str]:
    """One plain line each for IV-WAS beside FE-2SLS and for the dynamic effects of quota
    changes (``uplift.json``'s ``iv_was`` and ``dynamic_effects``), when the run has them."""
    lines = []
    if (v := data.get("iv_was")) and v.get("ci_low") is not None:
        same = v["difference_p"] is None or v["difference_p"] > 0.05
        lines.append(
            f"异质效应稳健估计 IV-WAS: a quota-driven add changes monthly AUM by "
            f"{v['coef']:+,.0f} yuan (95% CI {v['ci_low']:+,.0f} to {v['ci_high']:+,.0f}), "
            f"comparing RMs whose quota switched with RMs whose quota did not; FE-2SLS says "
            f"{v['fe_2sls']:+,.0f}, "
            + (
                "and the two do not differ detectably"
                if same
                else "and the two differ, so the effect varies across RMs"
            )
            + f" (difference {v['difference']:+,.0f} yuan, p = "
            f"{v['difference_p'] if v['difference_p'] is not None else float('nan'):.2f})."
        )
    if d := data.get("dynamic_effects"):
        aum = d["outcomes"]["aum_change_cny"]
        effects = [p for p in aum["points"] if p["kind"] == "effect" and p["coef"] is not None]
        if effects:
            first, last = effects[0], effects[-1]
            pre = aum["pretrend_p"]
            lines.append(
                f"配额目标变化的动态效应 Dynamic effects: in the month an RM's quota target first "
                f"changes (switches on, changes or stops), monthly AUM changes by "
                f"{first['coef']:+,.0f} yuan (95% CI {first['ci_low']:+,.0f} to "
                f"{first['ci_high']:+,.0f}); {last['horizon'] - 1} months later by "
                f"{last['coef']:+,.0f} yuan (95% CI {last['ci_low']:+,.0f} to "
                f"{last['ci_high']:+,.0f}); "
                + (
                    f"before the change the placebos show no trend (p = {pre:.2f})."
                    if pre is not None and pre > 0.05
                    else "the placebos before the change show a trend (p = "
                    f"{pre if pre is not None else float('nan'):.2f}), so read this with care."
                )
            )
    return lines


def uplift_section(
    data: dict[str, Any], number: int, simulated: bool, customer: CustomerUplift | None = None
) -> dict[str, Any]:
    refs = data.get("figures") or [
        {
            "stem": UPLIFT_FIGURES[0],
            "caption": "每新增一个企业微信客户带来的月度 AUM 变化：三种估计及 95% 置信区间"
            " (yuan per add)",
            "source": "客户经理月度导出数据 RM x month export",
        }
    ]
    forest = refs[0]
    label = "模拟数据 simulated export" if simulated else str(data.get("data", {}).get("label", ""))
    rows = [
        {
            "name": model.label,
            "coef": f"{est['coef']:,.0f}",
            "ci": f"[{est['ci_low']:,.0f}, {est['ci_high']:,.0f}]",
        }
        for key, model in MODELS.items()
        if (est := data["estimates"].get(key))
    ]
    if (wald := data.get("wald_did")) and wald.get("ci_low") is not None:
        rows.append(
            {
                "name": "稳健双重差分比 Wald-DiD (robust ATT ratio)",
                "coef": f"{wald['coef']:,.0f}",
                "ci": f"[{wald['ci_low']:,.0f}, {wald['ci_high']:,.0f}]",
            }
        )
    bunching = None
    if b := data.get("bunching"):
        bunching = (
            f"考核目标处聚集 Bunching: {b['excess_share']:.0%} of quota RM-months sit exactly at the "
            f"target beyond the same RMs' pre-quota share (95% CI {b['ci_low']:.0%} to "
            f"{b['ci_high']:.0%}); the quota manufactured about {b['manufactured_adds']:,.1f} adds "
            "per RM-month (difference-in-bunching)."
        )
    heterogeneous = heterogeneous_lines(data)
    honest = None
    if h := data.get("honest_did"):
        honest = (
            "对平行趋势的敏感性 Sensitivity to pre-trends (Rambachan–Roth, 95%): "
            f"{trend_reading(h)} These bounds do not test parallel trends; they say how large "
            "a violation would have to be to overturn the sign."
        )
    quality = None
    if q := data.get("add_quality"):
        c = q["counts"]
        removed, ring = c["adds_removed_30d"], c["adds_shared_3plus"]
        quality = {
            "text": (
                f"配额带来的新增中 {removed['share']:.0%}（95% 置信区间 {removed['ci_low']:.0%}–"
                f"{removed['ci_high']:.0%}）在30天内被删除，{ring['share']:.0%}"
                f"（{ring['ci_low']:.0%}–{ring['ci_high']:.0%}）是三名以上客户经理共享的联系人；"
                f"无配额月份的新增分别为 {removed['no_quota']['share']:.0%} 和 "
                f"{ring['no_quota']['share']:.0%}。"
            ),
            "en": (
                f"Of the adds a quota produces, {removed['share']:.0%} (95% CI "
                f"{removed['ci_low']:.0%}–{removed['ci_high']:.0%}) are removed within 30 days and "
                f"{ring['share']:.0%} ({ring['ci_low']:.0%}–{ring['ci_high']:.0%}) are ring contacts "
                f"that three or more RMs added; among adds without a quota "
                f"{removed['no_quota']['share']:.0%} and {ring['no_quota']['share']:.0%}."
            ),
        }
        quality["figure"] = Figure(
            number + 1,
            "uplift_add_quality.png",
            "加好友漏斗：配额带来的新增与无配额月份的新增 · The add funnel: quota-induced adds vs "
            "adds without a quota (share of one add, 95% CI)",
            simulated=simulated,
        )
    return {
        "quality": quality,
        "customer": _customer_section(customer, number + 1 + (quality is not None))
        if customer
        else None,
        "bunching": bunching,
        "heterogeneous": heterogeneous,
        "honest": honest,
        "verdict": data["verdict"].get("text_zh") or data["verdict"]["text"],
        "verdict_en": data["verdict"]["text"] if data["verdict"].get("text_zh") else "",
        "code": data["verdict"]["code"],
        "estimates": rows,
        "n_obs": data["n_obs"],
        "n_rms": data["n_rms"],
        "n_branches": data["n_branches"],
        "months": f"{data['first_month']} – {data['last_month']}",
        "data_label": label,
        "simulated": simulated,
        "figure": Figure(
            number,
            f"{forest['stem']}.png",
            forest["caption"],
            simulated=simulated,
        ),
    }


def cited_ids(content: Any) -> list[str]:
    """Every source id under ``source_ids`` keys in ``content``, in order of first appearance."""
    seen: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "source_ids" and isinstance(value, list):
                    seen.update(dict.fromkeys(str(v) for v in value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(content)
    return list(seen)


#: Words in a source's publisher that mark the bank's own document (report, website, release).
_OWN_DOCUMENT = re.compile(r"\bown\b|年报|年度报告|中期报告|investor relations", re.IGNORECASE)
#: Notes a scraper left in titles: "(… summary …)", "[title not shown …]", "≈≈".
_TITLE_NOTES = re.compile(
    r"\s*\((?:[^()]*(?:summary|untitled|mirror|excerpt|re-?post)[^()]*)\)"
    r"|\s*\[(?:title not|untitled)[^\]]*\]|≈+",
    re.IGNORECASE,
)
#: The longest title the sources list prints, in characters.
TITLE_CHARS = 70


def clean_title(title: str) -> str:
    """A source title as a reader should see it: a scraped slug before a bracketed real title
    gives way to it, a scraper's notes ("(reportify summary)", "≈≈") go, the rest is kept and
    cut to :data:`TITLE_CHARS` characters."""
    bracketed = re.fullmatch(r"(.*?)\s*\[([^\]]+)\]\s*", title)
    if bracketed and not bracketed[2].lower().startswith(("title not", "untitled")):
        slug = bracketed[1]
        if not slug or " - " in slug or "..." in slug or slug.lower() == slug:
            title = bracketed[2]
    title = " ".join(_TITLE_NOTES.sub("", title).split()).strip(" -—·|") or title.strip()
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1].rstrip() + "…"


def sources_section(ids: list[str], bank: dict[str, Any]) -> list[dict[str, Any]]:
    """The sources cited, in two groups: the banks' own documents, then everything else (news,
    data pages, summaries); titles cleaned, each with its web host."""
    known = {src["source_id"]: src for src in bank["sources"]}
    own: list[dict[str, str]] = []
    other: list[dict[str, str]] = []
    for source_id in ids:
        src = known.get(source_id)
        if src is None:
            item = {"title": "(not in the sources table)", "publisher": "—", "date": "—"}
            other.append({"source_id": source_id, "host": "", "unverified": "", **item})
            continue
        item = {
            "source_id": source_id,
            "date": src.get("date") or "无日期 undated",
            "title": clean_title(src.get("title", "")),
            "publisher": src.get("publisher", ""),
            "host": urlsplit(src.get("url", "")).hostname or "",
            "unverified": src.get("unverified", ""),
        }
        (own if _OWN_DOCUMENT.search(item["publisher"]) else other).append(item)
    groups = [
        ("银行自身披露 The banks' own reports and releases", own),
        ("新闻、数据页与摘要 News, data pages and summaries", other),
    ]
    return [{"heading": heading, "entries": items} for heading, items in groups if items]
