"""`wb warehouse` through a real Spark cluster: a standalone master with a worker JVM, and a
Spark Connect server running its queries on that master (``wb.warehouse.cluster``, what
``make spark-cluster`` starts). The same simulated source is built through
``--spark-master spark://…`` and through ``--spark-remote sc://…``, the customer-level uplift
and a ``spark:DB`` catalog source go through Connect, and a ``wb run`` with
``warehouse: {engine: spark, spark_remote: …}`` too; each is held to DuckDB (counts exact,
money to 1e-9 relative).

One cluster for the session, on free ports, with a fresh Spark warehouse folder; its three JVMs
are stopped by PID when the session ends, whatever the tests did. Slow (the cluster starts in
about 30 s, each Spark build takes a minute on a busy 2-core machine); needs Java 17+.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import helpers
import numpy as np
import pandas as pd
import pytest
from run_cases import params_file
from warehouse_cases import TINY, assert_drop_table_and_release, assert_same_panel, run

from wb.errors import InputError
from wb.warehouse import cluster as wcluster
from wb.warehouse.simulate import write as simulate_write
from wb.warehouse.source import EngineOptions
from wb.warehouse.spark import spark_backend, spark_session

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """Master, worker and Connect server on free ports; stopped by PID at the end."""
    root = tmp_path_factory.mktemp("spark-cluster")
    config = wcluster.ClusterConfig(
        root=root, master_port=wcluster.free_port(), connect_port=wcluster.free_port()
    )
    started = wcluster.start(config)  # stops what it started if any JVM fails to come up
    try:
        yield started
    finally:
        said = wcluster.stop(root)
        assert [line.split(":")[0] for line in said] == ["connect", "worker", "master"], said
        assert not any(wcluster._runs(pid, "org.apache.spark") for pid in started.pids.values())


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A small simulated warehouse (60 RMs in 6 branches, 12 months, 7k customer-months) and
    its DuckDB build: rm_month joined with add_quality."""
    folder, _ = simulate_write(TINY, tmp_path_factory.mktemp("wh") / "wh")
    duck, record = run(folder, tmp_path_factory.mktemp("duck") / "b")
    return folder, duck, record


def wb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line in its own process, without a ``SPARK_REMOTE`` of the caller's."""
    return helpers.wb(*args, env=env, timeout=900, unset=("SPARK_REMOTE",))


def built(out: Path) -> tuple[pd.DataFrame, dict]:
    rm = pd.read_parquet(out / "rm_month.parquet")
    quality = pd.read_parquet(out / "add_quality.parquet")
    panel = rm.merge(quality, on=["rm_id", "month", "wecom_adds", "wecom_certified_adds"])
    return panel, json.loads((out / "build.json").read_text())


def applications(c: wcluster.Cluster) -> set[str]:
    """The applications the worker ran executors for (its work folder has one per app)."""
    return {p.name for p in (c.root / "work").glob("app-*")}


def test_build_through_the_standalone_master(cluster, source, tmp_path):
    folder, duck, duck_record = source
    before = applications(cluster)
    args = ["--source", str(folder), "--out", str(tmp_path / "b"), "--engine", "spark"]
    done = wb(
        "warehouse", "build", *args, "--spark-master", cluster.master_url,
        env=cluster.client_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got, record = built(tmp_path / "b")
    assert_same_panel(got, duck)
    assert record["engine_options"] == {"spark_master": cluster.master_url, "spark_remote": None}
    assert record["rows_read"] == duck_record["rows_read"]
    assert record["adds_not_placed"] == duck_record["adds_not_placed"]
    assert applications(cluster) - before, "the build ran no executor on the worker"


def test_build_through_spark_connect(cluster, source, tmp_path):
    folder, duck, duck_record = source
    args = ["--source", str(folder), "--out", str(tmp_path / "b"), "--engine", "spark"]
    done = wb("warehouse", "build", *args, "--spark-remote", cluster.remote_url)
    assert done.returncode == 0, done.stderr
    got, record = built(tmp_path / "b")
    assert_same_panel(got, duck)
    assert record["engine_options"] == {"spark_master": None, "spark_remote": cluster.remote_url}
    assert record["rows_read"] == duck_record["rows_read"]
    assert record["adds_not_placed"] == duck_record["adds_not_placed"]
    assert record["simulated"] == duck_record["simulated"]


def same_numbers(a: object, b: object, where: str = "") -> None:
    """Every number in two JSON documents equal (floats to 1e-9 relative), every text too."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            same_numbers(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_numbers(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=where)
    else:
        assert a == b, where


def test_customer_uplift_through_spark_connect(cluster, source, tmp_path):
    folder, _, _ = source
    args = ["--source", str(folder), "--leads", "2", "--post", "3", "--no-check"]
    spark = wb(
        "warehouse", "uplift", *args, "--out", str(tmp_path / "s"), "--engine", "spark",
        "--spark-remote", cluster.remote_url,
    )  # fmt: skip
    assert spark.returncode == 0, spark.stderr
    duck = wb("warehouse", "uplift", *args, "--out", str(tmp_path / "d"))
    assert duck.returncode == 0, duck.stderr
    on_spark, on_duckdb = (
        json.loads((tmp_path / side / "customer_uplift.json").read_text()) for side in "sd"
    )
    assert on_spark["engine"] == "spark" and on_duckdb["engine"] == "duckdb"
    assert on_spark["att_by_kind"]["no_quota"]["coef"] is not None
    for doc in (on_spark, on_duckdb):
        for key in ("engine", "engine_version", "timings_s", "created_at", "finished_at"):
            doc.pop(key, None)
    same_numbers(on_spark, on_duckdb)


def test_catalog_source_through_spark_connect(cluster, source, tmp_path):
    """A catalog source written and built through Connect from this process, after a local
    session in it is stopped (with it running, wb says so and how to go on)."""
    folder, duck, _ = source
    local = spark_session("local[2]")  # one is running here whenever a local test ran before
    with pytest.raises(InputError, match="a local Spark session is already running") as info:
        spark_session(remote=cluster.remote_url)
    assert "spark.stop()" in str(info.value)
    local.stop()
    session = spark_session(remote=cluster.remote_url)
    assert_drop_table_and_release(spark_backend(session))
    session.sql("CREATE DATABASE IF NOT EXISTS wbcluster")
    for name in ("customer_month", "wecom_contact", "quota"):
        session.read.parquet(str(folder / name)).write.saveAsTable(f"wbcluster.{name}")
    options = EngineOptions(engine="spark", spark_remote=cluster.remote_url)
    got, record = run("spark:wbcluster", tmp_path / "b", options=options)
    # catalog tables carry no `wb simulate` stamp (it lives in the files' Parquet metadata)
    assert_same_panel(got, duck.drop(columns=[c for c in duck if c.startswith("wb_simulated")]))
    assert record["source"] == "spark:wbcluster"
    # the tables live in the cluster's own (fresh) Spark warehouse folder
    assert (cluster.warehouse_dir / "wbcluster.db" / "quota").is_dir()


def test_wb_run_builds_its_panel_through_spark_connect(cluster, source, tmp_path):
    folder, duck, _ = source
    warehouse = {"source": str(folder), "engine": "spark", "spark_remote": cluster.remote_url}
    params = params_file(tmp_path, data={"rm_month": {"warehouse": warehouse}})
    done = wb("run", str(params), "--out", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    folder_out = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder_out / "manifest.json").read_text())
    entry = manifest["data"]["data.rm_month"]
    assert entry["engine"] == "spark" and entry["simulated"] is True
    got, record = built((folder_out / entry["build"]).parent)
    assert_same_panel(got, duck)
    assert record["engine_options"]["spark_remote"] == cluster.remote_url
    doc = json.loads((folder_out / entry["customer_uplift"]["path"]).read_text())
    assert doc["engine"] == "spark" and doc["simulated"] is True
