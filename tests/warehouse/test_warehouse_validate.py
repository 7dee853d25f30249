"""Warehouse validation: every broken rule with table, column, count and example keys; personal
data refused or dropped, never echoed; pandera.ibis and the Ibis rule expressions agree; the
groupings' screens never hide a broken key."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest
from helpers import wb_in_process
from warehouse_cases import (
    EXPECTED,
    ID_NUMBER,
    PHONE,
    PHONE_86,
    TS,
    WXID,
    broken_tables,
    edge_tables,
    write_source,
)

from wb.door import privacy
from wb.warehouse import patterns, rules, tables, validate
from wb.warehouse.source import EngineOptions, WarehouseWarning, open_source


def problems_of(source, engine="duckdb"):
    src = open_source(source, EngineOptions(engine=engine))
    try:
        with pytest.raises(validate.WarehouseValidationError) as info:
            validate.validate(src)
    finally:
        src.close()
    return info.value


@pytest.fixture(scope="module")
def broken_source(tmp_path_factory):
    return write_source(tmp_path_factory.mktemp("bad") / "src", broken_tables())


def test_every_broken_rule_is_reported_with_its_count(broken_source):
    error = problems_of(broken_source)
    got = {(p.table, p.column, p.rule): p.rows for p in error.problems}
    assert got == EXPECTED
    assert error.exit_code == 2


def _pandera_passes(table, schema) -> bool:
    import pandera.errors

    try:
        schema.validate(table, lazy=True)
    except (pandera.errors.SchemaErrors, pandera.errors.SchemaError):
        return False
    return True


def test_pandera_schema_agrees_with_the_ibis_rules(broken_source, tmp_path):
    """The pandera.ibis schemas declare rules the build counts as Ibis expressions: they fail
    on the broken tables and pass on clean ones."""
    src = open_source(broken_source)
    table = tables.complete(src.tables["customer_month"], "customer_month")
    schema, covered = rules.pandera_schema("customer_month", table.schema())
    assert "customer_month.aum_cny.ge_0" in covered
    assert not _pandera_passes(table, schema)
    src.close()
    clean = open_source(write_source(tmp_path / "ok", edge_tables()))
    for name in tables.TABLES:
        table = tables.complete(clean.tables[name], name)
        schema, _ = rules.pandera_schema(name, table.schema())
        assert _pandera_passes(table, schema), name
    clean.close()


def test_screens_only_skip_clean_groups(broken_source, monkeypatch):
    """With every screen forced open the exact group-bys run on all rows: same problems."""
    screened = problems_of(broken_source).problems
    opened = tuple(
        dataclasses.replace(r, screen=(r.screen[0], lambda g: g.n_rows >= 0)) if r.screen else r
        for r in rules.RULES
    )
    monkeypatch.setattr(rules, "RULES", opened)
    assert problems_of(broken_source).problems == screened


def test_keys_screen_is_exact_beyond_its_bit_set(tmp_path):
    """A customer with more months than the bit set holds, months that share a bit, a
    contact re-added by the same RM later, duplicates under a null id or of a month that is
    not a number: none is taken for a repeated key, and a real repeat is still counted."""
    t = edge_tables()
    cm = t["customer_month"]
    long = pd.DataFrame(
        {
            "customer_id": "C_LONG",
            "month": [f"{2010 + i // 12}-{i % 12 + 1:02d}" for i in range(tables.MONTH_BITS + 4)],
            "rm_id": None,
            "branch_id": None,
            "aum_cny": 1.0,
        }
    )
    # C_GAP's two months are MONTH_BITS months apart: the same bit
    gap = long.iloc[[0, tables.MONTH_BITS]].assign(customer_id="C_GAP")
    t["customer_month"] = pd.concat([cm, long, gap], ignore_index=True)
    wc = t["wecom_contact"]
    again = wc.iloc[[0]].assign(
        added_at=wc.added_at.iloc[0] + pd.Timedelta(days=40),
        customer_id=None,
        certified_at=pd.NaT,
        removed_at=pd.NaT,
    )
    # microseconds, as the other tables (a NaT makes pandas fall back to nanoseconds)
    times = dict.fromkeys(["added_at", "certified_at", "removed_at"], TS)
    t["wecom_contact"] = pd.concat([wc, again], ignore_index=True).astype(times)
    src = open_source(write_source(tmp_path / "ok", t))
    validate.validate(src)
    src.close()
    t["customer_month"] = pd.concat(
        [
            t["customer_month"],
            long.iloc[[3]],
            cm.iloc[[0, 0]].assign(customer_id=None),
            cm.iloc[[0, 0]].assign(customer_id="C_TXT", month="2024-ab"),  # month without index
        ],
        ignore_index=True,
    )
    error = problems_of(write_source(tmp_path / "bad", t))
    keys = [p for p in error.problems if p.rule == "unique_key"]
    assert [(p.table, p.rows) for p in keys] == [("customer_month", 6)]


def test_contacts_grouping_counts_distinct_rms_of_repeated_contacts(tmp_path):
    """The contacts grouping holds the contacts added more than once, each with its distinct
    RMs: repeated RMs, null RMs and a null contact id included; a contact added once cannot
    repeat a key or be shared and is left out."""
    import ibis

    rows = [
        ("A", "R1"), ("B", "R1"), ("B", "R1"), ("C", "R1"), ("C", "R2"),
        ("D", "R1"), ("D", "R1"), ("D", "R2"), ("E", "R3"), ("E", "R1"), ("E", "R2"),
        ("F", "R2"), ("F", "R1"), ("F", "R3"), ("F", "R1"), ("G", None), ("G", None),
        ("H", None), ("H", "R1"), ("H", "R1"), (None, "R1"), (None, "R2"), (None, "R3"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["contact_id", "rm_id"])
    frame.to_parquet(tmp_path / "wc.parquet")
    table = ibis.duckdb.connect().read_parquet(tmp_path / "wc.parquet")
    contacts = next(g for g in tables.GROUPINGS["wecom_contact"] if g.name == "contacts")
    grouping = contacts.of(table).to_pandas()
    got = {
        (c, n, r)
        for c, n, r in zip(
            grouping.contact_id.fillna("null"), grouping.n_rows, grouping.n_rms, strict=True
        )
    }
    by_contact = frame.fillna({"contact_id": "null"}).groupby("contact_id").rm_id
    sizes, distinct = by_contact.size(), by_contact.nunique()
    assert got == {(c, sizes[c], distinct[c]) for c in sizes.index if sizes[c] > 1}


def test_examples_are_keys_at_most_five_and_never_personal(broken_source):
    error = problems_of(broken_source)
    text = str(error)
    for value in (PHONE, PHONE_86, ID_NUMBER, WXID, "13912345678"):
        assert value not in text
    assert not privacy.VALUE_PATTERN.search(text)
    by_rule = {(p.table, p.column, p.rule): p for p in error.problems}
    dup = by_rule[("customer_month", "customer_id, month", "unique_key")]
    assert dup.examples == ("customer_id=C1, month=2024-01", "customer_id=C1, month=2024-02")
    contact = by_rule[("wecom_contact", "contact_id", "no_personal_data")]
    assert all("contact_id" not in e for e in contact.examples)
    assert contact.examples == (
        "rm_id=R1, added_at=2024-01-10 09:00:00",
        "rm_id=R1, added_at=2024-01-15 12:00:00",
    )
    # the phone-number customer id breaks no other rule that would show it as a key
    assert all(len(p.examples) <= 5 for p in error.problems)


def test_cli_exit_2_names_each_rule_and_writes_nothing(broken_source, tmp_path):
    out = tmp_path / "b"
    result = wb_in_process("warehouse", "build", "--source", str(broken_source), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert "Traceback" not in result.stderr
    for table, column, rule in EXPECTED:
        assert re.search(rf"{table}: column {re.escape(column)}: rule {rule}: \d", result.stderr)
    both = result.stdout + result.stderr
    for value in (PHONE, PHONE_86, ID_NUMBER, WXID):
        assert value not in both


def test_validate_cli_one_line_per_table(tmp_path):
    src = write_source(tmp_path / "src", edge_tables())
    result = wb_in_process("warehouse", "validate", "--source", str(src))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["customer_month", "wecom_contact", "quota"]
    assert "16 rows" in lines[0]


def test_personal_columns_are_dropped_with_a_warning(tmp_path):
    t = edge_tables()
    t["customer_month"]["客户姓名"] = "张三"
    t["wecom_contact"]["phone"] = PHONE
    t["quota"]["remark"] = "ok"
    src = write_source(tmp_path / "src", t)
    with pytest.warns(WarehouseWarning) as caught:
        opened = open_source(src)
    messages = [str(w.message) for w in caught]
    # a Chinese header could itself be a name: wb.door.privacy never echoes it
    assert any(
        "'<not shown: may be personal data>' looks like personal data" in m for m in messages
    )
    assert all("客户姓名" not in m for m in messages)
    assert any("'phone' looks like personal data" in m for m in messages)
    assert any("unknown column 'remark' ignored" in m for m in messages)
    assert all(PHONE not in m and "张三" not in m for m in messages)
    assert "phone" not in opened.tables["wecom_contact"].columns
    # recorded (build.json) as shown: a dropped column's name may itself be personal data
    assert opened.dropped["customer_month"] == [privacy.REDACTED]
    assert opened.dropped["wecom_contact"] == ["phone"]
    opened.close()


def test_wrong_types_and_missing_columns(tmp_path):
    t = edge_tables()
    t["customer_month"]["aum_cny"] = t["customer_month"]["aum_cny"].astype(str)
    t["wecom_contact"] = t["wecom_contact"].drop(columns="added_at")
    t["quota"] = t["quota"].drop(columns=["branch_id", "rm_id"])
    error = problems_of(write_source(tmp_path / "src", t))
    got = {(p.table, p.column, p.rule) for p in error.problems}
    assert got == {
        ("customer_month", "aum_cny", "type"),
        ("wecom_contact", "added_at", "required"),
        ("quota", "branch_id, rm_id", "required"),
    }


def test_month_as_a_date_and_quota_with_branch_level_only(tmp_path):
    t = edge_tables()
    t["customer_month"]["month"] = pd.to_datetime(t["customer_month"]["month"] + "-01").dt.date
    t["quota"] = t["quota"][t["quota"]["rm_id"].isna()].drop(columns="rm_id")
    src = open_source(write_source(tmp_path / "src", t))
    report = validate.validate(src)
    assert report.rows["quota"] == 3
    src.close()
    t["customer_month"].loc[0, "month"] = pd.Timestamp("2024-01-15").date()
    error = problems_of(write_source(tmp_path / "src2", t))
    assert [(p.table, p.rule, p.rows) for p in error.problems] == [
        ("customer_month", "month_format", 1)
    ]


@pytest.mark.parametrize(
    "value, personal",
    [
        (PHONE, True),
        (PHONE_86, True),
        ("tel:13812345678", True),
        ("138-1234-5678", True),
        ("138 1234 5678", True),
        ("+86 138 1234 5678", True),
        ("wx-138-1234-5678", True),
        (ID_NUMBER, True),
        ("11010119900307123X", True),
        (WXID, True),
        ("zhang.san@example.com", True),
        ("wmAbC123", False),
        ("C0001_0000042", False),
        ("a13812345678b0c", False),  # hex digits of a hash, bounded by letters
        ("RM00042", False),
        # spellings an earlier pattern missed
        ("１３８１２３４５６７８", True),
        ("138.1234.5678", True),
        ("110101900307123", True),
        ("010-12345678", True),
        ("(0755)1234567", True),
        ("+852 5123 4567", True),
        ("uid:wxid_abcd1234", True),
        ("x_wxid_abcd1234", True),
        ("C000000000000001", False),
    ],
)
def test_engine_pattern_matches_privacy_recogniser(tmp_path, value, personal):
    """The in-engine regex (RE2 on DuckDB, Java on Spark) says what wb.privacy says, except
    that digits inside an alphanumeric hash are not a phone number."""
    # Python's \d is the engines' \p{Nd}: a digit of any script
    assert bool(re.search(patterns.PERSONAL_PATTERN.replace(r"\p{Nd}", r"\d"), value)) is personal
    if personal:
        assert privacy.VALUE_PATTERN.search(value)
    import ibis

    con = ibis.duckdb.connect()
    expr = patterns.looks_personal(ibis.literal(value))
    assert bool(con.execute(expr)) is personal
    con.disconnect()


def test_engine_pattern_finds_emails_where_the_full_local_part_does():
    """Searching for an e-mail's last local character instead of the whole local part finds
    a match in exactly the same ids (random ids over the characters that matter)."""
    import random

    ported = patterns.PERSONAL_PATTERN.replace(r"\p{Nd}", r"\d")
    email = privacy.VALUE_PATTERN.pattern.rsplit("|", 1)[1]  # wb.privacy's, local part whole
    assert "+@" in email
    full = re.compile(ported.rsplit("|", 1)[0] + "|" + email)
    ported = re.compile(ported)
    rng = random.Random(7)
    pieces = ["a", "Z", "9", "_", ".", "%", "+", "-", "@", ".cn", " ", ":", "@b"]
    values = ["a@b.cn", "@b.cn", "x.@host.org", "-@a.bc", " @a.bc", "a@b.c", "me@@x.cn"]
    values += ["".join(rng.choices(pieces, k=rng.randint(1, 10))) for _ in range(20_000)]
    found = [bool(ported.search(v)) for v in values]
    assert found == [bool(full.search(v)) for v in values]
    assert sum(found) > 500  # the random ids hold e-mails


def judged_ids_tables() -> dict[str, pd.DataFrame]:
    """The broken tables with contacts certified to customer ids that ``customer_month`` also
    holds, a phone (two contacts) and one with a zero-width space (one contact), beside the
    ID number no customer has."""
    t = broken_tables()
    cm, wc = t["customer_month"], t["wecom_contact"]
    cm.loc[9, "customer_id"] = "C\u200b9"
    for row, cid in ((8, PHONE), (9, PHONE), (10, "C\u200b9")):
        wc.loc[row, "customer_id"] = cid
        wc.loc[row, "certified_at"] = wc.loc[row, "added_at"]
    return t


def judged_id_counts(problems) -> dict[tuple[str, str, str], int]:
    return {
        (p.table, p.column, p.rule): p.rows
        for p in problems.problems
        if p.column == "customer_id" and p.rule in {"no_personal_data", "id_characters"}
    }


#: Rows breaking the customer_id rules in :func:`judged_ids_tables`: each table's own rows,
#: whether the id was judged once per customer (the contacts' known customers) or per row.
JUDGED_EXPECTED = {
    ("customer_month", "customer_id", "no_personal_data"): 1,
    ("customer_month", "customer_id", "id_characters"): 1,
    ("wecom_contact", "customer_id", "no_personal_data"): 3,
    ("wecom_contact", "customer_id", "id_characters"): 1,
}


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_a_contacts_customer_id_judged_once_per_customer_counts_every_row(engine, tmp_path):
    """A contact's customer_id that customer_month holds takes the verdict of the
    ``customers`` grouping (its id searched once per customer) instead of a search per add;
    every contact row with a broken id is still counted, known customer or not."""
    if engine == "spark":
        from helpers import local_spark

        local_spark(tmp_path / "spark-warehouse")
    src = write_source(tmp_path / "src", judged_ids_tables())
    assert judged_id_counts(problems_of(src, engine)) == JUDGED_EXPECTED
