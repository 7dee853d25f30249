"""wb.plots.banks: every figure renders to PNG and SVG without missing glyphs, with a source line.

pytest turns "Glyph … missing" warnings into errors (pyproject), so rendering here is the check.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from wb.banks import comparison, metrics
from wb.banks.panel import Panel
from wb.plots import bank_frame, bank_periods, banks
from wb.plots.theme import save_figure

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "income": banks.plot_retail_income_yoy,
    "profit": banks.plot_retail_profit_yoy,
    "share": banks.plot_retail_share,
    "aum": banks.plot_retail_aum,
    "wecom": banks.plot_wecom_reach,
    "coverage": bank_periods.plot_coverage,
}


@pytest.fixture(scope="module")
def panel() -> Panel:
    return Panel.load(ROOT / "data" / "bank_panel.csv")


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_renders_with_title_and_sources(name: str, panel: Panel, tmp_path: Path) -> None:
    fig = FIGURES[name](panel)
    paths = save_figure(fig, tmp_path, f"bank_{name}")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 5_000 for p in paths)
    footer = bank_frame.source_line(fig)
    assert footer.startswith("来源 Source: ")
    if name != "coverage":
        assert "src-" in footer
    assert fig.get_suptitle()  # the finding
    for ax in fig.axes:
        assert ax.get_xlabel(), "every axis carries its unit"
    plt.close(fig)


def test_footer_lists_the_sources_of_the_plotted_values(panel: Panel) -> None:
    fig = banks.plot_retail_income_yoy(panel)
    table = metrics.yoy_table(panel, "H1 2025", "retail_operating_income")
    for source_id in metrics.source_ids_of(table):
        assert source_id in bank_frame.source_line(fig)
    assert comparison.income_finding(panel, "H1 2025").en in " ".join(fig.get_suptitle().split())
    plt.close(fig)


def test_title_is_computed_from_the_bank_selection(panel: Panel) -> None:
    fig = banks.plot_retail_income_yoy(panel, banks=["ccb", "cmb", "icbc"])
    assert "1 of 3 banks with data saw retail operating income fall" in fig.get_suptitle()
    plt.close(fig)


def test_figure_draws_into_a_given_axes(panel: Panel) -> None:
    fig, ax = plt.subplots(figsize=(8, 6))
    assert banks.plot_retail_profit_yoy(panel, ax=ax) is fig
    plt.close(fig)


def test_trends_keep_halves_apart_and_gaps_open(panel: Panel) -> None:
    h1 = metrics.trend_table(panel, "H1")
    assert h1["period"].str.startswith("H1 ").all()
    fy = metrics.trend_table(panel, "FY")
    assert fy["period"].str.startswith("FY").all()
    # BOC has H1 2019, 2020, 2022-2025 income: 2021 is a gap, never filled in
    boc = h1[(h1.bank_id == "boc") & (h1.series == "retail_operating_income")]
    assert 2021 not in set(boc["year"]) and {2020, 2022} <= set(boc["year"])
    fig = bank_periods.plot_trends(panel, kind="H1")
    titles = {ax: ax.get_title(loc="left") or ax.get_title() for ax in fig.axes}
    boc_ax = next(ax for ax, title in titles.items() if title == panel.bank_names()["boc"])
    segments = [line.get_xdata() for line in boc_ax.lines if len(line.get_xdata()) == 2]
    assert [2020, 2021] not in [list(s) for s in segments]
    assert [2021, 2022] not in [list(s) for s in segments]
    assert comparison.trend_finding(panel, "H1").en in " ".join(fig.get_suptitle().split())
    plt.close(fig)


def test_workbook_holds_each_chart_table_without_suspect_values(
    panel: Panel, tmp_path: Path
) -> None:
    from wb.door.writers import write_workbook

    tables = comparison.chart_tables(panel, "H1 2025", ["FY2024", "H1 2025"])
    path = write_workbook(tables, tmp_path / comparison.WORKBOOK_NAME)
    book = pd.read_excel(path, sheet_name=None)
    assert set(book) == set(tables)
    for name in ("bank_income", "bank_profit", "bank_share"):
        assert {"qualifier", "basis", "status", "source_ids"} <= set(book[name].columns), name
    suspect = panel.frame[(panel.frame["status"] == "suspect") & panel.frame["value"].notna()]
    for name, sheet in book.items():
        for column in {"value", "level"} & set(sheet.columns):
            shown = sheet[["bank_id", column]].rename(columns={column: "value"})
            hits = shown.merge(suspect[["bank_id", "value"]], on=["bank_id", "value"])
            assert hits.empty, (name, column, hits)
    coverage = book["bank_coverage"]
    bob = coverage[
        (coverage.bank_id == "bob")
        & (coverage.group == "retail_customers")
        & (coverage.period == "FY2024")
    ]
    assert bob["state"].tolist() == ["excluded (suspect)"]


def test_workbook_never_shows_a_suspect_figure(tmp_path: Path) -> None:
    from bank_cases import make_panel, row

    from wb.door.writers import write_workbook

    bad = {"status": "suspect", "status_reason": "conflicts with the bank's report"}
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_operating_income", 311.81e8, **bad),
            row("aa", "H1 2024", "retail_operating_income", 300e8),
            row("aa", "H1 2025", "retail_aum", 9e12, **bad),
        ],
    )
    tables = comparison.chart_tables(panel, "H1 2025", ["H1 2025"])
    book = pd.read_excel(write_workbook(tables, tmp_path / "book.xlsx"), sheet_name=None)
    numbers = pd.concat([s.select_dtypes("number") for s in book.values()], axis=1)
    assert not numbers.isin([311.81e8, 9e12]).any().any()
    cells = book["bank_coverage"].set_index(["group", "period"])["state"]
    assert cells[("retail_aum", "H1 2025")] == "excluded (suspect)"


def test_bank_comparison_json_matches_its_committed_schema(panel: Panel, tmp_path: Path) -> None:
    """Checked on write with fastjsonschema; jsonschema agrees (second implementation)."""
    import jsonschema

    from wb.banks import newscheck
    from wb.errors import ExportError

    found = comparison.findings(panel, "H1 2025", ["H1 2025"])
    figures = [{"stem": "bank_income", "caption": "c", "source": "s"}]
    artifact = comparison.comparison_artifact(
        panel, "H1 2025", found, newscheck.check(panel), figures
    )
    path = comparison.write_artifact(artifact, tmp_path)
    written = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(written, comparison.DOCUMENT.schema)
    broken = written | {"findings": [found.items[0].to_json() | {"key": "nonsense"}]}
    with pytest.raises(ExportError, match=r"bank_comparison\.json does not match"):
        comparison.write_artifact(broken, tmp_path / "other")
    assert not (tmp_path / "other" / comparison.ARTIFACT_NAME).exists()


@pytest.mark.parametrize(  # every chart drawn twice: one period in the quick tier
    "period", ["H1 2025", pytest.param("FY2024", marks=pytest.mark.slow)]
)
def test_every_bank_chart_is_drawn_for_the_printed_page(panel, period, tmp_path):
    """Drawn at the brief's text width, so it prints at 100%: no text under 7.5 pt as drawn,
    and the saved image no wider than the page's text (else the brief would shrink it)."""
    from PIL import Image

    from wb.plots.theme import PNG_DPI, PRINT_WIDTH_IN, smallest_font_pt

    for key, draw in banks.CHARTS.items():
        options = {"kind": period[:2]} if key == "trends" else {}
        if key in ("income", "profit", "share", "aum"):
            options["period"] = period
        fig = draw(panel, **options)
        assert fig.get_figwidth() == pytest.approx(PRINT_WIDTH_IN), key
        assert smallest_font_pt(fig) >= 7.5, key
        save_figure(fig, tmp_path, key)
        plt.close(fig)
        with Image.open(tmp_path / f"{key}.png") as png:
            assert png.size[0] / PNG_DPI <= PRINT_WIDTH_IN * 1.02, (key, png.size)


def _texts(fig: plt.Figure) -> str:
    """Every text a figure shows: titles, notes, labels in the axes and tick labels."""
    shown = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        shown += [t.get_text() for t in ax.texts]
        shown += [t.get_text() for t in (*ax.get_yticklabels(), *ax.get_xticklabels())]
    return "\n".join(shown)


#: Per chart, a legal selection none of whose banks has the chart's figure: (arguments, the
#: words that must say so). The panel has no H1 2016 figure at all; CMB and Ping An publish no
#: bank-wide WeCom reach; Jiangsu and Shanghai Rural have fewer than two full years of income.
EMPTY = {
    "income": ({"period": "H1 2016", "banks": ["cmb", "pab"]}, "无数据 no data"),
    "profit": ({"period": "H1 2016", "banks": ["cmb", "pab"]}, "无数据 no data"),
    "share": ({"period": "H1 2016", "banks": ["cmb", "pab"]}, "无数据 no data"),
    "aum": ({"period": "H1 2016", "banks": ["cmb", "pab"]}, "无数据 no data"),
    "wecom": ({"banks": ["cmb", "pab"]}, "无全行企微数据 No bank-wide WeCom figure"),
    "trends": ({"kind": "FY", "banks": ["jsb", "srcb"], "until": 2024}, "Fewer than 2 years"),
    "coverage": ({"periods": ["H1 2016"], "banks": ["cmb", "pab"]}, "(100%) have no figure"),
}


@pytest.mark.parametrize("key", list(banks.CHARTS))
def test_each_chart_on_a_selection_without_figures_names_the_banks(key: str, panel: Panel) -> None:
    """No crash (the WeCom chart raised KeyError 'source_ids' for CMB and Ping An) and no
    blank: the chart says which of the chosen banks have no figure."""
    arguments, words = EMPTY[key]
    fig = banks.CHARTS[key](panel, **arguments)
    shown = _texts(fig)
    assert words in shown
    for bank in arguments["banks"]:
        assert panel.bank_names()[bank] in shown, (key, bank)
    assert fig.get_suptitle()
    plt.close(fig)


def test_chart_functions_take_bank_names(panel: Panel) -> None:
    fig = banks.plot_wecom_reach(panel, banks=["招商银行", "平安"])
    assert "招商银行 CMB、平安银行 PAB" in _texts(fig)
    assert "(招商、平安)" in fig.get_suptitle()
    plt.close(fig)


def test_aum_table_under_a_chart_of_levels_only_holds_them(panel: Panel) -> None:
    """FY2024 for CMB and Ping An: the chart shows CMB's level (about 15 trillion yuan, no
    growth since the year-end); the table under it said "1 banks" and held nothing."""
    found = comparison.aum_finding(panel, "FY2024", ["cmb", "pab"])
    assert found.en == (
        "Retail AUM for FY2024 is known as a level only, at one bank, with no growth since the "
        "year-end: 招商 ≈15.00万亿元"
    )
    shown = found.view()
    assert shown[["bank_id", "metric", "value (unit shown)"]].values.tolist() == [
        ["cmb", "retail_aum", "≈15.00万亿元"]
    ]
    assert shown["source_ids"].tolist() == [["src-2025-b38c"]]
    several = comparison.aum_finding(panel, "FY2024", ["ccb", "cmb", "citic"])
    assert "at 3 banks" in several.en and len(several.numbers) == 3


@pytest.mark.slow
def test_save_figure_writes_the_bytes_a_plain_save_writes(panel: Panel, tmp_path: Path) -> None:
    """save_figure reads the smallest font from the SVG's drawing (no extra draw); that may
    not change a byte: the same files as matplotlib's own savefig of the same figure (laid out
    first, PNG then SVG)."""
    import matplotlib as mpl

    from wb.plots.theme import SAVE_RC, SMALLEST_FONT_KEY, smallest_font_pt

    for name in ("share", "coverage"):  # Chinese text, many labels
        save_figure(FIGURES[name](panel), tmp_path / "saved", name)
        plain = FIGURES[name](panel)
        with mpl.rc_context(SAVE_RC):
            font = f"{smallest_font_pt(plain):.2f}"
            png = {"Software": None, SMALLEST_FONT_KEY: font}
            for ext, meta in (("png", png), ("svg", {"Date": None, "Creator": None})):
                (tmp_path / "plain").mkdir(exist_ok=True)
                target = tmp_path / "plain" / f"{name}.{ext}"
                plain.savefig(target, format=ext, metadata=meta, bbox_inches="tight")
                assert (tmp_path / "saved" / f"{name}.{ext}").read_bytes() == target.read_bytes()
        plt.close("all")
