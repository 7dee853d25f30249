"""The warehouse door held to the file door's standard (issue 24): broken files, hostile values,
degenerate designs, hidden files, signals and limits give exit 2 (or 130/143) with the table,
a neutral file label and the rule; no file or folder name, no personal value, ever reaches a
message or an output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import wb_in_process
from warehouse_cases import edge_tables, write_source

ROOT = Path(__file__).resolve().parents[2]
#: A file name a bank would never want echoed: a customer's name and phone number.
NAME = "王小明"
PHONE = "13912345678"
PERSONAL_FILE = f"{NAME}{PHONE}.parquet"


def wb(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``wb ARGS`` in this process (exit code, stdout, stderr as the command gives them), from
    outside the checkout: no path may resolve against the project folder."""
    return wb_in_process(*args, env=env, cwd=ROOT.parent)


def exit2(result: subprocess.CompletedProcess, *needles: str) -> str:
    """The error text of a run that must exit 2 without 'internal error' and with ``needles``."""
    err = result.stderr
    assert result.returncode == 2, (result.returncode, err[-2000:])
    assert "internal error" not in err
    for needle in needles:
        assert needle in err, (needle, err[-2000:])
    return err


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The edge tables, two files per table (tests/warehouse_cases.py)."""
    return write_source(tmp_path / "src", edge_tables())


def cm_files(src: Path) -> list[Path]:
    return sorted((src / "customer_month").glob("*.parquet"))


# ------------------------------------------------------------------ 1. broken files


def _zero_byte(path: Path) -> None:
    path.write_bytes(b"")


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _csv_renamed(path: Path) -> None:
    path.write_text("customer_id,month\nC1,2024-01\n")


@pytest.mark.parametrize("breaks", [_zero_byte, _truncated, _csv_renamed])
def test_unreadable_footer_exit_2_with_table_label_and_rule(source, breaks):
    victim = cm_files(source)[1]
    breaks(victim)
    victim.rename(victim.with_name(PERSONAL_FILE))
    err = exit2(
        wb("warehouse", "validate", "--source", str(source)),
        "customer_month",
        "readable_parquet",
        "customer_month file 2 of 2",
    )
    assert NAME not in err and PHONE not in err and str(source) not in err


def test_mid_file_corruption_exit_2_screened(source, tmp_path):
    """A readable footer over corrupt pages: the engine's message, screened."""
    frame = pd.concat([edge_tables()["customer_month"]] * 200, ignore_index=True)
    frame["customer_id"] = [f"C{i}" for i in range(len(frame))]
    folder = source / "customer_month"
    shutil.rmtree(folder)
    folder.mkdir()
    path = folder / PERSONAL_FILE
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="zstd")
    data = bytearray(path.read_bytes())
    data[4 : len(data) // 2] = bytes(len(data) // 2 - 4)
    path.write_bytes(bytes(data))
    for command in ("validate", "build"):
        extra = ["--out", str(tmp_path / "b")] if command == "build" else []
        err = exit2(wb("warehouse", command, "--source", str(source), *extra), "customer_month")
        assert NAME not in err and PHONE not in err and str(source) not in err
    assert not (tmp_path / "b").exists()


def test_symlinks_in_a_table_folder_are_refused(source, tmp_path):
    (source / "customer_month" / PERSONAL_FILE).symlink_to("/etc/passwd")
    err = exit2(wb("warehouse", "validate", "--source", str(source)), "no_symlinks")
    assert NAME not in err and PHONE not in err
    (source / "customer_month" / PERSONAL_FILE).unlink()
    outside = tmp_path / "elsewhere.parquet"
    shutil.copyfile(cm_files(source)[0], outside)
    (source / "customer_month" / "part-9.parquet").symlink_to(outside)
    exit2(wb("warehouse", "validate", "--source", str(source)), "no_symlinks")


def test_files_of_one_table_with_different_schemas(source):
    first = cm_files(source)[1]
    table = pq.read_table(first).drop_columns(["aum_cny"])
    pq.write_table(table, first)
    exit2(
        wb("warehouse", "validate", "--source", str(source)),
        "one_schema",
        "customer_month file 2 of 2",
    )


@pytest.mark.parametrize(
    ("column", "table", "arrow_type", "needle"),
    [
        ("aum_cny", "customer_month", pa.uint64(), "unsigned 64-bit"),
        ("added_at", "wecom_contact", pa.timestamp("us", tz="Asia/Shanghai"), "time zone"),
    ],
)
def test_unsupported_types_are_named(source, column, table, arrow_type, needle):
    for path in sorted((source / table).glob("*.parquet")):
        t = pq.read_table(path)
        i = t.schema.get_field_index(column)
        values = t[column].cast(pa.int64(), safe=False) if arrow_type == pa.uint64() else t[column]
        values = values.cast(arrow_type)
        pq.write_table(t.set_column(i, column, values), path)
    exit2(wb("warehouse", "validate", "--source", str(source)), table, column, needle)


def test_bounds_from_the_footers(source):
    exit2(
        wb("warehouse", "validate", "--source", str(source), env={"WB_MAX_WAREHOUSE_ROWS": "5"}),
        "max_rows",
        "WB_MAX_WAREHOUSE_ROWS",
    )
    exit2(
        wb("warehouse", "validate", "--source", str(source), env={"WB_MAX_WAREHOUSE_FILES": "1"}),
        "max_files",
        "WB_MAX_WAREHOUSE_FILES",
    )


# ------------------------------------------------------------------ 2. one screen


def test_screen_names_files_by_label_and_hides_values():
    from wb.door import privacy

    path = f"/data/{NAME}/customer_month/{PERSONAL_FILE}"
    labels = {path: "customer_month file 2 of 3", f"/data/{NAME}": "source folder"}
    message = (
        f'IO Error: cannot open "{path}" under /data/{NAME}/quota/x.parquet: '
        f"Could not convert '{NAME}' nor {PHONE} in file:/other/{PHONE}/a.parquet; ok 'C1'"
    )
    shown = privacy.screen(message, labels)
    assert "customer_month file 2 of 3" in shown and "source folder/<path>" in shown
    assert "'C1'" in shown and "<path>" in shown
    for secret in (NAME, PHONE, "/data", "/other"):
        assert secret not in shown, shown


def test_folder_file_and_column_names_never_reach_outputs(tmp_path):
    """A source folder and a file named after a customer, a dropped column named with a phone
    number: none reaches stderr, build.json, the Parquet outputs or the warnings."""
    src = write_source(tmp_path / f"{NAME}{PHONE}", edge_tables())
    first = cm_files(src)[0]
    table = pq.read_table(first)
    for path in cm_files(src):
        t = pq.read_table(path)
        pq.write_table(t.append_column(f"手机{PHONE}", pa.array([PHONE] * t.num_rows)), path)
    first.rename(first.with_name(PERSONAL_FILE))
    assert table.num_rows
    result = wb("warehouse", "build", "--source", str(src), "--out", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    record = (tmp_path / "b" / "build.json").read_text()
    outputs = [result.stdout, result.stderr, record]
    outputs += [p.read_bytes().decode("latin-1") for p in (tmp_path / "b").glob("*.parquet")]
    for text in outputs:
        for secret in (NAME, PHONE, str(src)):
            assert secret not in text, secret
    assert '"source": "source folder"' in record


# ------------------------------------------------------------------ 3. value rules

#: (table, row, column, hostile value, the rule that must refuse it)
HOSTILE = [
    ("customer_month", 0, "aum_cny", float("nan"), "not_null"),  # NaN is missing, as on Spark
    ("customer_month", 1, "aum_cny", float("inf"), "finite"),
    ("customer_month", 2, "aum_cny", 9.2e18, "bounded"),
    ("customer_month", 3, "customer_id", NAME, "id_characters"),
    ("customer_month", 4, "customer_id", "１３９１２３４５６７８", "no_personal_data"),
    ("customer_month", 5, "customer_id", "C2\x00", "id_characters"),
    ("customer_month", 6, "customer_id", "C3 ", "id_characters"),
    ("customer_month", 7, "rm_id", "R2\u200b", "id_characters"),
    ("customer_month", 8, "rm_id", PHONE, "no_personal_data"),
    ("customer_month", 9, "branch_id", "B\u202e1", "id_characters"),
    ("customer_month", 12, "branch_id", "wxid_abcd1234", "no_personal_data"),
    ("customer_month", 13, "month", "2024-03\n", "month_format"),
    ("wecom_contact", 0, "contact_id", "138\u200b1234\u200b5678", "id_characters"),
    ("wecom_contact", 1, "contact_id", "110101900307123", "no_personal_data"),
    ("wecom_contact", 2, "contact_id", "(0755)1234567", "no_personal_data"),
    ("wecom_contact", 3, "rm_id", "张三", "id_characters"),
    ("wecom_contact", 9, "contact_id", "+852 5123 4567", "no_personal_data"),
    ("wecom_contact", 10, "contact_id", "uid:wxid_abcd1234", "no_personal_data"),
    ("wecom_contact", 11, "contact_id", "138.1234.5678", "no_personal_data"),
    ("wecom_contact", 15, "customer_id", "010-12345678", "no_personal_data"),
    ("quota", 0, "quota_target", 2**60, "bounded"),
    ("quota", 1, "branch_id", "B1 ", "id_characters"),
]


def hostile_tables() -> dict[str, pd.DataFrame]:
    tables = edge_tables()
    for table, row, column, value, _ in HOSTILE:
        frame = tables[table]
        if column == "quota_target":
            frame[column] = frame[column].astype("int64")
        frame.loc[row, column] = value
    return tables


def verdict(source: Path, engine: str = "duckdb") -> tuple[set, str]:
    from wb.warehouse import validate as wvalidate
    from wb.warehouse.source import EngineOptions, open_source

    options = EngineOptions(engine=engine, spark_master="local[2]")
    src = open_source(source, options)
    try:
        with pytest.raises(wvalidate.WarehouseValidationError) as info:
            wvalidate.validate(src)
    finally:
        src.close()
    found = {(p.table, p.column, p.rule, p.rows) for p in info.value.problems}
    return found, str(info.value)


@pytest.fixture(scope="module")
def hostile_source(tmp_path_factory) -> Path:
    """The hostile tables, one file each; AUM written as given (NaN stays NaN, not null)."""
    root = tmp_path_factory.mktemp("hostile") / "src"
    for name, frame in hostile_tables().items():
        (root / name).mkdir(parents=True)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if name == "customer_month":
            aum = pa.array(frame["aum_cny"].tolist(), pa.float64())
            table = table.set_column(table.schema.get_field_index("aum_cny"), "aum_cny", aum)
        pq.write_table(table, root / name / "part-0.parquet")
    return root


def test_file_door_value_rules_hold_on_the_warehouse(hostile_source):
    found, message = verdict(hostile_source)
    rules = {(t, c, r) for t, c, r, _ in found}
    for table, row, column, value, rule in HOSTILE:
        assert (table, column, rule) in rules, (table, row, column, rule)
        if isinstance(value, str) and rule != "month_format":
            assert value not in message, value
    for secret in (NAME, PHONE, "张三", "wxid_abcd"):
        assert secret not in message


@pytest.mark.spark
def test_spark_gives_the_same_verdict_on_hostile_values(hostile_source):
    assert verdict(hostile_source, "spark")[0] == verdict(hostile_source)[0]


# ------------------------------------------------------------------ 4. degenerate designs


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    """A small simulated warehouse (60 RMs, 12 months), enough branches for the uplift."""
    from wb.warehouse.simulate import CustomerSimulationConfig
    from wb.warehouse.simulate import write as simulate_write

    config = CustomerSimulationConfig(
        n_rms=60, n_months=12, customers_per_rm=10, organic_mean=0.4, targets=(1, 2),
        fill_prob=0.5, seed=3,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("sim") / "wh"
    simulate_write(config, out)
    return out


def _rewrite(folder: Path, change) -> None:
    for path in sorted(folder.glob("*.parquet")):
        pq.write_table(change(pq.read_table(path)), path)


def test_huge_aum_is_refused_or_not_identified_never_a_crash(simulated, tmp_path):
    src = tmp_path / "wh"
    shutil.copytree(simulated, src)

    def huge(t: pa.Table) -> pa.Table:
        aum = t["aum_cny"].to_pylist()
        aum = [9.2e18 if i % 7 == 0 else x for i, x in enumerate(aum)]
        aum[1] = float("inf")
        return t.set_column(t.schema.get_field_index("aum_cny"), "aum_cny", pa.array(aum))

    _rewrite(src / "customer_month", huge)
    exit2(
        wb("warehouse", "uplift", "--source", str(src), "--out", str(tmp_path / "u")),
        "bounded",
        "finite",
    )
    exit2(
        wb("warehouse", "uplift", "--source", str(src), "--out", str(tmp_path / "u"), "--no-check")
    )
    assert not (tmp_path / "u").exists()


def test_quality_on_a_source_without_quota_says_why(simulated, tmp_path):
    src = tmp_path / "wh"
    shutil.copytree(simulated, src)
    _rewrite(src / "quota", lambda t: t.slice(0, 0))
    built = wb("warehouse", "build", "--source", str(src), "--out", str(tmp_path / "b"))
    assert built.returncode == 0, built.stderr
    exit2(
        wb(
            "uplift",
            "--data",
            str(tmp_path / "b" / "rm_month.parquet"),
            "--quality",
            str(tmp_path / "b" / "add_quality.parquet"),
            "--out",
            str(tmp_path / "u"),
        ),
        "no quota variation",
    )


# ------------------------------------------------------------------ 5. hidden files, signals, limits


def test_hidden_files_are_read_by_no_engine_and_no_fingerprint(source, tmp_path):
    """A '_…' or '.…' Parquet file (or folder) is left out by the engine and the fingerprint
    alike: the panel and build.json's fingerprints do not change when one arrives."""
    from wb.warehouse import build

    quiet = build.Progress(8, quiet=True)
    before = build.build(source, tmp_path / "b1", progress=quiet)
    first = cm_files(source)[0]
    shutil.copyfile(first, first.with_name("_copy.parquet"))
    shutil.copyfile(first, first.with_name(".copy.parquet"))
    (source / "customer_month" / "_temporary").mkdir()
    shutil.copyfile(first, source / "customer_month" / "_temporary" / "part.parquet")
    after = build.build(source, tmp_path / "b2", progress=quiet)
    assert pq.read_table(after.rm_month).equals(pq.read_table(before.rm_month))
    assert after.record["fingerprints"] == before.record["fingerprints"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--threads", "100000"], "--threads must be between 1 and"),
        (["--threads", "0"], "--threads must be between 1 and"),
        (["--memory-limit", "1KB"], "at least 64 MB"),
        (["--months", "2031-01..2031-12"], "no customer-month of an RM falls in the window"),
    ],
)
def test_limits_exit_2(source, tmp_path, args, needle):
    out = tmp_path / "b"
    exit2(wb("warehouse", "build", "--source", str(source), "--out", str(out), *args), needle)
    assert not out.exists()


def test_out_under_a_file_exit_2(source, tmp_path):
    (tmp_path / "afile").write_text("x")
    for command in ("build", "uplift"):
        out = tmp_path / "afile" / "b"
        exit2(wb("warehouse", command, "--source", str(source), "--out", str(out)), "under a file")
