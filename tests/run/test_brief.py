"""The brief: artifacts → HTML → PDF, offline, deterministic, robust to a missing section."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from wb.errors import ExportError
from wb.run import brief, brief_context, brief_sections
from wb.run.params import RunParams

FIXTURES = Path(__file__).parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES))
import fake_artifacts  # noqa: E402

EPOCH = 1751328000  # 2025-07-01
TITLE = "测试简报 Test brief"


def run_params(*sections: str, **brief_options) -> RunParams:
    return RunParams.model_validate(
        {
            "period": "H1 2025",
            "brief": {"title": TITLE, **brief_options},
            "notebooks": [{"path": f"{s}.py", "section": s} for s in sections],
        }
    )


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """A run folder with both sections' artifacts and figures, made once."""
    folder = tmp_path_factory.mktemp("run")
    for section in brief_sections.SECTION_FILES:
        fake_artifacts.write(section, str(folder / "artifacts"), data_label="simulated")
    return folder


def copy_run(src: Path, dst: Path) -> Path:
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    return dst


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout


def test_full_brief_has_cjk_font_title_figures_and_simulated_mark(artifacts):
    _, pdf = brief.build(
        run_params("bank_comparison", "uplift"),
        artifacts,
        artifacts / "artifacts",
        {"uplift"},
        EPOCH,
    )
    text = pdf_text(pdf)
    assert TITLE in text and "2025年7月1日" in text
    assert "模拟数据 · SIMULATED DATA" in text
    assert all(f"图 {n}" in text for n in (1, 2, 3))
    assert "fx01" in text and "中国工商银行" in text  # sources table
    assert any("NotoSansCJK" in f.replace("-", "") for f in brief.embedded_fonts(pdf))
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert 2 <= int(pages.split("Pages:")[1].split()[0]) <= 4


def test_missing_section_says_not_run_and_nothing_shows_code(artifacts):
    ctx = brief_context.build_context(
        run_params("bank_comparison"),
        {
            "bank_comparison": brief_context.load_artifact(
                "bank_comparison", artifacts / "artifacts"
            )
        },
        set(),
        EPOCH,
    )
    html = brief.render_html(ctx)
    assert "Not run in this brief" in html
    assert "SIMULATED" not in html
    for code in ("import ", "def ", "print(", ">>>"):
        assert code not in html
    # no object dumps (reprs of results, dicts, numpy scalars) and no notebook source lines
    for dump in ("Finding(", "BankComparison(", "np.float64(", "{&#39;", "findings=["):
        assert dump not in html, dump
    notebook = (Path(__file__).parents[2] / "notebooks" / "10_bank_comparison.py").read_text()
    code_lines = [
        line.strip()
        for line in notebook.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and "(" in line
    ]
    assert code_lines and not [line for line in code_lines if line in html]


def test_artifact_text_is_escaped(tmp_path, artifacts):
    data = json.loads((artifacts / "artifacts" / "bank_comparison.json").read_text())
    data["findings"][0]["zh"] = "<script>alert(1)</script>"
    ctx = brief_context.build_context(
        run_params("bank_comparison"), {"bank_comparison": data}, set(), EPOCH
    )
    html = brief.render_html(ctx)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_same_inputs_give_a_byte_identical_pdf(tmp_path, artifacts):
    p = run_params("bank_comparison", "uplift")
    digests = []
    for name in ("a", "b"):
        folder = copy_run(artifacts, tmp_path / name)
        _, pdf = brief.build(p, folder, folder / "artifacts", {"uplift"}, EPOCH)
        digests.append(hashlib.sha256(pdf.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.parametrize(
    "src", ["https://example.com/logo.png", "http://10.0.0.1/x.png", "file:///etc/hostname"]
)
def test_remote_or_outside_reference_stops_the_render(tmp_path, src):
    html = f'<html lang="zh-CN"><body><p>标题</p><img src="{src}"></body></html>'
    with pytest.raises(ExportError) as err:
        brief.write_pdf(html, tmp_path, tmp_path / "brief.pdf")
    assert err.value.exit_code == 6
    assert not (tmp_path / "brief.pdf").exists()


def test_a_missing_figure_or_artifact_is_an_export_error(tmp_path, artifacts):
    folder = copy_run(artifacts, tmp_path / "run")
    (folder / "artifacts" / "bank_wecom.svg").unlink()
    with pytest.raises(ExportError, match=r"bank_wecom\.svg"):
        brief_context.load_artifact("bank_comparison", folder / "artifacts")
    (folder / "artifacts" / "uplift.json").unlink()
    with pytest.raises(ExportError, match=r"uplift\.json was not written"):
        brief_context.load_artifact("uplift", folder / "artifacts")


def test_uplift_json_is_checked_against_its_schema(tmp_path, artifacts):
    folder = copy_run(artifacts, tmp_path / "run")
    path = folder / "artifacts" / "uplift.json"
    data = json.loads(path.read_text())
    del data["estimates"]["iv_quota"]
    path.write_text(json.dumps(data))
    with pytest.raises(ExportError, match=r"does not match schema wb\.uplift/1"):
        brief_context.load_artifact("uplift", folder / "artifacts")


def test_bank_figures_option_selects_and_checks_stems(artifacts):
    data = {
        "bank_comparison": brief_context.load_artifact("bank_comparison", artifacts / "artifacts")
    }
    ctx = brief_context.build_context(
        run_params("bank_comparison", bank_figures=["bank_wecom"]), data, set(), EPOCH
    )
    assert [f.src for f in ctx.bank["figures"]] == ["bank_wecom.png"]
    # the charts left out are not announced: a reader of the PDF has no folder to look in
    assert "run folder" not in brief.render_html(ctx) and "artifacts/" not in brief.render_html(
        ctx
    ).replace('src="artifacts/', "")
    with pytest.raises(ExportError, match="bank_coverage"):  # a known stem the artifact lacks
        brief_context.build_context(
            run_params("bank_comparison", bank_figures=["bank_coverage"]), data, set(), EPOCH
        )


def test_pdf_check_needs_the_title(tmp_path):
    html = '<html lang="zh-CN"><p style="font-family: Noto Sans CJK SC">别的标题</p></html>'
    pdf = brief.write_pdf(html, tmp_path, tmp_path / "x.pdf")
    with pytest.raises(ExportError, match="title"):
        brief.check_pdf(pdf, TITLE)


def test_uplift_section_shows_wald_did_and_bunching_when_written(artifacts):
    data = brief_context.load_artifact("uplift", artifacts / "artifacts")
    assert "Wald-DiD" not in brief.render_html(
        brief_context.build_context(run_params("uplift"), {"uplift": data}, {"uplift"}, EPOCH)
    )
    data = data | {
        "wald_did": {
            "coef": -19542.0,
            "se": 1200.0,
            "ci_low": -21776.0,
            "ci_high": -17056.0,
            "estimator": "imputation",
            "n_boot": 999,
        },
        "bunching": {
            "excess_share": 0.697,
            "ci_low": 0.689,
            "ci_high": 0.704,
            "manufactured_adds": 39.8,
        },
    }
    html = brief.render_html(
        brief_context.build_context(run_params("uplift"), {"uplift": data}, {"uplift"}, EPOCH)
    )
    assert "Wald-DiD" in html and "-19,542" in html and "[-21,776, -17,056]" in html
    assert "70% of quota RM-months" in html and "39.8 adds" in html


def test_uplift_section_reads_the_pretrend_sensitivity_in_one_line(artifacts):
    """The honest_did block becomes one plain line with its breakdown values and the pre-trend
    test's power, marked simulated with the rest of the section."""
    data = brief_context.load_artifact("uplift", artifacts / "artifacts")
    data = data | {
        "honest_did": {
            "estimate": -15_400.0,
            "post_times": list(range(13)),
            "rm_breakdown": 1.37,
            "sd_breakdown": 820.0,
            "slope_50": 310.0,
            "slope_80": 450.0,
            "bias_at_80": 3150.0,
        }
    }
    html = brief.render_html(
        brief_context.build_context(run_params("uplift"), {"uplift": data}, {"uplift"}, EPOCH)
    )
    line = next(p for p in html.split("<p>") if "Sensitivity to pre-trends" in p)
    assert "stays negative unless post-adoption trend breaks exceed 1.4× the largest" in line
    assert "bends by more than 820 yuan per month²" in line
    assert "one of 450 yuan 80% of the time" in line and "do not test parallel trends" in line
    assert "SIMULATED" in line


def test_a_brief_on_a_real_export_carries_its_label_and_no_simulated_mark(artifacts):
    """uplift.json keeps the data's label at data.label; the brief shows it (it read a key that
    does not exist, and printed an empty 数据 Data line for every real export)."""
    uplift = brief_context.load_artifact("uplift", artifacts / "artifacts")
    uplift = uplift | {"data": {"label": "华东分行导出 East branch export", "simulated": False}}
    bank = brief_context.load_artifact("bank_comparison", artifacts / "artifacts")
    ctx = brief_context.build_context(
        run_params("bank_comparison", "uplift"),
        {"bank_comparison": bank, "uplift": uplift},
        set(),
        EPOCH,
    )
    html = brief.render_html(ctx)
    assert "华东分行导出 East branch export" in html
    assert "SIMULATED" not in html


@pytest.fixture(scope="module")
def warehouse_run(artifacts, tmp_path_factory) -> Path:
    """The run folder of both sections, its uplift.json with an add_quality block (and a
    stand-in funnel figure), and a real customer-level uplift (``wb warehouse uplift``'s code
    and figures) of a small simulated warehouse where ``wb run`` puts it."""
    from wb.plots.customer_uplift import save
    from wb.uplift.quality import AddQuality, Share
    from wb.warehouse import simulate, uplift

    folder = copy_run(artifacts, tmp_path_factory.mktemp("wh") / "run")
    assets = folder / "artifacts"
    document = json.loads((assets / "uplift.json").read_text(encoding="utf-8"))
    shares = (
        Share("adds_removed_30d", "removed within 30 days", 0.41, 0.38, 0.44, 0.05, 0.04, 0.06),
        Share("adds_shared_3plus", "a ring contact", 0.25, 0.22, 0.28, 0.01, 0.0, 0.02),
    )
    document["add_quality"] = AddQuality(shares, 1000, 20, 12.0).to_json()
    (assets / "uplift.json").write_text(json.dumps(document), encoding="utf-8")
    for ext in ("png", "svg"):
        (assets / f"uplift_add_quality.{ext}").write_bytes(
            (assets / f"uplift_forest.{ext}").read_bytes()
        )
    config = simulate.CustomerSimulationConfig(n_rms=80, n_months=12, customers_per_rm=20)
    source, _ = simulate.write(config, folder.parent / "wh")
    uplift.run(source, assets / "customer_uplift" / "rm_month", figures=save, label="仓库 wh")
    return folder


def test_add_quality_section_states_the_customer_level_effects_with_the_paths_figure(
    warehouse_run,
):
    folder = warehouse_run
    cu = folder / "artifacts" / "customer_uplift" / "rm_month"
    doc = json.loads((cu / "customer_uplift.json").read_text(encoding="utf-8"))
    free, quota = doc["att_by_kind"]["no_quota"], doc["att_by_kind"]["quota_month"]
    params = run_params("bank_comparison", "uplift")
    html_path, pdf = brief.build(params, folder, folder / "artifacts", {"uplift"}, EPOCH, cu)
    html = " ".join(html_path.read_text(encoding="utf-8").split())
    assert (
        f"holds {free['coef']:+,.0f} yuan of AUM over months 0–5 after binding (95% CI "
        f"{free['ci_low']:+,.0f} to {free['ci_high']:+,.0f}), one bound in a quota month "
        f"{quota['coef']:+,.0f} yuan ({quota['ci_low']:+,.0f} to {quota['ci_high']:+,.0f})"
    ) in html
    assert f"平均每位客户 AUM 变化 {free['coef']:+,.0f} 元" in html
    assert "mixes organic adds" in html and "配额促成的新增" in html
    assert 'src="artifacts/customer_uplift/rm_month/customer_uplift_paths.png"' in html
    assert doc["source"] == "仓库 wh"  # the chart's source line names the data by its label
    # the customer-level figure follows the funnel, under one Add quality heading
    bank = brief_context.load_artifact("bank_comparison", folder / "artifacts")
    ctx = brief_context.build_context(
        params,
        {
            "bank_comparison": bank,
            "uplift": brief_context.load_artifact("uplift", folder / "artifacts"),
        },
        {"uplift"},
        EPOCH,
        brief_context.load_customer_uplift(cu, folder / "artifacts"),
    )
    funnel, paths = ctx.uplift["quality"]["figure"], ctx.uplift["customer"]["figure"]
    assert paths.number == funnel.number + 1 and paths.simulated and doc["simulated"]
    text = " ".join(pdf_text(pdf).split())
    assert html.count("Add quality") == 1 and "Add quality" in text
    assert f"图 {paths.number}" in text and f"{free['coef']:+,.0f}" in text
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert 2 <= int(pages.split("Pages:")[1].split()[0]) <= 5


def test_a_customer_uplift_without_its_paths_figure_is_an_export_error(warehouse_run, tmp_path):
    folder = copy_run(warehouse_run, tmp_path / "run")
    cu = folder / "artifacts" / "customer_uplift" / "rm_month"
    (cu / "customer_uplift_paths.png").unlink()
    with pytest.raises(ExportError, match=r"customer_uplift_paths\.png"):
        brief.build(run_params("uplift"), folder, folder / "artifacts", {"uplift"}, EPOCH, cu)
    (cu / "customer_uplift.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ExportError, match="customer_uplift"):
        brief.build(run_params("uplift"), folder, folder / "artifacts", {"uplift"}, EPOCH, cu)


def test_every_figure_prints_at_the_text_width_with_no_font_under_7pt(artifacts):
    html, pdf = brief.build(
        run_params("bank_comparison", "uplift"), artifacts, artifacts / "artifacts", set(), EPOCH
    )
    printed = brief.printed_figures(pdf, html.read_text(encoding="utf-8"), artifacts)
    assert len(printed) == html.read_text(encoding="utf-8").count("<figure>") >= 3
    for fig in printed:
        assert abs(fig.width_mm - 178) < 2, fig
        assert fig.smallest_font_pt >= 7.0, fig


def test_a_figure_drawn_too_wide_for_the_page_stops_the_brief(tmp_path, artifacts):
    """The old layout: a chart drawn 14 inches wide shrinks to the text width, so its 7.5 pt
    notes print near 3.8 pt; the brief refuses it (exit 6) naming the figure."""
    import matplotlib.pyplot as plt

    from wb.plots.theme import add_footer, save_figure, theme_context

    run = copy_run(artifacts, tmp_path / "run")
    stem = brief_context.load_artifact("bank_comparison", run / "artifacts")["figures"][0]["stem"]
    with theme_context():
        fig, ax = plt.subplots(figsize=(14.0, 5.0))
        ax.bar(["工商银行", "建设银行"], [1, 2])
        add_footer(fig, "fixture")
        save_figure(fig, run / "artifacts", stem)
        plt.close(fig)
    with pytest.raises(ExportError, match=rf"{stem}\.png prints text at [34]\.\d pt"):
        brief.build(run_params("bank_comparison"), run, run / "artifacts", set(), EPOCH)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "business review - bocpic.bankofchina.com ... [Bank of China 2019 Interim Report]",
            "Bank of China 2019 Interim Report",
        ),
        ("≈≈招商银行600036≈≈ 维赛特财经 F10 主营构成", "招商银行600036 维赛特财经 F10 主营构成"),
        ("招商银行 2021年度报告 (reportify filing summary)", "招商银行 2021年度报告"),
        ("Retail business accounts for half of stock-banks’ income", None),
        ("x" * 90, "x" * 69 + "…"),
    ],
)
def test_source_titles_are_cleaned_of_scraper_notes(raw, clean):
    assert brief_sections.clean_title(raw) == (clean or raw)


def test_sources_list_the_banks_own_documents_first(artifacts):
    bank = {
        "sources": [
            {"source_id": "a", "title": "News", "publisher": "经济参考报", "url": "https://x.cn/1"},
            {"source_id": "b", "title": "Report", "publisher": "ICBC (own report text)"},
        ]
    }
    groups = brief_sections.sources_section(["a", "b", "c"], bank)
    assert [[s["source_id"] for s in g["entries"]] for g in groups] == [["b"], ["a", "c"]]
    assert groups[1]["entries"][0]["host"] == "x.cn"


def test_coverage_is_a_footnote_not_a_key_finding(artifacts):
    data = {
        "bank_comparison": brief_context.load_artifact("bank_comparison", artifacts / "artifacts")
    }
    data["bank_comparison"]["findings"].append(
        {
            "key": "coverage",
            "kind": "coverage",
            "zh": "覆盖 12 格",
            "en": "12 cells covered",
            "numbers": [],
            "source_ids": [],
        }
    )
    ctx = brief_context.build_context(run_params("bank_comparison"), data, set(), EPOCH)
    assert all(f["en"] != "12 cells covered" for f in ctx.findings + ctx.bank["more"])
    assert ctx.bank["coverage"][-1] == {"text": "覆盖 12 格", "en": "12 cells covered"}
    assert "数据覆盖 Data coverage: 覆盖 12 格" in brief.render_html(ctx)


def test_the_run_workbook_holds_every_table_with_units_formats_and_sources(warehouse_run):
    """One workbook per run: the findings, the table behind each bank chart, the news check,
    the uplift estimates, add quality, the customer-level effects and the sources; headers
    name units, shares stay fractions shown as %, money in yuan with separators."""
    import openpyxl

    from wb.banks import comparison
    from wb.banks.panel import Panel
    from wb.door.writers import write_workbook
    from wb.run import workbook

    root = Path(__file__).resolve().parents[2]
    panel = Panel.load(root / "data" / "bank_panel.csv")
    tables = comparison.chart_tables(panel, "H1 2025", ["FY2024", "H1 2025"])
    write_workbook(tables, warehouse_run / "artifacts" / comparison.WORKBOOK_NAME)
    path = workbook.write(warehouse_run / "artifacts", warehouse_run / "workbook.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == "about" and book.sheetnames[-1] == "sources"
    for name in ("findings", *tables, "news_check", "uplift_estimates", "add_quality"):
        assert name in book.sheetnames, name
    assert {"customer_effects", "customer_paths"} <= set(book.sheetnames)

    def column(sheet: str, header: str) -> list[openpyxl.cell.Cell]:
        ws = book[sheet]
        j = [c.value for c in ws[1]].index(header)
        return [row[j] for row in ws.iter_rows(min_row=2)]

    income = column("bank_income", "value (%)")
    assert all(c.number_format == "0.0%" for c in income)
    assert all(c.value is None or -1 < c.value < 1 for c in income)  # a fraction, shown as %
    levels = column("bank_income", "level (亿元 100m yuan)")
    for cell, level in zip(levels, tables["bank_income"]["level"], strict=True):
        assert cell.value == pytest.approx(level / 1e8, rel=1e-12, nan_ok=True) or (
            cell.value is None and level != level
        )
    assert all(c.number_format == "#,##0.00" for c in levels)
    coefs = column("uplift_estimates", "coef (yuan per add)")
    assert coefs[0].number_format == "#,##0"
    trends = book["bank_trends"]
    header = [c.value for c in trends[1]]
    for row in trends.iter_rows(min_row=2):
        value, series = row[header.index("value")], row[header.index("series")].value
        expected = "0.0%" if series == "retail_income_share" else "#,##0.00"
        assert value.number_format == expected, series
    cited = {c.value for c in column("sources", "source_id")}
    found = json.loads((warehouse_run / "artifacts" / "bank_comparison.json").read_text())
    assert set(brief_sections.cited_ids(found["findings"])) <= cited
    about = dict(book["about"].iter_rows(min_row=2, values_only=True))
    assert about["simulated 模拟"].startswith("SIMULATED")  # the customer-level data is simulated


def test_news_claims_name_their_period_and_a_brief_of_another_period_says_so(artifacts):
    """An H1 2024 brief showed an H1 2025 article's claims as if they were about its period."""
    data = {
        "bank_comparison": brief_context.load_artifact("bank_comparison", artifacts / "artifacts")
    }

    def html() -> str:
        return brief.render_html(
            brief_context.build_context(run_params("bank_comparison"), data, set(), EPOCH)
        )

    rows = data["bank_comparison"]["news_check"]
    for row in rows:
        row["period"] = "H1 2025"
    same = html()
    assert f"{rows[0]['claim']} · H1 2025" in same and "not this brief's period" not in same
    data["bank_comparison"]["period"] = "H1 2024"
    assert "The claims concern H1 2025, not this brief's period (H1 2024)" in html()
    rows.append({**rows[0], "period": "H1 2024"})
    assert "Some claims concern H1 2025, not this brief's period (H1 2024)" in html()
