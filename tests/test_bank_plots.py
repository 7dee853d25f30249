"""wb.plots.banks: every figure renders to PNG and SVG without missing glyphs, with a source line.

pytest turns "Glyph … missing" warnings into errors (pyproject), so rendering here is the check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from wb.banks import comparison, metrics
from wb.plots import banks as plots
from wb.plots.theme import save_figure

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "income": plots.plot_retail_income_yoy,
    "profit": plots.plot_retail_profit_yoy,
    "share": plots.plot_retail_share,
    "aum": plots.plot_retail_aum,
    "wecom": plots.plot_wecom_reach,
    "coverage": plots.plot_coverage,
}


@pytest.fixture(scope="module")
def panel() -> metrics.Panel:
    return metrics.Panel.load(ROOT / "data" / "bank_panel.csv")


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_renders_with_title_and_sources(
    name: str, panel: metrics.Panel, tmp_path: Path
) -> None:
    fig = FIGURES[name](panel)
    paths = save_figure(fig, tmp_path, f"bank_{name}")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 5_000 for p in paths)
    footer = plots.source_line(fig)
    assert footer.startswith("来源 Source: ")
    if name != "coverage":
        assert "src-" in footer
    assert fig.get_suptitle()  # the finding
    for ax in fig.axes:
        assert ax.get_xlabel(), "every axis carries its unit"
    plt.close(fig)


def test_footer_lists_the_sources_of_the_plotted_values(panel: metrics.Panel) -> None:
    fig = plots.plot_retail_income_yoy(panel)
    table = metrics.yoy_table(panel, "H1 2025", "retail_operating_income")
    for source_id in metrics.source_ids_of(table):
        assert source_id in plots.source_line(fig)
    assert comparison.income_finding(panel, "H1 2025").en in fig.get_suptitle()
    plt.close(fig)


def test_title_is_computed_from_the_bank_selection(panel: metrics.Panel) -> None:
    fig = plots.plot_retail_income_yoy(panel, banks=["ccb", "cmb", "icbc"])
    assert "0 of 2 banks with data saw retail operating income fall" in fig.get_suptitle()
    plt.close(fig)


def test_figure_draws_into_a_given_axes(panel: metrics.Panel) -> None:
    fig, ax = plt.subplots(figsize=(8, 6))
    assert plots.plot_retail_profit_yoy(panel, ax=ax) is fig
    plt.close(fig)


@pytest.mark.slow
def test_notebook_runs_under_papermill(tmp_path: Path) -> None:
    out = tmp_path / "figures"
    env = os.environ | {"MPLBACKEND": "Agg"}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("papermill")),
            "10_bank_comparison.ipynb",
            str(tmp_path / "out.ipynb"),
            "-k",
            "wb",
            "-p",
            "out_dir",
            str(out),
        ],
        cwd=ROOT / "notebooks",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    artifact = json.loads((out / "bank_comparison.json").read_text(encoding="utf-8"))
    assert artifact["schema"] == "wb.bank_comparison/1"
    stems = [f["stem"] for f in artifact["figures"]]
    assert stems == [
        "bank_income",
        "bank_profit",
        "bank_share",
        "bank_aum",
        "bank_wecom",
        "bank_coverage",
    ]
    for stem in stems:
        assert (out / f"{stem}.png").is_file() and (out / f"{stem}.svg").is_file()
    assert all(f["source"].startswith("来源 Source:") for f in artifact["figures"])
    assert {n["verdict"] for n in artifact["news_check"]} <= {"agrees", "contradicts", "no data"}
    assert all(n["source_ids"] for f in artifact["findings"] for n in f["numbers"])
