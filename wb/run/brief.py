"""The PDF brief: run artifacts → ``brief.html`` (a wb-owned Jinja2 template) → ``brief.pdf``.

The brief is written for a reader who reads nothing else: title, period and date, three
findings with numbers, the bank comparison charts, the uplift verdict and forest plot (marked
as simulated when the export came from ``wb simulate``), what the data cannot say, the sources
and a methods note. It is filled from the artifacts notebooks write (never from notebook
cells), so no code can reach it. A section whose notebook was not part of the run shows "not
run in this brief".

Rendering is offline: WeasyPrint may read ``file:`` URLs inside the run folder and ``data:``
URLs, nothing else; any other reference stops the render (exit 6). Output is byte-identical
for identical inputs and ``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wb.banks import comparison
from wb.banks.finding import COVERAGE
from wb.banks.panel import period_order
from wb.door.privacy import redact
from wb.errors import ExportError, InputError
from wb.plots.banks import CHART_NAMES, CHARTS
from wb.plots.theme import (
    CJK_FAMILY,
    MIN_FONT_PT,
    PAGE_MARGIN_MM,
    PAGE_WIDTH_MM,
    PNG_DPI,
    SIMULATED_LABEL,
    SMALLEST_FONT_KEY,
)
from wb.uplift.result import MODELS, trend_reading
from wb.uplift.schema import validate_document

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


def load_customer_uplift(folder: Path, artifacts_dir: Path) -> CustomerUplift:
    """Read and check the customer-level uplift a run wrote into ``folder`` (inside
    ``artifacts_dir``); raise :class:`ExportError` if its document or paths figure is unusable."""
    from wb.plots.customer_uplift import PATHS_STEM
    from wb.warehouse.uplift_result import load

    try:
        doc = load(folder)
    except InputError as exc:
        raise ExportError(str(exc)) from exc
    missing = [
        f"{PATHS_STEM}.{ext}"
        for ext in ("png", "svg")
        if not (folder / f"{PATHS_STEM}.{ext}").is_file()
    ]
    if missing:
        raise ExportError(f"customer uplift: expected figures not written: {', '.join(missing)}")
    figure = (folder / f"{PATHS_STEM}.png").relative_to(artifacts_dir).as_posix()
    return CustomerUplift(doc, figure)


@dataclass
class Context:
    """Everything the template shows."""

    title: str
    subtitle: str | None
    organisation: str | None
    period: str
    date: str
    created: str
    logo: str | None
    findings: list[dict[str, Any]] = field(default_factory=list)
    bank: dict[str, Any] | None = None
    uplift: dict[str, Any] | None = None
    limits: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    any_simulated: bool = False
    assets: str = "artifacts"
    simulated_label: str = SIMULATED_LABEL


def figure_stems(section: str, artifact: dict[str, Any]) -> list[str]:
    """Stems of the figures a section's notebook must have written (PNG and SVG each)."""
    if section == "uplift":
        return [f["stem"] for f in artifact.get("figures", [])] or list(UPLIFT_FIGURES)
    return [f["stem"] for f in artifact.get("figures", [])]


def load_artifact(section: str, folder: Path) -> dict[str, Any]:
    """Read and check the artifact of one section; raise :class:`ExportError` if unusable."""
    path = folder / SECTION_FILES[section]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ExportError(f"{path.name} was not written by the {section} notebook") from exc
    except ValueError as exc:
        raise ExportError(f"{path.name}: not valid JSON ({exc})") from exc
    if section == "uplift":
        validate_document(data, path.name)
    else:  # the committed schema bank_comparison.json is written against
        comparison.DOCUMENT.check(data, path.name)
    missing = [
        f"{stem}.{ext}"
        for stem in figure_stems(section, data)
        for ext in ("png", "svg")
        if not (folder / f"{stem}.{ext}").is_file()
    ]
    if missing:
        raise ExportError(f"{section}: expected figures not written: {', '.join(missing)}")
    return data


def _bank_section(bank: dict[str, Any], first: int, show: list[str] | None) -> dict[str, Any]:
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


def _heterogeneous_lines(data: dict[str, Any]) -> list[str]:
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


def _uplift_section(
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
    heterogeneous = _heterogeneous_lines(data)
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


def _figure_of(text_en: str, figures: list[Figure]) -> int | None:
    """The number of the figure whose title is this finding (its English sentence), if any."""
    flat = " ".join(text_en.split())
    return next((f.number for f in figures if flat in " ".join(f.caption.split())), None)


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


def _sources(ids: list[str], bank: dict[str, Any]) -> list[dict[str, Any]]:
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


#: The name a logo file gets in the run folder (with its suffix): the renderer reads only
#: files inside the run folder, and the logo's own file name stays out of the brief.
LOGO_STEM = "logo"


def logo_src(logo: str | None) -> str | None:
    """Where the brief's ``<img>`` points: a local logo (an absolute path, from the params) by
    its copy in the run folder (:data:`LOGO_STEM`), a URL as given (the renderer decides)."""
    if logo is None or not logo.startswith("/"):
        return logo
    return LOGO_STEM + Path(logo).suffix.lower()


def build_context(
    params: Any,
    artifacts: dict[str, dict[str, Any]],
    simulated: set[str],
    source_date_epoch: int,
    customer_uplift: CustomerUplift | None = None,
) -> Context:
    """Assemble what the template shows from the params and the artifacts of the run.

    Parameters
    ----------
    params : wb.run.params.RunParams
        The resolved params (title, period, brief options).
    artifacts : dict
        Section name → artifact data, for the sections that ran.
    simulated : set of str
        Sections whose input the params call simulated. A section whose artifact says its data
        are simulated (``data.simulated``: the file carried the ``wb simulate`` stamp), and the
        uplift section when its customer-level document does, are simulated too.
    source_date_epoch : int
        The brief's date, seconds since 1970 (UTC).
    customer_uplift : CustomerUplift, optional
        The customer-level uplift of the uplift section's warehouse data, shown under its add
        quality.
    """
    day = datetime.fromtimestamp(source_date_epoch, UTC)
    brief = params.brief
    simulated = simulated | {s for s, a in artifacts.items() if a.get("data", {}).get("simulated")}
    if customer_uplift is not None and customer_uplift.doc["simulated"]:
        simulated = simulated | {"uplift"}
    ctx = Context(
        title=brief.title,
        subtitle=brief.subtitle,
        organisation=brief.organisation,
        period=params.period,
        date=f"{day.year}年{day.month}月{day.day}日",
        created=day.strftime("%Y-%m-%dT%H:%M:%SZ"),
        logo=logo_src(brief.logo),
        any_simulated=bool(simulated & set(artifacts)),
    )
    number = 1
    if "bank_comparison" in artifacts:
        ctx.bank = _bank_section(artifacts["bank_comparison"], number, brief.bank_figures)
        number += len(ctx.bank["figures"])
        ctx.limits += ctx.bank["model"].get("limits", [])
    if "uplift" in artifacts:
        ctx.uplift = _uplift_section(
            artifacts["uplift"], number, "uplift" in simulated, customer_uplift
        )
    found = ctx.bank["model"]["findings"] if ctx.bank else []
    # data coverage says what is known, not what happened: a footnote, not a finding
    bank_findings = [
        {
            "text": f["zh"],
            "en": f["en"],
            "simulated": False,
            "figure": _figure_of(f["en"], ctx.bank["figures"]),
        }
        for f in found
        if f.get("kind") != COVERAGE
    ]
    in_box = 2 if ctx.uplift else 3
    ctx.findings = bank_findings[:in_box]
    if ctx.uplift:
        verdict = {
            "text": ctx.uplift["verdict"],
            "en": ctx.uplift["verdict_en"],
            "simulated": ctx.uplift["simulated"],
            "figure": ctx.uplift["figure"].number,
        }
        ctx.findings.append(verdict)
    if ctx.bank:
        # a finding that already titles a figure in the brief is not repeated in words
        ctx.bank["more"] = [f for f in bank_findings[in_box:] if f["figure"] is None]
        ctx.bank["coverage"] = [
            {"text": f["zh"], "en": f["en"]} for f in found if f.get("kind") == COVERAGE
        ]
        shown = [found, ctx.bank["news"]]
        ctx.sources = _sources(cited_ids(shown), ctx.bank["model"])
    return ctx


def render_html(ctx: Context) -> str:
    """Fill the brief template (autoescaped; artifact text cannot inject markup)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("wb.run", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("brief.html.j2").render(
        ctx=ctx, cjk=CJK_FAMILY, margin_mm=PAGE_MARGIN_MM
    )


#: The base URL the PDF is rendered under. WeasyPrint names images by a hash of their URL, so
#: a fixed base (mapped to the real folder by the fetcher) keeps the PDF byte-identical
#: whichever folder it was rendered in.
BASE_URL = "file:///wb-run/"


def _fetcher(root: Path):
    """A WeasyPrint URL fetcher that reads only ``data:`` and files inside ``root``.

    The scheme is compared case-insensitively (``FILE:`` is ``file:``), and the check covers
    every fetch, including the images a ``data:`` SVG document refers to. A refused URL raises
    :class:`~weasyprint.urls.FatalURLFetchingError` and is kept in ``refused``: WeasyPrint
    swallows every error while drawing an SVG, so :func:`write_pdf` checks that list too."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class OfflineFetcher(URLFetcher):
        refused: list[str]

        def _refuse(self, why: str) -> FatalURLFetchingError:
            self.refused.append(why)
            return FatalURLFetchingError(why)

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme != "file":
                raise self._refuse(
                    f"{redact(url)}: only data: URLs and files inside the run folder are read"
                )
            if url.lower().startswith(BASE_URL):
                relative = url2pathname(url[len(BASE_URL) :].split("?")[0])
                target = (root / relative).resolve()
            else:
                target = Path(url2pathname(parts.path)).resolve()
            if parts.netloc or not target.is_relative_to(root):
                raise self._refuse(f"{redact(url)}: a file outside the run folder")
            return super().fetch(target.as_uri(), headers)

    fetcher = OfflineFetcher(allowed_protocols={"file", "data"}, fail_on_errors=True)
    fetcher.refused = []
    return fetcher


def write_pdf(html: str, folder: Path, target: Path) -> Path:
    """Render ``html`` (relative URLs resolve in ``folder``) to ``target`` with WeasyPrint.

    Raises :class:`ExportError` (exit 6), leaving no PDF, when the HTML or any document it
    embeds (a ``data:`` SVG) references anything but ``data:`` or files inside ``folder``: the
    render never touches the network nor reads outside the run folder.
    """
    import weasyprint
    from weasyprint.urls import FatalURLFetchingError

    fetcher = _fetcher(folder.resolve())
    try:
        weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(target)
    except FatalURLFetchingError as exc:  # a BaseException: `except Exception` misses it
        cause = exc.__cause__ or exc
        raise ExportError(f"brief refused a resource (offline render): {cause}") from exc
    if fetcher.refused:
        target.unlink(missing_ok=True)
        raise ExportError(f"brief refused a resource (offline render): {fetcher.refused[0]}")
    return target


def _tool(name: str, *args: str) -> str:
    if shutil.which(name) is None:
        raise ExportError(f"{name} not found; install poppler-utils (make install does this)")
    done = subprocess.run([name, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ExportError(f"{name} failed on the brief: {done.stderr.strip()[:200]}")
    return done.stdout


def embedded_fonts(pdf: Path) -> dict[str, bool]:
    """Font name → embedded?, as ``pdffonts`` lists them."""
    lines = _tool("pdffonts", str(pdf)).splitlines()
    if len(lines) < 2:
        return {}
    starts, pos = [], 0
    for dashes in lines[1].split(" "):
        starts.append(pos)
        pos += len(dashes) + 1
    emb = slice(starts[3], starts[4])
    return {line[: starts[1]].strip(): line[emb].strip() == "yes" for line in lines[2:]}


@dataclass(frozen=True)
class PrintedFigure:
    """How one figure of the brief prints: its file, page, printed width (mm) and smallest
    font at that width (points)."""

    src: str
    page: int
    width_mm: float
    smallest_font_pt: float


def printed_figures(pdf: Path, html: str, folder: Path) -> list[PrintedFigure]:
    """Measure every figure of the brief in the PDF: ``pdfimages -list`` gives each image's
    pixels and printed resolution, the PNG (``folder``-relative ``src`` in ``html``) its
    smallest font as drawn (:data:`~wb.plots.theme.SMALLEST_FONT_KEY`) at :data:`PNG_DPI`;
    printed font = drawn font × printed width / drawn width."""
    from PIL import Image

    rows = [line.split() for line in _tool("pdfimages", "-list", str(pdf)).splitlines()[2:]]
    images = [r for r in rows if len(r) > 13 and r[2] == "image"]
    measured = []
    for src in re.findall(r'<figure>\s*<img src="([^"]+)"', html):
        with Image.open(folder / src) as png:
            (width_px, height_px), drawn_pt = png.size, float(png.text.get(SMALLEST_FONT_KEY, 0))
        match = next((r for r in images if (int(r[3]), int(r[4])) == (width_px, height_px)), None)
        if match is None:
            raise ExportError(f"{pdf.name}: figure {Path(src).name} is not in the PDF")
        images.remove(match)
        printed_in = width_px / float(match[12])
        scale = printed_in / (width_px / PNG_DPI)
        measured.append(PrintedFigure(src, int(match[0]), printed_in * 25.4, drawn_pt * scale))
    return measured


def check_figures(figures: list[PrintedFigure], pdf_name: str) -> None:
    """Every figure prints at the text width (±2%) with no font under
    :data:`~wb.plots.theme.MIN_FONT_PT`; raises :class:`ExportError` (exit 6) otherwise."""
    text_mm = PAGE_WIDTH_MM - 2 * PAGE_MARGIN_MM
    for fig in figures:
        name = Path(fig.src).name
        if abs(fig.width_mm - text_mm) > 0.02 * text_mm:
            raise ExportError(
                f"{pdf_name}: {name} prints {fig.width_mm:.0f} mm wide; the text is {text_mm} mm"
            )
        if fig.smallest_font_pt < MIN_FONT_PT - 0.05:
            raise ExportError(
                f"{pdf_name}: {name} prints text at {fig.smallest_font_pt:.1f} pt on page "
                f"{fig.page}; the least legible on paper is {MIN_FONT_PT:g} pt"
            )


def check_pdf(pdf: Path, title: str) -> None:
    """Check the PDF a reader gets: Noto Sans CJK SC embedded, every font embedded, the title
    in its text. Raises :class:`ExportError` (exit 6) otherwise."""
    fonts = embedded_fonts(pdf)
    if not any("notosanscjksc" in name.lower().replace("-", "") for name in fonts):
        raise ExportError(f"{pdf.name}: Noto Sans CJK SC is not embedded (Chinese would not show)")
    loose = [name for name, embedded in fonts.items() if not embedded]
    if loose:
        raise ExportError(f"{pdf.name}: fonts not embedded: {', '.join(loose)}")
    text = " ".join(_tool("pdftotext", str(pdf), "-").split())
    if " ".join(title.split()) not in text:
        raise ExportError(f"{pdf.name}: the title {title!r} is not in the PDF text")


def build(
    params: Any,
    folder: Path,
    artifacts_dir: Path,
    simulated: set[str],
    source_date_epoch: int,
    customer_uplift: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``brief.html`` and ``brief.pdf`` into ``folder`` and check the PDF.

    Every section named in the params must have written its artifact and figures into
    ``artifacts_dir`` (else :class:`ExportError`); so must the customer-level uplift in
    ``customer_uplift`` (a folder inside ``artifacts_dir``) when given.
    """
    sections = [nb.section for nb in params.notebooks]
    artifacts = {s: load_artifact(s, artifacts_dir) for s in sections}
    customer = load_customer_uplift(customer_uplift, artifacts_dir) if customer_uplift else None
    ctx = build_context(params, artifacts, simulated, source_date_epoch, customer)
    if ctx.logo is not None and ctx.logo != params.brief.logo:  # a local logo: copy it in
        shutil.copyfile(params.brief.logo, folder / ctx.logo)
    ctx.assets = artifacts_dir.relative_to(folder).as_posix()
    html = render_html(ctx)
    html_path = folder / "brief.html"
    html_path.write_text(html, encoding="utf-8")
    pdf = write_pdf(html, folder, folder / "brief.pdf")
    check_pdf(pdf, params.brief.title)
    check_figures(printed_figures(pdf, html, folder), pdf.name)
    return html_path, pdf
