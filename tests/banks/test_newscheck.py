"""wb.banks.newscheck: the seed-002 article's claims against the panel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from bank_cases import SOURCES, make_panel, row

from wb.banks import claims, newscheck, origins
from wb.banks.panel import Panel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def verdicts() -> pd.DataFrame:
    return newscheck.check(Panel.load(ROOT / "data" / "bank_panel.csv")).tidy().set_index("key")


def test_every_claim_gets_a_verdict(verdicts: pd.DataFrame) -> None:
    assert len(verdicts) == len(claims.CLAIMS)
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


def test_a_claim_with_panel_evidence_is_never_no_data(verdicts: pd.DataFrame) -> None:
    # PAB's pre-tax H1 2025 level has no H1 2024 twin, but the panel (北京商报) has its segment
    # net profit YoY, -44.46%: evidence on the sign, labelled with its basis
    pab = verdicts.loc["profit_lower_pab"]
    assert (pab["verdict"], pab["method"]) == ("agrees", "quoted")
    assert pab["figures"] == "零售净利润 segment net profit, not pre-tax: -44.46%"
    assert pab["source_ids"] == ("src-20250903-5fd6",)
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
                    "url": [f"http://{claims.ARTICLE_URLS[0]}.html"],
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
    assert psbc["origin"] == claims.SUMMARY
    assert psbc["strength"] == "weak: one low-confidence origin (1 unnamed)"
    assert verdicts.loc["profit_up_icbc", "strength"].endswith("unverified")
    assert verdicts.loc["revenue_double_digit_fall_czb", "origin"] == claims.ARTICLE_TEXT
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
    assert ccb["strength"] == "weak: direction only, no figure (paper)"
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

    panel = Panel.load(Path(__file__).parents[2] / "data" / "bank_panel.csv")
    found = comparison.findings(panel, "H1 2025", ["FY2024", "H1 2025"], ["cmb"])
    for key in ("retail_income", "trend"):
        assert " of 1 banks" not in found[key].en, found[key].en
    assert found["retail_income"].en.startswith("Only 招商 has retail operating income YoY")
    assert "rose" in found["retail_income"].en


def test_sources_are_grouped_by_origin_not_page(verdicts: pd.DataFrame) -> None:
    """ABC: 洪偌馨's column and an AI summary of it are one origin; CITIC: 北京商报 gives a level
    and a change (one origin, not two) and a re-post and an AI summary of one unnamed article
    are one more; CEB: an AI summary and an anonymous page never make "strong"."""
    abc = verdicts.loc["profit_lower_abc"]
    assert abc["n_sources"] == 1 and abc["origins"] == "洪偌馨"
    assert abc["strength"] == "moderate: one medium-confidence origin (洪偌馨)"
    citic = verdicts.loc["profit_up_citic"]
    assert citic["n_sources"] == 2
    assert citic["strength"].startswith("moderate: 2 origins, none seen first-hand (北京商报; ")
    ceb = verdicts.loc["revenue_double_digit_fall_ceb"]
    assert ceb["n_sources"] == 2 and ceb["strength"].startswith("weak: 2 origins, only AI")
    assert not verdicts["strength"].str.startswith("strong").any()  # no claim has two first-hand


@pytest.mark.parametrize(
    ("publisher", "title", "key", "named", "summary"),
    [
        (
            "新浪财经 意见领袖专栏 (洪偌馨); re-post on slzrb.cn (洪偌馨、伊蕾, 09-03)",
            "t",
            "洪偌馨",
            True,
            False,
        ),
        ("reportify.ai English summary of 洪偌馨's column on 新浪财经", "t", "洪偌馨", True, True),
        ("界面新闻 (记者 曾令俊), re-posted on ichangjiang.com", "t", "曾令俊", True, False),
        ("北京商报 (via reportify.cn bullet summary)", "t", "北京商报", True, True),
        ("reportify.cn summary of 每日经济新闻", "t", "每日经济新闻", True, True),
        (
            "Bank of China Limited (own report text, document-mirror site)",
            "t",
            "own report",
            True,
            False,
        ),
        ("10100.com (author/publisher not shown; cites 同花顺 data)", "", "s1", False, False),
        (
            "证券之星 re-post (original outlet not named in excerpt)",
            "中信银行上半年零售业务税前利润翻倍 (原标题, re-posted by 证券之星)",
            "article 中信银行上半年零售业务税前利润翻倍",
            False,
            False,
        ),
        (
            "reportify.ai (English AI summary of a Chinese news article; original outlet not named)",
            "[English summary] CITIC (same content as 证券之星 re-post '中信银行上半年零售业务税前利润翻倍')",
            "article 中信银行上半年零售业务税前利润翻倍",
            False,
            True,
        ),
    ],
)
def test_origin_of_a_source(publisher, title, key, named, summary) -> None:
    origin = origins.origin_of("s1", publisher, title)
    assert (origin.key, origin.named, origin.summary) == (key, named, summary)


def _sources(*publishers: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source_id": [f"p{i}" for i in range(len(publishers))],
            "title": [f"title {i}" for i in range(len(publishers))],
            "publisher": list(publishers),
            "date": ["2025-09-01"] * len(publishers),
            "url": [f"https://p{i}" for i in range(len(publishers))],
        }
    )


@pytest.mark.parametrize(
    ("publishers", "n_origins", "grade"),
    [
        (
            ("新浪财经 (洪偌馨)", "网易号 (作者 洪偌馨)"),
            1,
            "moderate",
        ),  # one columnist, two outlets
        (("新浪财经 (洪偌馨)", "21世纪经济报道 (黄子潇)"), 2, "strong"),
        (("reportify.ai summary of 21世纪经济报道", "新浪财经 (洪偌馨)"), 2, "moderate"),
        (("reportify.ai (outlet not named)", "10100.com (author not shown)"), 2, "weak"),
    ],
)
def test_strength_counts_independent_named_origins(
    tmp_path: Path, publishers, n_origins, grade
) -> None:
    rows = [
        row("ceb", "H1 2025", "retail_operating_income_yoy", -0.1059, source_id=f"p{i}")
        for i in range(len(publishers))
    ]
    table = newscheck.check(make_panel(tmp_path, rows, _sources(*publishers))).tidy()
    ceb = table.set_index("key").loc["revenue_double_digit_fall_ceb"]
    assert ceb["verdict"] == "agrees" and ceb["n_sources"] == n_origins
    assert ceb["strength"].startswith(f"{grade}:"), ceb["strength"]


def test_one_source_giving_level_and_change_counts_once(tmp_path: Path) -> None:
    """CITIC's case: 北京商报 prints the H1 2025 level (the change derived from it) and the change."""
    sources = _sources("北京商报 (via reportify.cn)", "界面新闻 (记者 曾令俊)")
    rows = [
        row("citic", "H1 2025", "retail_profit", 56e8, source_id="p0"),
        row("citic", "H1 2025", "retail_profit_yoy", 1.0, qualifier="over", source_id="p0"),
        row("citic", "H1 2024", "retail_profit", 27e8, source_id="p1"),
    ]
    table = newscheck.check(make_panel(tmp_path, rows, sources)).tidy().set_index("key")
    citic = table.loc["profit_up_citic"]
    assert citic["n_sources"] == 1 and citic["origins"] == "北京商报"


def test_no_user_facing_text_points_at_files_the_reader_lacks(verdicts: pd.DataFrame) -> None:
    """The article is named (outlet, date, author, title), never as a path in the repository."""
    shown = ["claim", "origin", "verdict", "strength", "figures", "origins", "note"]
    text = " ".join(verdicts[shown].astype(str).to_numpy().ravel())
    assert "seeds/" not in text and ".csv" not in text
    assert (verdicts["article"] == claims.ARTICLE).all()
    assert "每日经济新闻 2025-12-31 (李玉雯)《" in claims.ARTICLE


def test_the_artifact_names_no_research_files_and_keeps_its_schema() -> None:
    """bank_comparison.json (what the brief prints) carries each finding's kind and each
    number's status, and no pointer to a research file (the sources' "seeds/002")."""
    import json

    from wb.banks import comparison

    panel = Panel.load(ROOT / "data" / "bank_panel.csv")
    found = comparison.findings(panel, "H1 2025", ["H1 2025"])
    artifact = comparison.comparison_artifact(panel, "H1 2025", found, newscheck.check(panel), [])
    comparison.DOCUMENT.check(artifact, comparison.ARTIFACT_NAME)
    assert "seeds/" not in json.dumps(artifact, ensure_ascii=False)
    kinds = {f["key"]: f["kind"] for f in artifact["findings"]}
    assert kinds["coverage"] == "coverage" and kinds["trend"] == "finding"
    statuses = {(n["bank_id"], n["status"]) for f in artifact["findings"] for n in f["numbers"]}
    assert ("czb", "unverified") in statuses
    assert comparison.without_file_references(
        "证券时报网 (via eastmoney; repost in seeds/000)"
    ) == ("证券时报网 (via eastmoney)")
