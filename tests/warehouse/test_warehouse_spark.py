"""The same expressions on Spark (local[2]): the panel equals DuckDB's and the pandas reference,
the same problems are reported, and a ``spark:DB`` catalog source works.

One SparkSession for the module (start-up costs 5-15 s). The tests that use it are marked
``spark``: they need Java 17+ (``make install``) and are skipped, with the reason, without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import ibis
import pandas as pd
import pytest
from helpers import local_spark
from warehouse_cases import (
    EXPECTED,
    assert_drop_table_and_release,
    assert_same_panel,
    broken_tables,
    edge_tables,
    reference_build,
    run,
    write_source,
)

from wb.errors import InputError
from wb.warehouse import build, simulate, validate
from wb.warehouse.progress import Progress
from wb.warehouse.simulate import CustomerSimulationConfig
from wb.warehouse.source import EngineOptions, open_source
from wb.warehouse.spark import (
    LOCAL_C2_EXCLUDED,
    LOCAL_GC,
    local_driver_conf,
    local_jvm_options,
    spark_backend,
)

SPARK = EngineOptions(engine="spark", spark_master="local[2]")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    session = local_spark(tmp_path_factory.mktemp("spark-warehouse"))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    tables = edge_tables()
    return write_source(tmp_path_factory.mktemp("edge") / "src", tables), tables


@pytest.mark.spark
def test_spark_equals_duckdb_and_the_reference_on_edge_cases(spark, edge, tmp_path):
    src, tables = edge
    on_spark, record = run(src, tmp_path / "s", options=SPARK)
    on_duckdb, duck_record = run(src, tmp_path / "d")
    ref, orphan = reference_build(tables)
    assert_same_panel(on_spark, ref)
    assert_same_panel(on_spark, on_duckdb)
    assert record["engine"] == "spark" and record["engine_version"].startswith("spark 4.")
    assert record["adds_not_placed"] == orphan
    checked = record["rules_checked"]["customer_month"]
    # what pandera.ibis declares is the schema's, whatever the engine; every rule runs as Ibis
    assert checked == duck_record["rules_checked"]["customer_month"]
    assert "customer_month.aum_cny.ge_0" in checked["declared_in_pandera_ibis"]
    assert checked["run_as_ibis_expressions"] == checked["rules"]


@pytest.mark.spark
def test_spark_equals_duckdb_on_a_simulated_source_with_window(spark, tmp_path):
    folder, _ = simulate.write(
        CustomerSimulationConfig(n_rms=30, n_months=9, customers_per_rm=10, seed=11),
        tmp_path / "wh",
    )
    on_spark, a = run(folder, tmp_path / "s", options=SPARK, months="2024-03..2024-08")
    on_duckdb, b = run(folder, tmp_path / "d", months="2024-03..2024-08")
    assert_same_panel(on_spark, on_duckdb)
    assert a["rows_read"] == b["rows_read"] and a["adds_not_placed"] == b["adds_not_placed"]
    assert a["fingerprints"] == b["fingerprints"]
    for out in ("s", "d"):  # each file's rows in (rm_id, month) order, whoever sorts them
        for name in (build.RM_MONTH, build.ADD_QUALITY):
            keys = pd.read_parquet(tmp_path / out / name, columns=["rm_id", "month"])
            assert keys.equals(keys.sort_values(["rm_id", "month"], ignore_index=True)), name


@pytest.mark.spark
def test_local_brings_spark_tables_into_duckdb(spark, tmp_path):
    """On Spark, :meth:`Source.local` gives the same rows as DuckDB tables (the panel joins
    them in-process); on DuckDB the tables themselves."""
    folder, _ = simulate.write(
        CustomerSimulationConfig(n_rms=20, n_months=8, customers_per_rm=5, seed=5),
        tmp_path / "wh",
    )
    got = {}
    for options in (SPARK, EngineOptions()):
        src = open_source(folder, options)
        cm = src.tables["customer_month"]
        rows = cm.group_by(["rm_id", "month"]).aggregate(n=cm.count())
        (local,) = src.local(rows)
        assert ibis.get_backend(local).name == "duckdb"
        assert (local is rows) == (options.engine == "duckdb")
        got[options.engine] = local.order_by(["rm_id", "month"]).to_pyarrow().to_pandas()
        src.close()
    assert len(got["duckdb"]) > 40
    assert got["spark"].equals(got["duckdb"])


def _groupings(folder, options) -> dict:
    src = open_source(folder, options)
    report = validate.validate(src, keep_groupings=True)
    out = {}
    for name, g in report.groupings.items():
        frame = g.to_pyarrow().to_pandas()
        out[name] = frame.sort_values(list(frame.columns[:3])).reset_index(drop=True)
    report.release()
    src.close()
    return out


@pytest.mark.spark
def test_spark_groupings_equal_duckdbs(spark, tmp_path):
    """Every grouping the rules are counted in, value for value: the month bit set too (its
    months 2024-01.. sit at bits 40 and up, past a 32-bit integer's)."""
    folder, _ = simulate.write(
        CustomerSimulationConfig(n_rms=20, n_months=9, customers_per_rm=8, seed=3),
        tmp_path / "wh",
    )
    on_spark, on_duckdb = _groupings(folder, SPARK), _groupings(folder, EngineOptions())
    assert set(on_spark) == set(on_duckdb) >= {"customers", "rm_months", "contacts"}
    for name, frame in on_duckdb.items():
        pd.testing.assert_frame_equal(on_spark[name], frame, check_dtype=False, rtol=1e-12)
    assert (on_spark["customers"].month_bits >= 1 << 40).all()


@pytest.mark.spark
def test_spark_drops_tables_and_releases_cached_ones(spark):
    assert_drop_table_and_release(spark_backend(spark))


@pytest.mark.spark
def test_spark_reports_the_same_problems(spark, tmp_path):
    src = write_source(tmp_path / "bad", broken_tables())
    opened = open_source(src, SPARK)
    with pytest.raises(validate.WarehouseValidationError) as info:
        validate.validate(opened)
    got = {(p.table, p.column, p.rule): p.rows for p in info.value.problems}
    assert got == EXPECTED
    duck = open_source(src)
    with pytest.raises(validate.WarehouseValidationError) as ref:
        validate.validate(duck)
    duck.close()
    assert [str(p) for p in info.value.problems] == [str(p) for p in ref.value.problems]


@pytest.mark.spark
def test_catalog_source(spark, edge, tmp_path):
    src, tables = edge
    spark.sql("CREATE DATABASE IF NOT EXISTS wbtest")
    for name in tables:
        df = spark.read.parquet(str(src / name))
        df.write.mode("overwrite").saveAsTable(f"wbtest.{name}")
    got, record = run("spark:wbtest", tmp_path / "b", options=SPARK)
    ref, _ = reference_build(tables)
    assert_same_panel(got, ref)
    assert record["source"] == "spark:wbtest"
    with pytest.raises(InputError, match="not found in the Spark catalog"):
        open_source("spark:no_such_db", SPARK)


def test_catalog_source_needs_spark(tmp_path):
    with pytest.raises(InputError, match="needs --engine spark"):
        build.build("spark:wbtest", tmp_path / "b", progress=Progress(1, quiet=True))


def test_a_local_driver_gets_a_heap_sized_to_the_machine_unless_one_is_given():
    """A local driver's heap is a quarter of the machine's memory within 1-8 GB (Spark's own
    default is 1 GB, in which the benchmark's broadcast of 1.2M customers failed) and its
    broadcast threshold a 64th of it; a heap the user sized is left alone, and so is the
    threshold."""
    conf = local_driver_conf({})
    heap = int(conf["spark.driver.memory"].removesuffix("m"))
    assert 1024 <= heap <= 8192
    assert conf["spark.sql.autoBroadcastJoinThreshold"] == f"{heap // 64}m"
    assert local_driver_conf({"SPARK_DRIVER_MEMORY": "2g"}) == {}
    assert local_driver_conf({"PYSPARK_SUBMIT_ARGS": "--driver-memory 3g pyspark-shell"}) == {}


@pytest.mark.spark
def test_the_local_session_has_those_settings(spark):
    expected = local_driver_conf()
    assert (
        spark.sparkContext.getConf().get("spark.driver.memory") == expected["spark.driver.memory"]
    )
    threshold = "spark.sql.autoBroadcastJoinThreshold"
    assert spark.conf.get(threshold) == expected[threshold]


@pytest.mark.spark
def test_the_local_driver_jvm_keeps_c2_off_the_planning_code(spark):
    """The driver's JVM was started with wb's compiler directives (C2 off for the parser, the
    code generator's compiler and the like), read from the file wb wrote."""
    runtime = spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    args = list(runtime.getInputArguments())
    (found,) = [a for a in args if a.startswith("-XX:CompilerDirectivesFile=")]
    directives = json.loads(Path(found.split("=", 1)[1]).read_text())
    assert directives == [{"match": list(LOCAL_C2_EXCLUDED), "c2": {"Exclude": True}}]
    assert "-XX:-DisplayVMOutput" in args  # the JVM's note on them kept off wb's stdout


def test_the_local_driver_gets_the_throughput_collector_unless_one_is_chosen(tmp_path):
    """A collector chosen in the JVM's environment options is kept (two would stop the JVM)."""
    assert LOCAL_GC in local_jvm_options(tmp_path, {}).split()
    for variable in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"):
        chosen = {variable: "-Xss4m -XX:+UseSerialGC"}
        assert "GC" not in local_jvm_options(tmp_path, chosen)
    assert LOCAL_GC in local_jvm_options(tmp_path, {"JAVA_TOOL_OPTIONS": "-Xmx1g"}).split()
