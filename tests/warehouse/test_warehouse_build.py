"""The warehouse build on DuckDB: equal to the pandas reference of the definitions
(docs/warehouse.md §4) on every edge case, atomic, and its panel feeds `wb validate` unchanged."""

from __future__ import annotations

import json
import shutil

import ibis
import pandas as pd
import pytest
from warehouse_cases import (
    assert_drop_table_and_release,
    assert_same_panel,
    edge_tables,
    reference_build,
    run,
    write_source,
)

from wb.door import io
from wb.errors import InputError, RunInterrupted
from wb.warehouse import build, simulate
from wb.warehouse.progress import Progress
from wb.warehouse.simulate import CustomerSimulationConfig

QUIET = Progress(8, quiet=True)


def test_duckdb_drops_tables_and_releases_cached_ones():
    con = ibis.duckdb.connect()
    assert_drop_table_and_release(con)
    con.disconnect()


@pytest.fixture(scope="module")
def edge_source(tmp_path_factory):
    tables = edge_tables()
    return write_source(tmp_path_factory.mktemp("edge") / "src", tables), tables


def test_edge_cases_equal_the_pandas_reference(edge_source, tmp_path):
    src, tables = edge_source
    got, record = run(src, tmp_path / "b")
    ref, orphan = reference_build(tables)
    assert_same_panel(got, ref)
    assert record["adds_not_placed"] == orphan


def test_edge_cases_by_hand(edge_source, tmp_path):
    src, _ = edge_source
    got, record = run(src, tmp_path / "b")
    row = got.set_index(["rm_id", "month"])
    # a customer who changes RM: C1 counts for R1 in Jan/Feb and for R2 in March
    assert row.loc[("R1", "2024-03"), "customers"] == 1
    assert row.loc[("R2", "2024-03"), "customers"] == 3  # C1, C3 and the late joiner C4
    assert row.loc[("R2", "2024-03"), "aum_cny"] == pytest.approx(120 + 60 + 7)
    # an RM who changes branch: R2 sits in B1 in February and B2 in March
    assert row.loc[("R2", "2024-02"), "branch_id"] == "B1"
    assert row.loc[("R2", "2024-03"), "branch_id"] == "B2"
    # an unassigned customer belongs to no RM
    assert got["aum_cny"].max() < 5000
    # certified exactly 30 days after the add counts; 30 days and a second, or 36 days, not
    assert row.loc[("R1", "2024-01"), "wecom_adds"] == 3
    assert row.loc[("R1", "2024-01"), "wecom_certified_adds"] == 1
    # a contact added by three RMs is shared; one added by two is not
    assert row.loc[("R1", "2024-02"), "adds_shared_3plus"] == 1
    assert row.loc[("R2", "2024-03"), "adds_shared_3plus"] == 0
    # last day of a leap February, and of a non-leap one; the 25th of a 28-day month is not
    assert row.loc[("R1", "2024-02"), "adds_last3days"] == 1  # 29th; the 26th is not
    assert row.loc[("R4", "2023-02"), "adds_last3days"] == 2  # 26th and 28th of 2023
    # RM-level quota overrides the branch's; no row means no quota
    assert row.loc[("R1", "2024-03"), "quota_target"] == 80
    assert row.loc[("R1", "2024-02"), "quota_target"] == 50
    assert row.loc[("R1", "2024-01"), "quota_target"] == 0
    assert row.loc[("R2", "2024-03"), "quota_target"] == 30  # its new branch's quota
    # existing customers: certified to a customer with an earlier month; a new one is not
    assert row.loc[("R2", "2024-03"), "adds_existing_customer"] == 1
    # removed within 30 / 90 days (90 days exactly counts, 90 days and a second not)
    assert row.loc[("R1", "2024-02"), "adds_removed_30d"] == 1
    assert row.loc[("R2", "2024-02"), "adds_removed_90d"] == 1
    assert row.loc[("R1", "2024-03"), "adds_removed_90d"] == 1
    assert row.loc[("R2", "2024-03"), "adds_removed_90d"] == 0
    # adds in an RM-month without customer rows are counted, not placed
    assert ("R3", "2024-01") not in row.index
    assert record["adds_not_placed"] == {"adds": 2, "rm_months": 1}
    # an all-null optional money column sums to null, not 0
    assert pd.isna(row.loc[("R1", "2024-03"), "net_new_money_cny"])


def test_months_window(edge_source, tmp_path):
    src, tables = edge_source
    got, record = run(src, tmp_path / "b", months="2024-02..2024-03")
    ref, orphan = reference_build(tables, "2024-02", "2024-03")
    assert_same_panel(got, ref)
    assert set(got["month"]) == {"2024-02", "2024-03"}
    assert record["months"] == {"from": "2024-02", "to": "2024-03"}
    assert orphan == record["adds_not_placed"] == {"adds": 0, "rm_months": 0}
    # the shared and existing-customer definitions still look at the whole table
    assert got.set_index(["rm_id", "month"]).loc[("R1", "2024-02"), "adds_shared_3plus"] == 1
    got, _ = run(src, tmp_path / "c", months="..2023-12")
    assert set(got["month"]) == {"2023-02", "2023-03"}


@pytest.mark.parametrize("bad", ["2024-01", "2024-13..2024-14", "2024-05..2024-01", "x..y"])
def test_bad_months_window_is_exit_2(edge_source, tmp_path, bad):
    src, _ = edge_source
    with pytest.raises(InputError):
        build.build(src, tmp_path / "b", months=bad, progress=QUIET)
    assert not (tmp_path / "b").exists()


def test_simulated_source_equals_the_pandas_reference(tmp_path):
    folder, _ = simulate.write(
        CustomerSimulationConfig(n_rms=40, n_months=10, customers_per_rm=12, seed=5),
        tmp_path / "wh",
    )
    tables = {
        name: pd.read_parquet(folder / name)
        for name in ("customer_month", "wecom_contact", "quota")
    }
    got, record = run(folder, tmp_path / "b")
    ref, orphan = reference_build(tables)
    assert_same_panel(got, ref)
    assert record["adds_not_placed"] == orphan
    assert (got["adds_shared_3plus"] > 0).any() and (got["quota_target"] > 0).any()


def test_panel_passes_wb_validate_and_build_json(edge_source, tmp_path):
    src, _ = edge_source
    result = build.build(src, tmp_path / "b", progress=QUIET)
    loaded = io.load(result.rm_month)
    assert loaded.schema == "rm_month" and len(loaded.frame) == 10
    record = json.loads((result.out / "build.json").read_text())
    assert record["engine"] == "duckdb" and record["engine_version"].startswith("duckdb ")
    assert record["rows_read"] == {"customer_month": 16, "wecom_contact": 17, "quota": 5}
    assert record["rows_written"] == {"rm_month": 10, "add_quality": 10}
    assert set(record["fingerprints"]) == {"customer_month", "wecom_contact", "quota"}
    checked = record["rules_checked"]["customer_month"]
    assert "customer_month.customer_id.no_personal_data" in checked["run_as_ibis_expressions"]
    assert "customer_month.aum_cny.ge_0" in checked["declared_in_pandera_ibis"]
    assert {"open source", "check customer_month", "join panel", "total"} <= set(
        record["timings_s"]
    )


def test_fingerprint_follows_the_data(tmp_path):
    tables = edge_tables()
    src = write_source(tmp_path / "src", tables)
    first = build.build(src, tmp_path / "b", progress=QUIET).record["fingerprints"]
    tables["quota"].loc[0, "quota_target"] = 51
    write_source(src, {"quota": tables["quota"]})
    second = build.build(src, tmp_path / "b", progress=QUIET).record["fingerprints"]
    assert first["customer_month"] == second["customer_month"]
    assert first["quota"] != second["quota"]


def test_failed_build_leaves_no_folder_and_keeps_an_earlier_build(
    edge_source, tmp_path, monkeypatch
):
    src, _ = edge_source

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # as if interrupted in the middle of the engine's work

    monkeypatch.setattr(build, "compute", boom)
    with pytest.raises(RunInterrupted) as stopped:  # exit 130, as for Ctrl-C
        build.build(src, tmp_path / "new", progress=QUIET)
    assert stopped.value.exit_code == 130
    assert list(tmp_path.iterdir()) == [], "no DIR, no staging or spill folder left"

    monkeypatch.undo()
    earlier = build.build(src, tmp_path / "b", progress=QUIET)
    before = (earlier.out / "rm_month.parquet").read_bytes()
    monkeypatch.setattr(build, "compute", boom)
    with pytest.raises(RunInterrupted):
        build.build(src, tmp_path / "b", progress=QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert (tmp_path / "b" / "rm_month.parquet").read_bytes() == before


def test_out_that_is_not_a_build_is_refused(edge_source, tmp_path):
    src, _ = edge_source
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an earlier build"):
        build.build(src, other, progress=QUIET)
    assert (other / "notes.txt").read_text() == "mine"


def test_hive_partitioned_and_single_file_tables(tmp_path):
    tables = edge_tables()
    src = tmp_path / "src"
    cm = tables["customer_month"]
    for month, part in cm.groupby("month"):
        folder = src / "customer_month" / f"month={month}"
        folder.mkdir(parents=True)
        part.drop(columns="month").to_parquet(folder / "part-0.parquet", index=False)
    tables["wecom_contact"].to_parquet(src / "wecom_contact.parquet", index=False)
    write_source(src, {"quota": tables["quota"]})
    got, _ = run(src, tmp_path / "b")
    ref, _ = reference_build(tables)
    assert_same_panel(got, ref)


def test_missing_table_is_exit_2(tmp_path):
    tables = edge_tables()
    src = write_source(tmp_path / "src", tables)
    shutil.rmtree(src / "quota")
    with pytest.raises(InputError, match="table quota not found"):
        build.build(src, tmp_path / "b", progress=QUIET)
    assert not (tmp_path / "b").exists()


def test_the_build_counts_adds_in_their_own_month_across_a_year_end():
    """The adds grouping keys adds by the one month index (wb.door.calendar) and the build
    formats it back once per RM-month: an add on 31 December stays in December and one on 1
    January in January (the index once went through ``12 * year + month`` and back)."""
    from wb.warehouse.tables import GROUPINGS, add_facts

    contacts = ibis.memtable(
        {
            "rm_id": ["R1", "R1", "R1"],
            "contact_id": ["c1", "c2", "c3"],
            "added_at": pd.to_datetime(
                ["2023-12-31 23:00", "2024-01-01 08:00", "2024-01-15 12:00"]
            ),
            "customer_id": [None, None, None],
            "certified_at": pd.to_datetime([None, None, None]),
            "removed_at": pd.to_datetime([None, None, None]),
        },
        schema={
            "rm_id": "string",
            "contact_id": "string",
            "added_at": "timestamp",
            "customer_id": "string",
            "certified_at": "timestamp",
            "removed_at": "timestamp",
        },
    )
    adds = next(g for g in GROUPINGS["wecom_contact"] if g.name == "adds")
    repeated = contacts.filter(contacts.rm_id.isnull()).select(contact_id="contact_id", n_rms=0)
    grouped = adds.of(add_facts(contacts, {"contacts": repeated}))
    got = ibis.duckdb.connect().execute(build.adds_by_rm_month(grouped, build.MonthWindow()))
    assert dict(zip(got.month, got.wecom_adds, strict=True)) == {"2023-12": 1, "2024-01": 2}
