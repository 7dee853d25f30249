"""wb.banks.panel and wb.banks.metrics: units, qualifiers, the selection rule, changes, shares, WeCom reach."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bank_cases import make_panel, row

from wb.banks import changes, metrics
from wb.banks.display import UNVERIFIED_MARK, derived_qualifier, display_value, value_kind
from wb.banks.panel import Panel, period_end, prior_period, select, year_start_period
from wb.door import cn_text


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
    assert display_value(15e12, "over") == "≥15.00万亿元"
    assert display_value(1e7, "about", "count") == "≈1,000.0万"
    assert display_value(0.6667, "under", "share") == "≤66.67%"
    # a fall of more than 30%: the bound is on the magnitude
    assert display_value(-0.30, "over", "change") == "≤-30.0%"
    assert display_value(math.nan) == "无数据 n/a"


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (0.6515, "share", "65.15%"),  # PSBC H1 2025 as printed, never 65.1%
        (0.514, "share", "51.4%"),
        (0.55, "share", "55.0%"),
        (-0.2049, "change", "-20.49%"),
        (0.387227, "share", "38.7%"),  # a derived ratio: one decimal
        (0.584 - 0.486, "points", "+9.8pp"),  # float noise is not precision
    ],
)
def test_display_value_keeps_the_printed_precision(value, kind, shown) -> None:
    assert display_value(value, "exact", kind) == shown


def test_display_value_marks_unverified_figures() -> None:
    shown = display_value(0.1248, "exact", "change", status="unverified")
    assert shown == f"+12.48% {UNVERIFIED_MARK}"
    assert UNVERIFIED_MARK not in display_value(0.1248, "exact", "change")


@pytest.mark.parametrize(
    ("value", "inputs", "qualifier", "shown"),
    [
        # CCB: H1 2025 AUM "over 22万亿" on an exact year-end level: growth is at least +6.8%
        (0.068, [(22e12, "over", 1), (20.6e12, "exact", -1)], "over", "≥+6.8pp"),
        # a bounded base: the growth is at most
        (0.068, [(22e12, "exact", 1), (20.6e12, "over", -1)], "under", "≤+6.8pp"),
        # CMB: H1 2024 share "over 55%" subtracted from 56.59%: the change is at most +1.59 pp
        (0.0159, [(0.5659, "exact", 1), (0.55, "over", -1)], "under", "≤+1.59pp"),
        # a new level "over" 0.95 on a base of 1: the fall is at most 5% (≥ on the signed value)
        (-0.05, [(0.95e12, "over", 1), (1e12, "exact", -1)], "under", "≥-5.0pp"),
        (0.02, [(1.0, "about", 1), (0.98, "exact", -1)], "about", "≈+2.0pp"),
        (0.02, [(1.0, "over", 1), (0.98, "over", -1)], "about", "≈+2.0pp"),
        (0.02, [(1.0, "exact", 1), (0.98, "exact", -1)], "exact", "+2.0pp"),
    ],
)  # shown as points for all: the qualifier's symbol is what is checked
def test_derived_values_carry_the_bounds_of_their_inputs(value, inputs, qualifier, shown) -> None:
    assert derived_qualifier(value, inputs) == qualifier
    assert display_value(value, qualifier, "points") == shown


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
    sel = select(panel, "aa", "H1 2025", "retail_aum")
    assert sel.value == 16.03e12  # medium beats low; exact beats over
    assert sorted(sel.alternatives["value"]) == [15e12, 16e12]
    assert "≥16.00万亿元 (s_new)" in sel.alternatives_text()
    assert select(panel, "bb", "H1 2025", "retail_aum").source_id == "s_new"  # later source
    assert select(panel, "cc", "H1 2025", "retail_aum").value == 4e12  # own report, high
    assert select(panel, "aa", "FY2024", "retail_aum") is None


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
    derived = changes.yoy(panel, "aa", "H1 2025", "retail_operating_income")
    assert derived.value == pytest.approx(0.10)
    assert derived.method == "derived"
    assert derived.source_ids == ("s_new", "s_old")
    assert "stated: +20.0%" in derived.note
    quoted = changes.yoy(panel, "bb", "H1 2025", "retail_operating_income")
    assert (quoted.value, quoted.method) == (-0.0778, "quoted")
    missing = changes.yoy(panel, "cc", "H1 2025", "retail_operating_income")
    assert math.isnan(missing.value) and missing.method == "none"
    from_loss = changes.yoy(panel, "dd", "H1 2025", "retail_profit")
    assert math.isnan(from_loss.value) and "base ≤ 0" in from_loss.note
    table = metrics.yoy_table(panel, "H1 2025", "retail_operating_income")
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
    levels = metrics.level_table(panel, "H1 2025", "retail_aum").set_index("bank_id")["value"]
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
    assert changes.retail_share(panel, "aa", "H1 2025", "income").method == "quoted"
    income = changes.retail_share(panel, "bb", "H1 2025", "income")
    assert (income.value, income.method) == (pytest.approx(0.25), "derived")
    assert changes.retail_share(panel, "bb", "H1 2025", "profit").value == pytest.approx(0.10)
    assert math.isnan(changes.retail_share(panel, "cc", "H1 2025", "profit").value)


def test_aum_growth_from_year_end_level_or_quoted(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_aum", 17.67e12),
            row("aa", "FY2024", "retail_aum", 16.69e12),
            row("bb", "H1 2025", "retail_aum_growth_ytd", 0.0399),
        ],
    )
    table = metrics.aum_table(panel, "H1 2025").set_index("bank_id")
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
    reach = metrics.wecom_reach(panel).set_index("bank_id")
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
    cov = metrics.coverage(panel, ["H1 2025"]).set_index(["bank_id", "group", "period"])
    assert cov.loc[("aa", "retail_aum", "H1 2025"), "n_rows"] == 1
    assert cov.loc[("bb", "retail_aum", "H1 2025"), "n_rows"] == 0
    assert cov.loc[("bb", "retail_aum", "H1 2025"), "best_confidence"] == ""
    assert len(cov) == 2 * (len(metrics.COVERAGE_GROUPS) - 1) + 2  # WeCom: one "any date" column


def test_periods() -> None:
    assert prior_period("H1 2025") == "H1 2024"
    assert year_start_period("Q3 2025") == "FY2024"
    assert period_end("2025-11").isoformat() == "2025-11-30"
    assert prior_period("2025-07-31") is None


def test_suspect_rows_are_never_selected_and_show_as_excluded(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("aa", "FY2024", "retail_customers", 12e6, status="suspect", status_reason="x"),
            row("bb", "FY2024", "retail_customers", 30e6, status="suspect", status_reason="y"),
            row("bb", "FY2024", "retail_customers", 31e6, confidence="low"),
        ],
    )
    assert select(panel, "aa", "FY2024", "retail_customers") is None
    # the suspect row loses even against a low-confidence one
    assert select(panel, "bb", "FY2024", "retail_customers").value == 31e6
    table = metrics.level_table(panel, "FY2024", "retail_customers")
    assert 12e6 not in set(table["value"]) and 30e6 not in set(table["value"])
    cov = metrics.coverage(panel, ["FY2024"], {"customers": ("retail_customers",)})
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
    assert changes.yoy(panel, "aa", "H1 2025", "retail_profit").method == "none"
    bb = changes.yoy(panel, "bb", "H1 2025", "retail_profit")
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
    change = changes.yoy(panel, "aa", "H1 2025", "retail_operating_income")
    assert change.status == "unverified"
    assert "unverified: period inferred" in change.note


def test_direction_rows_are_evidence_not_values(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [row("aa", "H1 2025", "retail_profit_yoy", float("nan"), direction="up")],
    )
    assert select(panel, "aa", "H1 2025", "retail_profit_yoy") is None
    assert panel.directions("aa", "H1 2025", "retail_profit_yoy")["direction"].tolist() == ["up"]


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda p: metrics.level_table(p, "2025H1", "retail_aum"), "did you mean 'H1 2025'"),
        (lambda p: metrics.level_table(p, "2024", "retail_aum"), "did you mean 'FY2024'"),
        (lambda p: metrics.level_table(p, "H1 2025", "aum"), "did you mean 'retail_aum'"),
        (lambda p: metrics.yoy_table(p, "H1 2025", "retail_aum", ["cmbx"]), "did you mean 'cmb'"),
        (lambda p: metrics.aum_table(p, "H1 2025", ["cmb", "xyz"]), "unknown bank 'xyz'"),
    ],
)
def test_a_wrong_name_gets_the_valid_ones_and_the_closest(call, hint) -> None:
    """A typo is an error naming the valid values, never a table of 无数据 rows."""
    from wb.errors import InputError

    panel = Panel.load(Path(__file__).parents[2] / "data" / "bank_panel.csv")
    with pytest.raises(InputError, match="Valid") as err:
        call(panel)
    assert hint in str(err.value)


def test_the_public_api_is_importable_from_wb() -> None:
    import wb

    panel = wb.load_panel(Path(__file__).parents[2] / "data" / "bank_panel.csv")
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
    assert display_value(value, "exact", value_kind(metric)) == shown


# --------------------------------------------------------------------------- findings


@pytest.fixture(scope="module")
def real_panel() -> Panel:
    return Panel.load(Path(__file__).parents[2] / "data" / "bank_panel.csv")


# Written by hand from data/bank_panel.csv (retail_income_share rows):
#   FY: bocom 0.4208 → 0.3949, cmb 0.5731 → 0.5832, pab 0.584 → 0.486 (no other bank has both)
#   H1 2025 vs H1 2024: abc 0.555 → 0.5141 (igu888 is selected: later of equal confidence),
#     cmb "over" 0.55 → 0.5659, cmbc 0.4466 → 0.404, pab 0.507 → 0.448
#   H1 2024 vs H1 2023: citic 0.414 → 0.3987 (the 搜狐 data page, the later source) only
TREND_SENTENCES = {
    "FY2024": (
        "FY2024 vs FY2023: retail's share of operating income fell at 2 of 3 banks with both; "
        "largest move: 平安 fell from 58.4% to 48.6% (-9.8pp)",
        "FY2024较FY2023:两期均有数据的3家银行中2家零售收入占比下降;"
        "变动最大:平安由58.4%降至48.6%(-9.8pp)",
    ),
    "H1 2025": (
        "H1 2025 vs H1 2024: retail's share of operating income fell at 3 of 4 banks with both; "
        "largest move: 平安 fell from 50.7% to 44.8% (-5.9pp); "
        "direction uncertain at 招商: ≥55.0% → 56.59% (≤+1.59pp)",
        "H1 2025较H1 2024:两期均有数据的4家银行中3家零售收入占比下降;"
        "变动最大:平安由50.7%降至44.8%(-5.9pp);招商方向不确定:≥55.0%→56.59%(≤+1.59pp)",
    ),
    "H1 2024": (
        "H1 2024 vs H1 2023: only one bank has retail's share of operating income in both: "
        "中信 fell from 41.4% to 39.87% (-1.53pp)",
        "H1 2024较H1 2023:仅一家银行两期均有零售收入占比:中信由41.4%降至39.87%(-1.53pp)",
    ),
}


@pytest.mark.parametrize("period", list(TREND_SENTENCES))
def test_trend_finding_is_about_the_period_and_its_predecessor(real_panel, period) -> None:
    from wb.banks import comparison

    found = comparison.findings(real_panel, period, [period])["trend"]
    assert (found.en, found.zh) == TREND_SENTENCES[period]
    assert {n["period"] for n in found.numbers} == {period, prior_period(period)}


def test_trend_words_follow_the_sign(tmp_path: Path) -> None:
    """A rise is never 降幅最大: the largest move is named with its own direction."""
    from wb.banks import comparison

    rows = [
        row("abc", "FY2023", "retail_income_share", 0.40),
        row("abc", "FY2024", "retail_income_share", 0.45),
        row("boc", "FY2023", "retail_income_share", 0.40),
        row("boc", "FY2024", "retail_income_share", 0.41),
        row("boc", "FY2016", "retail_income_share", 0.10),  # outside the window: never used
    ]
    found = comparison.trend_finding(make_panel(tmp_path, rows), "FY", until=2024)
    assert "fell at 0 of 2" in found.en and "largest move: abc rose from 40.0% to 45.0%" in found.en
    assert "降" not in found.zh.split(";")[1] and "abc由40.0%升至45.0%(+5.0pp)" in found.zh


def _unverified_texts(panel: Panel) -> set[str]:
    """Every unverified figure of the panel as display_value prints it, without the mark."""
    rows = panel.usable[panel.usable["status"] == "unverified"]
    return {display_value(r.value, r.qualifier, value_kind(r.metric)) for r in rows.itertuples()}


def _unmarked(text: str, shown: str) -> bool:
    """Whether ``shown`` appears in ``text`` (as a whole number) without the unverified mark."""
    import re

    pattern = re.escape(shown) + r"(?![\d])"
    return any(
        not text[m.end() :].startswith(f" {UNVERIFIED_MARK}") for m in re.finditer(pattern, text)
    )


@pytest.mark.parametrize("period", ["H1 2025", "FY2024", "H1 2024"])
def test_no_sentence_states_an_unverified_figure_unmarked(real_panel, period) -> None:
    """Every finding and figure caption (the figures' titles are these sentences) and the news
    check's evidence: an unverified figure's printed number always carries the mark, and a
    sentence that rests on an unverified number names it with the mark."""
    from wb.banks import comparison, newscheck

    found = comparison.findings(real_panel, period, [period])
    texts = [t for f in found for t in (f.zh, f.en)]
    texts += list(newscheck.check(real_panel).tidy()["figures"])
    shown = _unverified_texts(real_panel)
    assert "+12.48%" in shown and "≈1,000.0万" in shown  # CZB AUM growth, BoCom WeCom reach
    for text in texts:
        for number in shown:
            assert not _unmarked(text, number), (number, text)
    for finding in found:
        for n in finding.numbers:
            if n["status"] == "unverified":
                assert UNVERIFIED_MARK in finding.en and UNVERIFIED_MARK in finding.zh


def test_counts_that_rest_on_unverified_figures_name_them(real_panel) -> None:
    from wb.banks import comparison

    found = comparison.findings(real_panel, "H1 2025", ["H1 2025"])
    mark = UNVERIFIED_MARK
    assert f"3 rose (including 工商 +46.05% {mark})" in found["retail_profit"].en
    assert f"to 浙商 +12.48% {mark} (including 交通 +5.52% {mark})" in (found["retail_aum"].en)
    assert "邮储 65.15%" in found["retail_share"].en  # the printed precision


def test_derived_growth_from_an_over_figure_reads_at_least(real_panel) -> None:
    """CCB's H1 2025 retail AUM is "over 22万亿": its growth since FY2024 is ≥, not ≈."""
    growth = changes.aum_growth(real_panel, "ccb", "H1 2025")
    assert (growth.method, growth.qualifier) == ("derived", "over")
    assert display_value(growth.value, growth.qualifier, "change") == "≥+6.8%"


def test_wecom_reach_rows_carry_their_status(real_panel) -> None:
    table = metrics.wecom_reach(real_panel).set_index("bank_id")
    assert table.loc["bocom", "status"] == "unverified" and "近万万" in table.loc["bocom", "note"]
    assert table.loc["ccb", "status"] == "ok"


def test_wecom_reach_in_a_brief_states_only_what_was_known_by_the_period_end(real_panel) -> None:
    """An H1 2024 brief said "dated 2021-12-31 to 2025-12-31": figures from after the period it
    names. Now only CCB's 2021 figure was published by 2024-06-30, and the sentence says so."""
    from wb.banks import comparison

    table = metrics.wecom_reach(real_panel, until=period_end("H1 2024"))
    assert table["bank_id"].tolist() == ["ccb"]
    found = comparison.findings(real_panel, "H1 2024", ["H1 2024"])["wecom"]
    assert found.en == (
        "Only 1 of 19 banks had published bank-wide WeCom reach by the end of H1 2024, "
        "dated 2021-12-31; 2 banks have figures dated after H1 2024 (2025-11 to 2025-12-31)"
    )
    assert found.zh.startswith("截至H1 2024末,") and "1,000" not in found.zh
    assert [n["period"] for n in found.numbers] == ["2021-12-31"]  # later figures not stated
    everything = comparison.wecom_finding(real_panel)  # the notebook's view of every figure
    assert "(including 交通 ≈1,000.0万 [未核实 unverified])" in everything.en


def test_coverage_is_a_note_not_a_key_finding(real_panel) -> None:
    from wb.banks import comparison

    found = comparison.findings(real_panel, "FY2024", ["FY2024"])
    assert [f.key for f in found.coverage_notes] == ["coverage"]
    assert "coverage" not in {f.key for f in found.key_findings}
    assert {f.to_json()["kind"] for f in found} == {"finding", "coverage"}


def test_tables_kept_per_panel_are_handed_out_as_copies_and_keyed_by_arguments(
    tmp_path: Path,
) -> None:
    """Panel.memo keeps each table once per panel and arguments: a caller that changes its
    table does not change the next caller's, and other arguments give their own table."""
    panel = make_panel(
        tmp_path,
        [
            row("aa", "H1 2025", "retail_operating_income", 110.0),
            row("aa", "H1 2024", "retail_operating_income", 100.0),
            row("bb", "H1 2025", "retail_operating_income", 90.0),
            row("bb", "H1 2024", "retail_operating_income", 100.0),
        ],
    )
    first = metrics.yoy_table(panel, "H1 2025", "retail_operating_income")
    first.loc[:, "value"] = 99.0
    again = metrics.yoy_table(panel, "H1 2025", "retail_operating_income")
    assert again["value"].round(4).tolist() == [0.1, -0.1]
    assert metrics.yoy_table(panel, "H1 2025", "retail_operating_income", ["bb"])[
        "bank_id"
    ].tolist() == ["bb"]
    assert metrics.yoy_table(panel, "H1 2025", "retail_operating_income", banks=("aa",))[
        "bank_id"
    ].tolist() == ["aa"]
    groups = {"income": ("retail_operating_income",)}  # a dict: computed, not kept
    assert len(metrics.coverage(panel, ["H1 2025"], groups)) == 2
    assert select(panel, "aa", "H1 2025", "retail_operating_income") is select(
        panel, "aa", "H1 2025", "retail_operating_income"
    )
