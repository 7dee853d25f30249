"""wb.banks.panel and wb.banks.metrics: units, qualifiers, the selection rule, changes, shares, WeCom reach."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from wb.banks import metrics as m
from wb.banks import panel as bp
from wb.door import cn_text

SOURCES = pd.DataFrame(
    {
        "source_id": ["s_old", "s_new", "s_own"],
        "title": ["old news", "new news", "annual report"],
        "publisher": ["paper", "paper", "bank"],
        "date": ["2024-01-01", "2025-09-01", "2025-03-28"],
        "url": ["https://a", "https://b", "https://c"],
    }
)


def make_panel(tmp_path: Path, rows: list[dict], sources: pd.DataFrame = SOURCES) -> bp.Panel:
    """Write a small bank panel and its sources into ``tmp_path``; load it through wb.door.io."""
    defaults = {"qualifier": "exact", "source_id": "s_old", "quote": "原文", "confidence": "medium"}
    frame = pd.DataFrame([defaults | r for r in rows])
    frame.to_csv(tmp_path / "bank_panel.csv", index=False)
    sources.to_csv(tmp_path / "sources.csv", index=False)
    return bp.Panel.load(tmp_path / "bank_panel.csv")


def row(bank: str, period: str, metric: str, value: float, **kw) -> dict:
    """A panel row; its basis as the build script gives it (pre-tax profit, period-end AUM)."""
    basis = bp.basis_of(metric, "税前利润" if metric.startswith("retail_profit") else "")
    return {
        "bank_id": bank,
        "period": period,
        "metric": metric,
        "value": value,
        "basis": basis,
    } | kw


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2万亿元", 1.2e12),
        ("3.5亿元", 3.5e8),
        ("23.49万户", 234_900),
        ("43464.00 (百万)", 43_464e6),
        ("100,668 (百万元)", 100_668e6),
        ("超15万亿元", 15e12),
        ("16.03萬億元", 16.03e12),
        ("3,149.57万户", 31_495_700),
        ("56.74%", 0.5674),
        ("7500人", 7500),
    ],
)
def test_parse_cn_amount_units(text: str, expected: float) -> None:
    assert cn_text.parse_cn_amount(text) == pytest.approx(expected, rel=1e-12)


def test_parse_cn_amount_without_number_raises() -> None:
    with pytest.raises(ValueError, match="no amount"):
        cn_text.parse_cn_amount("出现亏损")


@pytest.mark.parametrize(
    ("text", "qualifier"),
    [
        ("超15万亿元", "over"),
        ("突破2500万户", "over"),
        ("近千万", "about"),
        ("接近8億户", "about"),
        ("约1200万户", "about"),
        ("1100万", "exact"),
    ],
)
def test_cn_qualifier(text: str, qualifier: str) -> None:
    assert cn_text.cn_qualifier(text) == qualifier


def test_display_value_shows_qualifiers() -> None:
    assert bp.display_value(15e12, "over") == "≥15.00万亿元"
    assert bp.display_value(1e7, "about", "count") == "≈1,000.0万"
    assert bp.display_value(0.6667, "under", "share") == "≤66.7%"
    # a fall of more than 30%: the bound is on the magnitude
    assert bp.display_value(-0.30, "over", "change") == "≤-30.0%"
    assert bp.display_value(math.nan) == "无数据 n/a"


def test_selection_rule_prefers_confidence_then_exact_then_later(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_aum", 15e12, qualifier="about", confidence="low"),
            row("aa", "H1 2025", "retail_aum", 16e12, qualifier="over", source_id="s_new"),
            row("aa", "H1 2025", "retail_aum", 16.03e12, source_id="s_old"),
            row("bb", "H1 2025", "retail_aum", 1e12, source_id="s_old"),
            row("bb", "H1 2025", "retail_aum", 2e12, source_id="s_new"),
            row("cc", "H1 2025", "retail_aum", 3e12, confidence="medium"),
            row("cc", "H1 2025", "retail_aum", 4e12, confidence="high", source_id="s_own"),
        ],
    )
    sel = bp.select(panel, "aa", "H1 2025", "retail_aum")
    assert sel.value == 16.03e12  # medium beats low; exact beats over
    assert sorted(sel.alternatives["value"]) == [15e12, 16e12]
    assert "≥16.00万亿元 (s_new)" in sel.alternatives_text()
    assert bp.select(panel, "bb", "H1 2025", "retail_aum").source_id == "s_new"  # later source
    assert bp.select(panel, "cc", "H1 2025", "retail_aum").value == 4e12  # own report, high
    assert bp.select(panel, "aa", "FY2024", "retail_aum") is None


def test_yoy_from_levels_else_quoted_else_missing(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_operating_income", 110e8, source_id="s_new"),
            row("aa", "H1 2024", "retail_operating_income", 100e8),
            row("aa", "H1 2025", "retail_operating_income_yoy", 0.2),
            row("bb", "H1 2025", "retail_operating_income_yoy", -0.0778),
            row("cc", "H1 2025", "retail_operating_income", 50e8),
            row("dd", "H1 2025", "retail_profit", 9.21e8),
            row("dd", "H1 2024", "retail_profit", -18.64e8),
        ],
    )
    derived = m.yoy(panel, "aa", "H1 2025", "retail_operating_income")
    assert derived.value == pytest.approx(0.10)
    assert derived.method == "derived"
    assert derived.source_ids == ("s_new", "s_old")
    assert "stated: +20.0%" in derived.note
    quoted = m.yoy(panel, "bb", "H1 2025", "retail_operating_income")
    assert (quoted.value, quoted.method) == (-0.0778, "quoted")
    missing = m.yoy(panel, "cc", "H1 2025", "retail_operating_income")
    assert math.isnan(missing.value) and missing.method == "none"
    from_loss = m.yoy(panel, "dd", "H1 2025", "retail_profit")
    assert math.isnan(from_loss.value) and "base ≤ 0" in from_loss.note
    table = m.yoy_table(panel, "H1 2025", "retail_operating_income")
    assert table.set_index("bank_id")["value"].isna().to_dict() == {
        "aa": False,
        "bb": False,
        "cc": True,
        "dd": True,
    }


def test_missing_level_stays_missing_not_zero(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [row("aa", "H1 2025", "retail_aum", 1e12), row("bb", "FY2024", "retail_aum", 2e12)],
    )
    levels = m.level_table(panel, "H1 2025", "retail_aum").set_index("bank_id")["value"]
    assert levels["aa"] == 1e12
    assert math.isnan(levels["bb"])
    assert (levels.fillna(-1) != 0).all()


def test_retail_share_quoted_derived_and_never_over_net_profit(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_income_share", 0.5674),
            row("bb", "H1 2025", "retail_operating_income", 25e9),
            row("bb", "H1 2025", "bank_operating_income", 100e9),
            row("bb", "H1 2025", "retail_profit", 3e9),
            row("bb", "H1 2025", "bank_profit_before_tax", 30e9),
            row("cc", "H1 2025", "retail_profit", 3e9),
            row("cc", "H1 2025", "bank_net_profit", 20e9),
        ],
    )
    assert m.retail_share(panel, "aa", "H1 2025", "income").method == "quoted"
    income = m.retail_share(panel, "bb", "H1 2025", "income")
    assert (income.value, income.method) == (pytest.approx(0.25), "derived")
    assert m.retail_share(panel, "bb", "H1 2025", "profit").value == pytest.approx(0.10)
    assert math.isnan(m.retail_share(panel, "cc", "H1 2025", "profit").value)


def test_aum_growth_from_year_end_level_or_quoted(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_aum", 17.67e12),
            row("aa", "FY2024", "retail_aum", 16.69e12),
            row("bb", "H1 2025", "retail_aum_growth_ytd", 0.0399),
        ],
    )
    table = m.aum_table(panel, "H1 2025").set_index("bank_id")
    assert table.loc["aa", "growth"] == pytest.approx(17.67 / 16.69 - 1)
    assert table.loc["aa", "growth_method"] == "derived"
    assert table.loc["bb", "growth"] == 0.0399 and math.isnan(table.loc["bb", "level"])


def test_wecom_reach_share_and_far_apart_dates(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "2021-12-31", "wecom_connected", 11e6),
            row("aa", "FY2021", "retail_customers", 726e6),
            row("bb", "2025-12-31", "wecom_connected", 1e6, qualifier="about"),
            row("bb", "2025-12-31", "wecom_certification_rate", 0.6667, qualifier="over"),
            row("bb", "FY2023", "retail_customers", 10e6),
            row("cc", "H1 2025", "retail_customers", 10e6),
        ],
    )
    reach = m.wecom_reach(panel).set_index("bank_id")
    assert list(reach.index) == ["aa", "bb"]  # cc publishes nothing: absent, not zero
    assert reach.loc["aa", "share"] == pytest.approx(11 / 726)
    assert not reach.loc["aa", "far_apart"]
    assert reach.loc["bb", "far_apart"] and reach.loc["bb", "gap_days"] > 365
    assert reach.loc["bb", "certification_rate"] == 0.6667


def test_coverage_counts_missing_cells(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [row("aa", "H1 2025", "retail_aum", 1e12), row("bb", "FY2024", "retail_customers", 5)],
    )
    cov = m.coverage(panel, ["H1 2025"]).set_index(["bank_id", "group", "period"])
    assert cov.loc[("aa", "retail_aum", "H1 2025"), "n_rows"] == 1
    assert cov.loc[("bb", "retail_aum", "H1 2025"), "n_rows"] == 0
    assert cov.loc[("bb", "retail_aum", "H1 2025"), "best_confidence"] == ""
    assert len(cov) == 2 * (len(m.COVERAGE_GROUPS) - 1) + 2  # WeCom: one "any date" column


def test_periods() -> None:
    assert bp.prior_period("H1 2025") == "H1 2024"
    assert bp.year_start_period("Q3 2025") == "FY2024"
    assert bp.period_end("2025-11").isoformat() == "2025-11-30"
    assert bp.prior_period("2025-07-31") is None


def test_suspect_rows_are_never_selected_and_show_as_excluded(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "FY2024", "retail_customers", 12e6, status="suspect", status_reason="x"),
            row("bb", "FY2024", "retail_customers", 30e6, status="suspect", status_reason="y"),
            row("bb", "FY2024", "retail_customers", 31e6, confidence="low"),
        ],
    )
    assert bp.select(panel, "aa", "FY2024", "retail_customers") is None
    # the suspect row loses even against a low-confidence one
    assert bp.select(panel, "bb", "FY2024", "retail_customers").value == 31e6
    table = m.level_table(panel, "FY2024", "retail_customers")
    assert 12e6 not in set(table["value"]) and 30e6 not in set(table["value"])
    cov = m.coverage(panel, ["FY2024"], {"customers": ("retail_customers",)})
    states = dict(zip(cov["bank_id"], cov["state"], strict=True))
    assert states == {"aa": "excluded (suspect)", "bb": "data"}


def test_changes_only_within_one_basis(tmp_path: Path) -> None:
    """A vendor's operating-profit column and a pre-tax figure never make a YoY change."""
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_profit", 90e9, basis="vendor_operating_profit"),
            row("aa", "H1 2024", "retail_profit", 60e9, basis="pre_tax"),
            row("bb", "H1 2025", "retail_profit", 90e9, basis="vendor_operating_profit"),
            row("bb", "H1 2025", "retail_profit", 80e9, basis="pre_tax", confidence="low"),
            row("bb", "H1 2024", "retail_profit", 60e9, basis="vendor_operating_profit"),
        ],
    )
    assert m.yoy(panel, "aa", "H1 2025", "retail_profit").method == "none"
    bb = m.yoy(panel, "bb", "H1 2025", "retail_profit")
    assert (bb.value, bb.basis) == (pytest.approx(0.5), "vendor_operating_profit")


def test_unverified_is_carried_with_its_reason(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_operating_income", 110e9),
            row(
                "aa",
                "H1 2024",
                "retail_operating_income",
                100e9,
                status="unverified",
                status_reason="period inferred",
            ),
        ],
    )
    change = m.yoy(panel, "aa", "H1 2025", "retail_operating_income")
    assert change.status == "unverified"
    assert "unverified: period inferred" in change.note


def test_direction_rows_are_evidence_not_values(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [row("aa", "H1 2025", "retail_profit_yoy", float("nan"), direction="up")],
    )
    assert bp.select(panel, "aa", "H1 2025", "retail_profit_yoy") is None
    assert panel.directions("aa", "H1 2025", "retail_profit_yoy")["direction"].tolist() == ["up"]


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda p: m.level_table(p, "2025H1", "retail_aum"), "did you mean 'H1 2025'"),
        (lambda p: m.level_table(p, "2024", "retail_aum"), "did you mean 'FY2024'"),
        (lambda p: m.level_table(p, "H1 2025", "aum"), "did you mean 'retail_aum'"),
        (lambda p: m.yoy_table(p, "H1 2025", "retail_aum", ["cmbx"]), "did you mean 'cmb'"),
        (lambda p: m.aum_table(p, "H1 2025", ["cmb", "xyz"]), "unknown bank 'xyz'"),
    ],
)
def test_a_wrong_name_gets_the_valid_ones_and_the_closest(call, hint) -> None:
    """A typo is an error naming the valid values, never a table of 无数据 rows."""
    from wb.errors import InputError

    panel = bp.Panel.load(Path(__file__).parents[1] / "data" / "bank_panel.csv")
    with pytest.raises(InputError, match="Valid") as err:
        call(panel)
    assert hint in str(err.value)


def test_the_public_api_is_importable_from_wb() -> None:
    import wb

    panel = wb.load_panel(Path(__file__).parents[1] / "data" / "bank_panel.csv")
    assert len(wb.level_table(panel, "H1 2025", "retail_aum")) == 19
    assert callable(wb.estimate) and callable(wb.plot_trends)
    with pytest.raises(AttributeError, match="it offers"):
        wb.plot_nothing  # noqa: B018


@pytest.mark.parametrize(
    ("metric", "value", "shown"),
    [
        ("retail_income_share", 0.514, "51.4%"),
        ("retail_operating_income_yoy", -0.066, "-6.6%"),
        ("retail_income_share_pp_yoy", -0.02, "-2.0pp"),
        ("retail_customers", 1.1e7, "1,100.0万"),
        ("wecom_customer_asset_growth_multiple", 2.5, "2.50×"),
        ("retail_aum", 2.21e13, "22.10万亿元"),
    ],
)
def test_every_metric_is_shown_in_its_unit(metric, value, shown):
    from wb.banks.panel import display_value, value_kind

    assert display_value(value, "exact", value_kind(metric)) == shown
