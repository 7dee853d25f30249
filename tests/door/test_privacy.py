"""Personal data put into an input never shows up in any output, message or warning."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import wb_in_process

from wb.door import privacy

CANARIES = {
    "客户姓名": "张三丰",
    "手机号": "13987654321",
    "id_number": "110101199003071234",
    "wechat": "wxid_canary0001",
    "remark": "回访 13912345678",  # a phone hidden in a free-text column with a harmless name
}


@pytest.mark.parametrize(
    ("name", "personal"),
    [
        ("客户姓名", True),
        ("手机", True),
        ("customer_name", True),
        ("Phone Number", True),
        ("id_no", True),
        ("WeChat ID", True),
        ("微信号", True),
        ("email", True),
        ("rm_id", False),
        ("branch_id", False),
        ("wecom_adds", False),
        ("aum_cny", False),
        ("customers", False),
        ("month", False),
        ("quota_target", False),
        ("retail_aum", False),
    ],
)
def test_column_names(name, personal):
    assert privacy.name_suggests_personal_data(name) is personal


@pytest.mark.parametrize(
    ("value", "personal"),
    [
        ("13812345678", True),
        ("+86 13812345678", True),
        ("138-1234-5678", True),
        ("138 1234 5678", True),
        ("+86 138 1234 5678", True),
        ("+86-138-1234-5678", True),
        ("11010119900307123X", True),
        ("wxid_abc12345", True),
        ("a.b@example.com", True),
        ("RM00012", False),
        ("BR0001", False),
        ("2025-01", False),
        ("80000000", False),
        ("95588", False),
    ],
)
def test_value_patterns(value, personal):
    assert privacy.values_look_personal(pd.Series([value])) is personal
    assert (privacy.redact(value) == privacy.REDACTED) is personal


@pytest.mark.parametrize("valid", [True, False])
def test_canary_never_leaves_the_door(tmp_path, small_export, valid):
    frame = small_export.head(40).copy()
    for column, value in CANARIES.items():
        frame[column] = value
    if not valid:
        frame.loc[3, "wecom_adds"] = -1
    path = tmp_path / "pii.csv"
    frame.to_csv(path, index=False)
    result = wb_in_process("validate", "--data", str(path))
    assert result.returncode == (0 if valid else 2), result.stderr
    text = result.stdout + result.stderr
    for value in CANARIES.values():
        assert value not in text
    assert "13912345678" not in text
    for column in CANARIES:  # each dropped column is named in a warning, Chinese ones by place
        assert (f"'{column}'" in text) is column.isascii()
    assert "(name not shown) looks like personal data" in text
    assert text.count("looks like personal data") == len(CANARIES)


def test_id_column_holding_phone_numbers_is_refused_without_echo(tmp_path, small_export):
    frame = small_export.head(10).copy()
    frame["rm_id"] = [f"1381234567{i}" for i in range(10)]
    path = tmp_path / "phones.csv"
    frame.to_csv(path, index=False)
    result = wb_in_process("validate", "--data", str(path))
    assert result.returncode == 2
    assert "pseudonymous id" in result.stderr
    assert "13812345670" not in result.stdout + result.stderr


def _tricky_values(n: int, seed: int) -> pd.Series:
    """Random ids from an alphabet of ASCII, full-width and Arabic-Indic digits, separators,
    'wxid_', '@', Chinese, controls and zero-width characters, plus values known to match."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pieces = [*"0123456789", "１３８", "٣٤٥", "-", " ", "+86", "wxid_", "@", "a.cn", "RM", "张",
              "\x00", "\t", "\n", "\u200b", "\ufeff", "\x7f", "X", "_"]  # fmt: skip
    known = ["13812345678", "+86 138-1234-5678", "１３８１２３４５６７８", "11010519900101123X",
             "a wxid_abcd", "x@y.cn", "RM\u200b01", "RM\x0001", "张三", "RM000123", "\ufeffB01"]  # fmt: skip
    drawn = ["".join(rng.choice(pieces, size=rng.integers(1, 16))) for _ in range(n)]
    return pd.Series(known + drawn, dtype=str)


def test_vectorised_screens_equal_the_plain_patterns():
    """The pre-filtered scans (wb.door.privacy.looks_personal, the validation's invisible-
    character screen) flag exactly what searching every value with the pattern flags."""
    from wb.door import column_types

    text = _tricky_values(5000, seed=7)
    personal = text.map(lambda v: privacy.VALUE_PATTERN.search(v) is not None).to_numpy()
    invisible = text.map(lambda v: privacy.INVISIBLE.search(v) is not None).to_numpy()
    assert personal[[0, 1, 3, 4, 5]].all() and invisible[6:8].all() and personal.sum() > 50
    assert (privacy.looks_personal(text) == personal).all()
    assert (column_types._invisible(text) == invisible).all()
