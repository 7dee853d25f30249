"""wb.banks.newscheck: the seed-002 article's claims against the panel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_metrics import SOURCES, make_panel, row

from wb.banks import newscheck
from wb.banks.metrics import Panel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def verdicts() -> pd.DataFrame:
    return newscheck.check(Panel.load(ROOT / "data" / "bank_panel.csv")).set_index("key")


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
    ccb = verdicts.loc["profit_lower_ccb"]
    assert ccb["verdict"] == "no data"
    assert "no H1 2024 figure" in ccb["figures"]
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
    table = newscheck.check(panel).set_index("key")
    assert table.loc["revenue_double_digit_fall_pab", "verdict"] == "no data"
    ceb = table.loc["revenue_double_digit_fall_ceb"]
    assert (ceb["verdict"], ceb["method"], ceb["figures"]) == ("contradicts", "derived", "+10.00%")
