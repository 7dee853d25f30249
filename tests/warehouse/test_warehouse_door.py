"""The warehouse door held to the file door's standard: broken files, hostile values,
degenerate designs, hidden files, signals and limits give exit 2 (or 130/143) with the table,
a neutral file label and the rule; no file or folder name, no personal value, ever reaches a
message or an output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import helpers
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


def _corrupt_pages(source: Path) -> None:
    """customer_month as one file named after a customer, with a readable footer over
    corrupt pages."""
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


def test_mid_file_corruption_exit_2_screened(source, tmp_path):
    """A readable footer over corrupt pages: the engine's message, screened."""
    _corrupt_pages(source)
    for command in ("validate", "build"):
        extra = ["--out", str(tmp_path / "b")] if command == "build" else []
        err = exit2(wb("warehouse", command, "--source", str(source), *extra), "customer_month")
        assert NAME not in err and PHONE not in err and str(source) not in err
    assert not (tmp_path / "b").exists()


def test_a_failed_build_leaves_no_traceback_of_tables_dropped_after_the_engine_closed(
    source, tmp_path
):
    """A file that breaks mid-scan: the engine's cached groupings were dropped by Ibis's
    finalizers after the connection closed, printing "Exception ignored … Connection already
    closed" tracebacks after the error (only a process of its own shows them)."""
    _corrupt_pages(source)
    out = tmp_path / "b"
    result = helpers.wb("warehouse", "build", "--source", str(source), "--out", str(out))
    exit2(result, "customer_month")
    assert "Exception ignored" not in result.stderr and "already closed" not in result.stderr


@pytest.mark.spark
def test_mid_file_corruption_on_spark_exit_2_screened(source, tmp_path):
    """The same on Spark: the Python message screened, and nothing of the JVM's own log (its
    stack traces name the file) on stderr."""
    _corrupt_pages(source)
    # a process of its own: the JVM writes its log to the process's stderr, which only a
    # subprocess captures
    result = helpers.wb("warehouse", "validate", "--source", str(source), "--engine", "spark",
                        "--spark-master", "local[1]", timeout=600, cwd=ROOT.parent,
                        unset=("SPARK_CONF_DIR",))  # fmt: skip
    err = exit2(result, "customer_month")
    assert NAME not in err and PHONE not in err and str(source) not in err, err[-3000:]
    assert "log level" not in result.stderr  # nor the shell's note on its log level
    assert result.stdout == ""  # nor the JVM's note on wb's compiler directives


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


def test_files_from_different_writers_are_one_schema(source, tmp_path):
    """pandas writes ``large_string``, Spark ``string``, some writers dictionary-encode: the
    same UTF-8 columns in Parquet, read alike by the engines, so one schema (they were refused
    as ``one_schema``)."""
    from wb.warehouse import build

    quiet = build.Progress(8, quiet=True)
    before = build.build(source, tmp_path / "b1", progress=quiet)
    second = cm_files(source)[1]
    t = pq.read_table(second)
    plain = {"customer_id": pa.string(), "rm_id": pa.dictionary(pa.int32(), pa.string())}
    for column, dtype in plain.items():
        t = t.set_column(t.schema.get_field_index(column), column, t[column].cast(dtype))
    pq.write_table(t, second)
    assert pq.read_schema(second).field("customer_id").type == pa.string()
    after = build.build(source, tmp_path / "b2", progress=quiet)
    assert pq.read_table(after.rm_month).equals(pq.read_table(before.rm_month))


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
    ("customer_month", 14, "aum_cny", float("-inf"), "finite"),
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
    try:
        src = open_source(source, options)  # the file rules, from the footers
        try:
            wvalidate.validate(src)
        finally:
            src.close()
    except wvalidate.WarehouseValidationError as exc:
        return {(p.table, p.column, p.rule, p.rows) for p in exc.problems}, str(exc)
    return set(), ""  # valid


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
    # the infinite AUMs under finite only (neither the bound nor, for -inf, ge_0): the bound
    # counts the one huge finite value
    assert {(r, n) for t, c, r, n in found if c == "aum_cny"} == {
        ("not_null", 1),
        ("finite", 2),
        ("bounded", 1),
    }


@pytest.mark.spark
def test_spark_gives_the_same_verdict_on_hostile_values(hostile_source):
    assert verdict(hostile_source, "spark")[0] == verdict(hostile_source)[0]


def _customer_month_column(src: Path, column: str, change, files: slice = slice(None)) -> None:
    """Rewrite ``column`` of customer_month's files (``files`` of them) as ``change`` says:
    a function of the column's values giving an Arrow array."""
    for path in cm_files(src)[files]:
        t = pq.read_table(path)
        i = t.schema.get_field_index(column)
        pq.write_table(t.set_column(i, column, change(t[column])), path)


def _as_text(values: pa.ChunkedArray) -> pa.Array:
    return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


def _nan_first(values: pa.ChunkedArray) -> pa.Array:
    return pa.array([float("nan"), *values.to_pylist()[1:]], pa.float64())


def _newline_first(values: pa.ChunkedArray) -> pa.Array:
    return pa.array([values[0].as_py() + "\n", *values.to_pylist()[1:]], values.type)


#: (variant, column, change, files changed, the verdict on every engine)
ENGINE_VARIANTS = [
    ("text AUM", "aum_cny", _as_text, slice(None), {("customer_month", "aum_cny", "type", None)}),
    ("one text AUM file", "aum_cny", _as_text, slice(1, 2), {("customer_month", "", "one_schema", 1)}),
    ("NaN AUM", "aum_cny", _nan_first, slice(0, 1), {("customer_month", "aum_cny", "not_null", 1)}),
    ("month and newline", "month", _newline_first, slice(0, 1), {("customer_month", "month", "month_format", 1)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("column", "change", "files", "expected"),
    [v[1:] for v in ENGINE_VARIANTS],
    ids=[v[0] for v in ENGINE_VARIANTS],
)
def test_text_aum_nan_aum_and_a_month_with_a_newline(source, column, change, files, expected):
    _customer_month_column(source, column, change, files)
    assert verdict(source)[0] == expected


@pytest.mark.spark
def test_spark_gives_the_same_verdict_on_text_aum_nan_aum_and_a_newline(tmp_path):
    for name, column, change, files, expected in ENGINE_VARIANTS:
        src = write_source(tmp_path / name.replace(" ", "_"), edge_tables())
        _customer_month_column(src, column, change, files)
        assert verdict(src, "spark")[0] == verdict(src)[0] == expected, name


def _nanoseconds(src: Path, table: str, columns: list[str], extra: bool = False) -> None:
    """Store ``columns`` of ``table`` as nanosecond timestamps (as pandas writes them); with
    ``extra``, as a new undeclared column each (``<name>_ns``)."""
    for path in sorted((src / table).glob("*.parquet")):
        t = pq.read_table(path)
        for column in columns:
            values = t[column].cast(pa.timestamp("ns"))
            if extra:
                t = t.append_column(f"{column}_ns", values)
            else:
                t = t.set_column(t.schema.get_field_index(column), column, values)
        pq.write_table(t, path)


def test_nanosecond_timestamps_are_refused_when_declared(source):
    """Spark cannot read a nanosecond timestamp (DuckDB can): a declared one is refused on
    both engines from the footers, with the fix."""
    _nanoseconds(source, "wecom_contact", ["added_at"])
    found, message = verdict(source)
    assert found == {("wecom_contact", "added_at", "type", 2)}
    assert "nanoseconds" in message and "coerce_timestamps='us'" in message


@pytest.mark.spark
def test_spark_gives_the_same_verdict_on_nanosecond_timestamps(tmp_path):
    """A declared nanosecond timestamp: refused on both engines (Spark failed with an internal
    error, PARQUET_TYPE_ILLEGAL). An undeclared one: dropped on both (Spark failed the file)."""
    declared = write_source(tmp_path / "declared", edge_tables())
    _nanoseconds(declared, "wecom_contact", ["added_at", "removed_at"])
    undeclared = write_source(tmp_path / "undeclared", edge_tables())
    _nanoseconds(undeclared, "wecom_contact", ["added_at"], extra=True)
    both = {("wecom_contact", c, "type", 2) for c in ("added_at", "removed_at")}
    assert verdict(declared, "spark")[0] == verdict(declared)[0] == both
    assert verdict(undeclared, "spark")[0] == verdict(undeclared)[0] == set()


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


def test_a_column_name_twice_in_a_file_is_named(source):
    """Parquet allows a column name twice; the footer checks then failed on the ambiguous
    column with an internal error (KeyError)."""
    path = cm_files(source)[0]
    t = pq.read_table(path)
    pq.write_table(
        pa.Table.from_arrays([*t.columns, t["aum_cny"]], names=[*t.column_names, "aum_cny"]), path
    )
    exit2(
        wb("warehouse", "validate", "--source", str(source)),
        "unique_columns",
        "customer_month file 1 of 2",
    )


@pytest.mark.parametrize("dtype", [pa.int64(), pa.decimal128(20, 2)], ids=["int64", "decimal"])
def test_integer_and_decimal_aum_build_as_numbers(source, tmp_path, dtype):
    """AUM stored as integers or decimals is a number, as the contract allows: the panel is the
    one built from the same values as doubles (the finite rule crashed the build on them, an
    internal error)."""
    from wb.warehouse import build

    quiet = build.Progress(8, quiet=True)

    def rounded(values: pa.ChunkedArray, to: pa.DataType) -> pa.Array:
        """AUM in whole yuan: exact in every type."""
        return pa.array([None if v is None else round(v) for v in values.to_pylist()], to)

    _customer_month_column(source, "aum_cny", lambda v: rounded(v, pa.float64()))
    doubles = build.build(source, tmp_path / "b1", progress=quiet)
    _customer_month_column(source, "aum_cny", lambda v: rounded(v, dtype))
    typed = build.build(source, tmp_path / "b2", progress=quiet)
    aum = [pq.read_table(b.rm_month)["aum_cny"].to_pylist() for b in (doubles, typed)]
    assert [float(x) for x in aum[1]] == aum[0]


def test_an_interrupted_check_drops_its_cached_groupings(source, monkeypatch):
    """Ctrl-C while a later table is checked: the groupings cached for the earlier ones are
    dropped while the engine is open (a finalizer dropped them after it closed, printing
    'Connection already closed' tracebacks under the exit-130 message)."""
    from wb.warehouse import validate as wvalidate
    from wb.warehouse.source import EngineOptions, open_source

    checked = wvalidate.check_table

    def stop_at_quota(src, name, table, before):
        if name == "quota":
            raise KeyboardInterrupt
        return checked(src, name, table, before)

    monkeypatch.setattr(wvalidate, "check_table", stop_at_quota)
    src = open_source(source, EngineOptions())
    try:
        with pytest.raises(KeyboardInterrupt) as info:  # its traceback keeps the frames alive,
            wvalidate.validate(src, keep_groupings=True)  # as on the way out of the command
        cached = "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'ibis_cache%'"
        assert src.con.con.execute(cached).fetchall() == [], info.traceback[-1]
    finally:
        src.close()
