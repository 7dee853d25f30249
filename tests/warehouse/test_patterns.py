"""The id patterns of wb.warehouse.patterns: a plain id (the check Spark runs before its regexes)
matches neither pattern, and Spark's verdict with that check is DuckDB's without it."""

from __future__ import annotations

import random

import ibis
import pyarrow as pa
import pytest
from helpers import local_spark

from wb.warehouse import patterns

#: Ids near the edge of the plain check: every personal spelling, defects, digit runs of 10
#: and 11, ``wxid_`` inside other ids, separators that plain ids lack.
EDGE = [
    "13812345678", "1381234567", "C_13812345678", "C_1381234567", "x13812345678", "13812345678_",
    "8613812345678", "+8613812345678", "138-1234-5678", "138 1234 5678", "１３８１２３４５６７８",
    "110101199003071234", "11010119900307123X", "11010119900307123x", "110101900307123",
    "010-12345678", "(0755)1234567", "0755 123 4567", "85251234567", "+852 5123 4567",
    "wxid_abcd1234", "uid:wxid_abcd1234", "x_wxid_abcd1234", "wxid_ab", "WXID_abcd1234",
    "a@b.cn", "zhang.san@example.com", "C0000_0000000", "wm0000_000000001", "RM00042",
    "C000000000000001", "a13812345678b0c", " R1", "R1 ", "R 1", "R1\u200b", "王R1", "R1\x00",
    "\u3000R1", "R1\t", "R1\n", "", "_", "0", "12345678901", "1234567890",
]  # fmt: skip


def _values(n: int = 30_000, seed: int = 3) -> list[str]:
    """``EDGE`` and random ids from pieces that make plain ids, phone numbers and defects."""
    rng = random.Random(seed)
    pieces = ["a", "Z", "_", "0", "1", "3", "8", "9", "138", "1234", "5678", "86", "852", "wxid_"]
    pieces += ["-", ".", " ", "+", "(", ")", "@", "x.cn", "X", "１", "\u200b", "王", ":"]
    return EDGE + ["".join(rng.choices(pieces, k=rng.randint(1, 12))) for _ in range(n)]


def _verdicts(table: ibis.Table) -> pa.Table:
    x = table.x
    return table.select(
        "x",
        plain=patterns.plain_id(x),
        personal_re=x.re_search(patterns.PERSONAL_PATTERN),
        defect_re=x.re_search(patterns.ID_DEFECT_PATTERN),
        personal=patterns.looks_personal(x),
        defect=patterns.bad_id_characters(x),
    ).to_pyarrow()


def test_no_pattern_matches_a_plain_id():
    """On every edge id and 30,000 random ones: a plain id matches neither regex (DuckDB's
    RE2), and the random ids hold plain ids, personal ones and defective ones."""
    con = ibis.duckdb.connect()
    rows = _verdicts(con.create_table("ids", pa.table({"x": _values()}))).to_pylist()
    con.disconnect()
    wrong = [r["x"] for r in rows if r["plain"] and (r["personal_re"] or r["defect_re"])]
    assert wrong == []
    assert sum(r["plain"] for r in rows) > 2_000
    assert sum(r["personal_re"] for r in rows) > 1_000
    assert sum(r["defect_re"] for r in rows) > 1_000
    by_id = {r["x"]: r for r in rows}
    for personal in ("C_13812345678", "13812345678", "x_wxid_abcd1234", "110101900307123"):
        assert not by_id[personal]["plain"] and by_id[personal]["personal_re"]
    for plain in ("C_1381234567", "C0000_0000000", "wm0000_000000001", "RM00042"):
        assert by_id[plain]["plain"] and not by_id[plain]["personal_re"]
    # the check is cautious: 11 digits bounded by a letter are no phone number, but searched
    assert not by_id["x13812345678"]["plain"] and not by_id["x13812345678"]["personal_re"]
    # DuckDB searches without the plain check: its verdicts are the regexes'
    assert all(r["personal"] == r["personal_re"] and r["defect"] == r["defect_re"] for r in rows)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_with_the_plain_check_says_what_duckdb_says(tmp_path):
    """Spark skips its regexes on plain ids; its verdicts equal DuckDB's regexes' on the same
    ids (and its plain check DuckDB's)."""
    values = pa.table({"x": _values(n=5_000)})
    duck = ibis.duckdb.connect()
    expected = _verdicts(duck.create_table("ids", values)).to_pylist()
    duck.disconnect()
    session = local_spark(tmp_path / "catalog")
    session.createDataFrame(values.to_pandas()).createOrReplaceTempView("wb_test_ids")
    found = _verdicts(ibis.pyspark.connect(session).table("wb_test_ids")).to_pylist()
    assert sorted(found, key=lambda r: r["x"]) == sorted(expected, key=lambda r: r["x"])
    assert sum(r["personal"] for r in found) > 100 and sum(r["plain"] for r in found) > 300
