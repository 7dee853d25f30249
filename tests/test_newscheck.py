"""wb.banks.newscheck: the seed-002 article's claims against the panel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_metrics import SOURCES, make_panel, row

from wb.banks import newscheck
from wb.banks.panel import Panel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def verdicts() -> pd.DataFrame:
    return newscheck.check(Panel.load(ROOT / "data" / "bank_panel.csv")).tidy().set_index("key")


def test_every_claim_gets_a_verdict(verdicts: pd.DataFrame) -> None:
    assert len(verdicts) == len(newscheck.CLAIMS)
    assert set(verdicts["verdict"]) <= {"agrees", "contradicts", "no data"}


def test_double_digit_revenue_falls(verdicts: pd.DataFrame) -> None:
    assert verdicts.loc["revenue_double_digit_fall_pab", "verdict"] == "agrees"
    assert verdicts.loc["revenue_double_digit_fall_ceb", "verdict"] == "agrees"
    assert verdicts.loc["revenue_double_digit_fall_ceb", "figures"] == "-10.59%"
    assert verdicts.loc["revenue_double_digit_fall_czb", "verdict"] == "no data"


def test_low_base_claims(verdicts: pd.DataFrame) -> None:
    citic = verdicts.loc["low_base_citic"]
    assert (citic["verdict"], citic["method"]) == ("agrees", "derived")  # 112.38亿 → 26.74亿
    icbc = verdicts.loc["low_base_icbc"]
    # only the article itself says so: not evidence
    assert icbc["verdict"] == "no data"
    assert "article's own pages" in icbc["note"] and "≤-30.00%" in icbc["note"]


def test_profit_claims_without_prior_year_are_no_data(verdicts: pd.DataFrame) -> None:
    pab = verdicts.loc["profit_lower_pab"]  # PAB's pre-tax H1 2025 level has no H1 2024 twin
    assert pab["verdict"] == "no data"
    assert "no H1 2024 figure" in pab["figures"]
    # revision 2 quotes CCB's fall (-19.61%) and a direction from another outlet
    assert verdicts.loc["profit_lower_ccb", "verdict"] == "agrees"
    # the only word on CZB's loss is the article's own re-post: not evidence
    assert verdicts.loc["profit_loss_czb", "verdict"] == "no data"


def test_article_pages_are_not_evidence_and_contradiction_is_found(tmp_path: Path) -> None:
    sources = pd.concat(
        [
            SOURCES,
            pd.DataFrame(
                {
                    "source_id": ["s_article"],
                    "title": ["mirror"],
                    "publisher": ["每日经济新闻"],
                    "date": ["2025-12-31"],
                    "url": [f"http://{newscheck.ARTICLE_URLS[0]}.html"],
                }
            ),
        ]
    )
    panel = make_panel(
        tmp_path,
        [
            row("pab", "H1 2025", "retail_operating_income_yoy", -0.2049, source_id="s_article"),
            row("ceb", "H1 2025", "retail_operating_income", 110e8),
            row("ceb", "H1 2024", "retail_operating_income", 100e8),
        ],
        sources,
    )
    table = newscheck.check(panel).tidy().set_index("key")
    assert table.loc["revenue_double_digit_fall_pab", "verdict"] == "no data"
    ceb = table.loc["revenue_double_digit_fall_ceb"]
    assert (ceb["verdict"], ceb["method"], ceb["figures"]) == ("contradicts", "derived", "+10.00%")


def test_every_verdict_states_its_evidence_and_origin(verdicts: pd.DataFrame) -> None:
    # PSBC's -7.78% is only in the summary; the one independent figure is a low-confidence page
    psbc = verdicts.loc["revenue_figure_psbc"]
    assert psbc["origin"] == newscheck.SUMMARY
    assert psbc["strength"] == "weak: one low-confidence source"
    assert verdicts.loc["profit_up_icbc", "strength"].endswith("unverified")
    assert verdicts.loc["revenue_double_digit_fall_czb", "origin"] == newscheck.ARTICLE_TEXT
    no_data = verdicts[verdicts["verdict"] == "no data"]
    assert (no_data["strength"] == "no independent evidence").all()
    assert verdicts.loc["revenue_double_digit_fall_ceb", "figures"] == "-10.59%"


def test_the_two_general_claims_are_checked(verdicts: pd.DataFrame) -> None:
    shares = verdicts.loc["shares_fell_large_and_joint_stock"]
    assert shares["verdict"] in {"agrees", "contradicts"}
    assert "shares fell" in shares["figures"]
    low = verdicts.loc["profit_share_low_icbc"]
    assert low["verdict"] == "no data" and "too few" in low["figures"]


def test_direction_only_rows_bear_on_sign_claims_only(tmp_path: Path) -> None:
    panel = make_panel(
        tmp_path,
        [
            row("ccb", "H1 2025", "retail_profit_yoy", float("nan"), direction="down"),
            row("abc", "H1 2025", "retail_profit_yoy", float("nan"), direction="up"),
            row("pab", "H1 2025", "retail_operating_income_yoy", float("nan"), direction="down"),
        ],
    )
    table = newscheck.check(panel).tidy().set_index("key")
    ccb = table.loc["profit_lower_ccb"]
    assert (ccb["verdict"], ccb["method"]) == ("agrees", "direction")
    assert ccb["strength"] == "weak: direction only, no figure"
    assert table.loc["profit_lower_abc", "verdict"] == "contradicts"
    # "down" says nothing about a double-digit fall
    assert table.loc["revenue_double_digit_fall_pab", "verdict"] == "no data"


def test_results_read_as_tables_and_strict_json() -> None:
    """Findings and the news check are frozen objects: tidy, summary, HTML, strict JSON."""
    import json

    from wb.banks import comparison

    panel = Panel.load(ROOT / "data" / "bank_panel.csv")
    news = newscheck.check(panel)
    assert "claims:" in news.summary() and "<table>" in news._repr_html_()
    json.dumps(news.to_json(), allow_nan=False)
    found = comparison.findings(panel, "H1 2025", ["H1 2025"])
    assert found["retail_income"].key == "retail_income"
    with pytest.raises(KeyError, match="there are: retail_income"):
        found["income"]
    tidy = found.tidy()
    assert {"key", "bank_id", "value", "source_ids"} <= set(tidy.columns)
    assert "<li>" in found._repr_html_() and found["trend"]._repr_html_().count("<tr>") > 1


def test_headlines_read_well_for_one_bank():
    """One bank is not "0 of 1 banks" nor "1 of 1 banks": the sentence says what it did."""
    from wb.banks import comparison
    from wb.banks.panel import Panel

    panel = Panel.load(Path(__file__).parents[1] / "data" / "bank_panel.csv")
    found = comparison.findings(panel, "H1 2025", ["FY2024", "H1 2025"], ["cmb"])
    for key in ("retail_income", "trend"):
        assert " of 1 banks" not in found[key].en, found[key].en
    assert found["retail_income"].en.startswith("Only 招商 has retail operating income YoY")
    assert "rose" in found["retail_income"].en
