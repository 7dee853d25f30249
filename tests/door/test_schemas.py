"""Every schema rule has a failing input whose message names the row, the column and what was expected."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from wb.door import io
from wb.door.problems import ValidationError, format_rows

GOOD = {
    "rm_id": "RM001",
    "branch_id": "BR01",
    "month": "2025-01",
    "wecom_adds": "12",
    "wecom_certified_adds": "10",
    "quota_target": "50",
    "aum_cny": "80000000",
}


def _csv(tmp_path, rows: list[dict], name: str = "x.csv") -> str:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def _rows(n: int) -> list[dict]:
    return [dict(GOOD, rm_id=f"RM{i:03d}") for i in range(n)]


def _problems(path: str) -> list[str]:
    with pytest.raises(ValidationError) as err:
        io.load(path)
    return [str(p) for p in err.value.problems]


CASES = [
    # (column, bad value, expected text, spreadsheet row of the bad value)
    ("wecom_adds", "-3", "a value >= 0", 3),
    ("wecom_adds", "3.5", "a whole number", 3),
    ("wecom_adds", "abc", "an integer", 3),
    ("wecom_adds", "", "required", 3),
    ("quota_target", "-50", "a value >= 0", 3),
    ("quota_target", "50.5", "a whole number", 3),
    ("aum_cny", "-1", "a value >= 0", 3),
    ("aum_cny", "lots", "a number", 3),
    ("month", "2025-13", "YYYY-MM", 3),
    ("month", "2025/01", "YYYY-MM", 3),
    ("month", "", "required", 3),
    ("rm_id", "", "required", 3),
    ("branch_id", "", "required", 3),
    ("rm_id", "13812345678", "pseudonymous id", 3),
    ("customers", "-2", "a value >= 0", 3),
]


@pytest.mark.parametrize(("column", "value", "expected", "row"), CASES)
def test_each_rule_names_row_column_and_expectation(tmp_path, column, value, expected, row):
    rows = _rows(3)
    rows[row - 2][column] = value
    problems = _problems(_csv(tmp_path, rows))
    assert len(problems) == 1, problems
    text = problems[0]
    assert f"'{column}'" in text
    assert f"row {row}" in text
    assert expected in text
    assert text.startswith("rm_month ") and "x.csv" not in text  # a neutral label, not the name


def test_certified_above_adds_names_both_columns(tmp_path):
    rows = _rows(3)
    rows[2]["wecom_certified_adds"] = "13"
    (text,) = _problems(_csv(tmp_path, rows))
    assert "'wecom_certified_adds', 'wecom_adds'" in text
    assert "row 4" in text and "<= wecom_adds" in text


def test_duplicate_key_names_both_rows(tmp_path):
    rows = _rows(3)
    rows[2]["rm_id"] = rows[0]["rm_id"]
    (text,) = _problems(_csv(tmp_path, rows))
    assert "rows 2, 4" in text and "one row per (rm_id, month)" in text


def test_missing_required_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "aum_cny"} for r in _rows(2)]
    (text,) = _problems(_csv(tmp_path, rows))
    assert "'aum_cny'" in text and "no such column" in text


def test_all_problems_found_in_one_pass(tmp_path):
    rows = _rows(5)
    rows[0]["wecom_adds"] = "-1"
    rows[1]["wecom_certified_adds"] = "99"
    rows[3]["rm_id"] = rows[2]["rm_id"]
    rows[4]["month"] = "2025-1"
    problems = _problems(_csv(tmp_path, rows))
    assert len(problems) == 4


def test_many_rows_are_summarised(tmp_path):
    rows = _rows(40)
    for r in rows:
        r["wecom_adds"] = "-1"
    (text,) = _problems(_csv(tmp_path, rows))
    assert "rows 2, 3, 4, 5, 6 and 35 more (40 rows)" in text
    assert len(re.findall(r"\d+", text)) < 20


def test_format_rows():
    assert format_rows([5]) == "row 5"
    assert format_rows([9, 5]) == "rows 5, 9"
    assert format_rows(range(2, 1241)) == "rows 2, 3, 4, 5, 6 and 1,234 more (1,239 rows)"


def test_valid_file_types_columns(tmp_path):
    loaded = io.load(_csv(tmp_path, _rows(3)))
    frame = loaded.frame
    assert loaded.schema == "rm_month"
    assert str(frame["wecom_adds"].dtype) == "int64"
    assert frame["aum_cny"].dtype == "float64"
    assert list(frame["rm_id"]) == ["RM000", "RM001", "RM002"]


def test_leading_zero_ids_stay_text(tmp_path):
    rows = _rows(2)
    rows[0]["rm_id"], rows[1]["rm_id"] = "001", "002"
    frame = io.load(_csv(tmp_path, rows)).frame
    assert list(frame["rm_id"]) == ["001", "002"]


# ---------------------------------------------------------------- bank_panel

PANEL = {
    "bank_id": "ccb",
    "period": "H1 2025",
    "metric": "retail_profit_share",
    "value": "0.5674",
    "qualifier": "exact",
    "source_id": "s1",
    "quote": "个人银行业务利润占比56.74%",
}
SOURCES = {"source_id": "s1", "title": "t", "publisher": "p", "date": "2025-08-30", "url": "u"}


def _panel(tmp_path, rows, sources=(SOURCES,)) -> str:
    pd.DataFrame(list(sources)).to_csv(tmp_path / "sources.csv", index=False)
    return _csv(tmp_path, rows, "bank_panel.csv")


def test_bank_panel_valid(tmp_path):
    loaded = io.load(_panel(tmp_path, [PANEL]))
    assert loaded.schema == "bank_panel"
    assert "1 banks" in loaded.summary() and "1 sources" in loaded.summary()


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("quote", "", "required"),
        ("quote", "   ", "the passage of the source"),
        ("value", "56.74", "a fraction between -1 and 1"),
        ("qualifier", "roughly", "one of exact, over, about, under"),
        ("period", "2025H1", "a period"),
        ("bank_id", "CCB", "lower-case id"),
        ("source_id", "s9", "an id listed in sources.csv"),
    ],
)
def test_bank_panel_rules(tmp_path, column, value, expected):
    rows = [PANEL, dict(PANEL, **{column: value})]
    with pytest.raises(ValidationError) as err:
        io.load(_panel(tmp_path, rows))
    (text,) = [str(p) for p in err.value.problems]
    assert f"'{column}'" in text and "row 3" in text and expected in text


def test_yoy_written_as_percent_fails(tmp_path):
    rows = [dict(PANEL, metric="retail_operating_income_yoy", value="-20.49")]
    with pytest.raises(ValidationError, match="looks like a percent"):
        io.load(_panel(tmp_path, rows))


def test_bank_panel_needs_sources_table(tmp_path):
    path = _csv(tmp_path, [PANEL], "bank_panel.csv")
    with pytest.raises(Exception, match=r"sources\.csv"):
        io.load(path)


def test_schema_inferred_or_refused(tmp_path):
    path = _csv(tmp_path, [{"a": 1, "b": 2}])
    with pytest.raises(Exception, match="cannot tell the schema"):
        io.load(path)


def test_two_columns_breaking_rules_with_the_same_wording_are_two_problems(tmp_path):
    """A negative customers value and a negative adds value in other rows: each problem names
    its own column and rows (the rules share the words 'a value >= 0', not the column)."""
    rows = _rows(4)
    rows[0]["wecom_adds"] = "-1"
    rows[2]["customers"] = "-5"
    problems = sorted(_problems(_csv(tmp_path, rows)))
    assert len(problems) == 2, problems
    customers, adds = (
        (p for p in problems if "'customers'" in p),
        (p for p in problems if "'wecom_adds'" in p),
    )
    assert "row 4" in next(customers) and "row 2" in next(adds)
