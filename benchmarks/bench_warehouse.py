"""Warehouse benchmark (``make bench BENCH_ARGS=--warehouse``; never in CI).

``python benchmarks/bench_warehouse.py --rules [N_RMS]`` measures only the cost of issue 24's
rules, on the full source or on one of ``N_RMS`` RMs.

A simulated source of >= 40M customer-months and >= 5M contacts (29,000 RMs x ~40 customers x
36 months). Measured, each in its own process (wall time and peak RSS from ``os.wait4``):

* ``wb warehouse build`` on DuckDB at a quarter, half and all of the rows (the smaller sources
  are folders of links to a subset of the part files, i.e. whole RMs);
* the raw-engine reference: one hand-written DuckDB SQL query of the same definitions
  (``reference_query``), with the same memory limit, writing the same two Parquet files; and a
  second one written from docs/warehouse.md alone (``INDEPENDENT_SQL``, ``--independent``);
* ``wb warehouse build --engine spark`` on the full source three ways: ``--spark-master
  local[2]`` (the heap and broadcast limit wb gives a local driver,
  :func:`wb.warehouse.spark.local_driver_conf`), through the one-machine standalone cluster
  of ``make spark-cluster`` (``--spark-master spark://…``: one executor of one core and 768 MB, as
  ``wb.warehouse.cluster.APP_CONF`` gives every application) and through its Spark Connect
  server (``--spark-remote sc://…``, the server's driver running the same executor). The
  cluster is started for these runs and stopped by PID after them.

``python benchmarks/bench_warehouse.py --spark SRC`` runs only the Spark builds (and one DuckDB
build to compare with) on another source, e.g. a smaller one.

* the cost of issue 24's door (``--rules``): the build with and without the file checks
  from the footers (:func:`wb.warehouse.files.check`) and the value rules added to the
  engines' checks (``NEW_VALUE_RULES``), ``ROUNDS`` times each, alternating, in their own
  processes; the medians and their difference (the no-personal-data rule existed before).

Goal: the DuckDB build within 1.2x the reference's time and 4 GB peak RSS. The build also
validates every rule of the three tables (the reference does not), inside the group-bys the
build reuses, so the ``check`` steps of ``build.json``'s timings hold part of the build's own
work. Results go to ``.bench/warehouse.json``, or to ``$WB_BENCH_DIR`` when set (e.g. a
scratch disk outside the repository).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("WB_BENCH_DIR") or ROOT / ".bench")
WB = [sys.executable, "-m", "wb.cli"]
N_RMS, N_MONTHS, CUSTOMERS = 29_000, 36, 40
MEMORY_LIMIT = "3GB"

REFERENCE_SQL = """
CREATE TEMP TABLE panel AS
WITH cm AS (SELECT * FROM read_parquet('{src}/customer_month/**/*.parquet')),
wc AS (SELECT * FROM read_parquet('{src}/wecom_contact/**/*.parquet')),
q AS (SELECT * FROM read_parquet('{src}/quota/**/*.parquet')),
first_month AS (SELECT customer_id, min(month) AS first_month FROM cm GROUP BY customer_id),
shared AS (SELECT contact_id, count(DISTINCT rm_id) AS n_rms FROM wc GROUP BY contact_id),
facts AS (
  SELECT wc.rm_id, strftime(wc.added_at, '%Y-%m') AS month,
    coalesce(wc.certified_at <= wc.added_at + INTERVAL 30 DAY, false) AS cert30,
    coalesce(wc.certified_at <= wc.added_at + INTERVAL 30 DAY
             AND f.first_month < strftime(wc.added_at, '%Y-%m'), false) AS existing,
    coalesce(wc.removed_at <= wc.added_at + INTERVAL 30 DAY, false) AS removed30,
    coalesce(wc.removed_at <= wc.added_at + INTERVAL 90 DAY, false) AS removed90,
    coalesce(s.n_rms >= 3, false) AS shared3,
    day(wc.added_at) > day(last_day(wc.added_at)) - 3 AS last3
  FROM wc LEFT JOIN first_month f USING (customer_id) LEFT JOIN shared s USING (contact_id)
),
adds AS (
  SELECT rm_id, month, count(*) AS wecom_adds, sum(cert30::INT)::BIGINT AS wecom_certified_adds,
    sum(existing::INT)::BIGINT AS adds_existing_customer, sum(removed30::INT)::BIGINT AS adds_removed_30d,
    sum(removed90::INT)::BIGINT AS adds_removed_90d, sum(shared3::INT)::BIGINT AS adds_shared_3plus,
    sum(last3::INT)::BIGINT AS adds_last3days
  FROM facts GROUP BY rm_id, month
),
base AS (
  SELECT rm_id, month, max(branch_id) AS branch_id, count(*) AS customers,
    sum(aum_cny::DOUBLE) AS aum_cny
  FROM cm WHERE rm_id IS NOT NULL GROUP BY rm_id, month
)
SELECT base.rm_id, base.branch_id, base.month,
  coalesce(a.wecom_adds, 0) AS wecom_adds,
  coalesce(a.wecom_certified_adds, 0) AS wecom_certified_adds,
  coalesce(qr.quota_target, qb.quota_target, 0)::BIGINT AS quota_target,
  base.aum_cny, base.customers,
  coalesce(a.adds_existing_customer, 0) AS adds_existing_customer,
  coalesce(a.adds_removed_30d, 0) AS adds_removed_30d,
  coalesce(a.adds_removed_90d, 0) AS adds_removed_90d,
  coalesce(a.adds_shared_3plus, 0) AS adds_shared_3plus,
  coalesce(a.adds_last3days, 0) AS adds_last3days,
  (SELECT coalesce(sum(x.wecom_adds), 0) FROM adds x
     ANTI JOIN base y ON x.rm_id = y.rm_id AND x.month = y.month) AS adds_not_placed
FROM base
LEFT JOIN adds a ON a.rm_id = base.rm_id AND a.month = base.month
LEFT JOIN q qr ON qr.rm_id = base.rm_id AND qr.month = base.month
LEFT JOIN q qb ON qb.rm_id IS NULL AND qb.branch_id = base.branch_id AND qb.month = base.month;
COPY (SELECT rm_id, branch_id, month, wecom_adds, wecom_certified_adds, quota_target, aum_cny,
        customers FROM panel ORDER BY rm_id, month) TO '{out}/rm_month.parquet';
COPY (SELECT rm_id, month, wecom_adds, wecom_certified_adds, adds_existing_customer,
        adds_removed_30d, adds_removed_90d, adds_shared_3plus, adds_last3days
      FROM panel ORDER BY rm_id, month) TO '{out}/add_quality.parquet';
"""


#: A second hand-written query of docs/warehouse.md §4, written from the definitions alone (not
#: from the build or ``REFERENCE_SQL``): the adds and the RM-months as tables, each used twice.
INDEPENDENT_SQL = """
CREATE TEMP TABLE adds AS
WITH cust_first AS (
  SELECT customer_id, min(month) AS first_month
  FROM read_parquet('{src}/customer_month/*.parquet') GROUP BY customer_id
),
wc AS (SELECT * FROM read_parquet('{src}/wecom_contact/*.parquet')),
shared AS (SELECT contact_id FROM wc GROUP BY contact_id HAVING count(DISTINCT rm_id) >= 3)
SELECT w.rm_id, strftime(w.added_at, '%Y-%m') AS month,
  count(*) AS wecom_adds,
  count_if(w.certified_at <= w.added_at + INTERVAL 30 DAY) AS wecom_certified_adds,
  count_if(w.certified_at <= w.added_at + INTERVAL 30 DAY
           AND c.first_month < strftime(w.added_at, '%Y-%m')) AS adds_existing_customer,
  count_if(w.removed_at <= w.added_at + INTERVAL 30 DAY) AS adds_removed_30d,
  count_if(w.removed_at <= w.added_at + INTERVAL 90 DAY) AS adds_removed_90d,
  count_if(s.contact_id IS NOT NULL) AS adds_shared_3plus,
  count_if(month(w.added_at::DATE + 3) <> month(w.added_at)) AS adds_last3days
FROM wc w
LEFT JOIN cust_first c ON c.customer_id = w.customer_id
LEFT JOIN shared s ON s.contact_id = w.contact_id
GROUP BY ALL;
CREATE TEMP TABLE rm_month AS
SELECT rm_id, month, any_value(branch_id) AS branch_id, count(*) AS customers,
  sum(aum_cny) AS aum_cny
FROM read_parquet('{src}/customer_month/*.parquet') WHERE rm_id IS NOT NULL GROUP BY rm_id, month;
CREATE TEMP TABLE panel AS
SELECT r.rm_id, r.branch_id, r.month,
  coalesce(a.wecom_adds, 0) AS wecom_adds,
  coalesce(a.wecom_certified_adds, 0) AS wecom_certified_adds,
  coalesce(qr.quota_target, qb.quota_target, 0) AS quota_target,
  r.aum_cny, r.customers,
  coalesce(a.adds_existing_customer, 0) AS adds_existing_customer,
  coalesce(a.adds_removed_30d, 0) AS adds_removed_30d,
  coalesce(a.adds_removed_90d, 0) AS adds_removed_90d,
  coalesce(a.adds_shared_3plus, 0) AS adds_shared_3plus,
  coalesce(a.adds_last3days, 0) AS adds_last3days
FROM rm_month r
LEFT JOIN adds a ON a.rm_id = r.rm_id AND a.month = r.month
LEFT JOIN (SELECT rm_id, month, quota_target FROM read_parquet('{src}/quota/*.parquet') WHERE rm_id IS NOT NULL) qr
  ON qr.rm_id = r.rm_id AND qr.month = r.month
LEFT JOIN (SELECT branch_id, month, quota_target FROM read_parquet('{src}/quota/*.parquet') WHERE rm_id IS NULL) qb
  ON qb.branch_id = r.branch_id AND qb.month = r.month;
CREATE TEMP TABLE not_placed AS
SELECT coalesce(sum(wecom_adds), 0) AS adds, count(*) AS rm_months
FROM adds a ANTI JOIN rm_month r ON a.rm_id = r.rm_id AND a.month = r.month;
COPY (SELECT rm_id, branch_id, month, wecom_adds, wecom_certified_adds, quota_target, aum_cny,
        customers FROM panel ORDER BY rm_id, month) TO '{out}/rm_month.parquet';
COPY (SELECT rm_id, month, wecom_adds, wecom_certified_adds, adds_existing_customer,
        adds_removed_30d, adds_removed_90d, adds_shared_3plus, adds_last3days
      FROM panel ORDER BY rm_id, month) TO '{out}/add_quality.parquet';
"""


def reference_query(
    src: str, out: str, memory_limit: str = MEMORY_LIMIT, sql: str = REFERENCE_SQL
) -> None:
    """Run a hand-written DuckDB query of the build (docs/warehouse.md §4) (SQL is fine here
    only): ``REFERENCE_SQL`` or ``INDEPENDENT_SQL``."""
    import duckdb

    Path(out).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={"memory_limit": memory_limit, "temp_directory": f"{out}/.spill",
                "preserve_insertion_order": False}
    )  # fmt: skip
    con.execute("SET enable_progress_bar = false")
    con.execute(sql.format(src=src, out=out))
    con.close()


def measure(name: str, cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd``; wall seconds and peak RSS (GB) of its largest process (``os.wait4``)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=err, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            raise SystemExit(f"{name} failed (exit {code}):\n{err.read().decode()[-2000:]}")
    rss = usage.ru_maxrss / 1e6
    row = {"name": name, "wall_s": round(wall, 2), "peak_rss_gb": round(rss, 2)}
    print(f"{name:<52} {wall:8.1f} s  {rss:5.2f} GB", flush=True)
    return row


def source(fraction: str, n_rms: int = N_RMS) -> Path:
    """The full simulated source of ``n_rms`` RMs (made once), or a quarter/half of its RMs
    as hard links to its files."""
    full = BENCH / f"warehouse_{n_rms}x{CUSTOMERS}x{N_MONTHS}"
    if not (full / "truth.json").is_file():
        measure(
            f"simulate {n_rms:,} RMs x {CUSTOMERS} customers x {N_MONTHS} months",
            [*WB, "simulate", "--level", "customer", "--out", str(full), "--rms", str(n_rms),
             "--customers", str(CUSTOMERS), "--months", str(N_MONTHS), "--seed", "1"],
        )  # fmt: skip
    if fraction == "all":
        return full
    share = {"quarter": 4, "half": 2}[fraction]
    part = BENCH / f"{full.name}_{fraction}"
    if not part.is_dir():
        for table in ("customer_month", "wecom_contact", "quota"):
            (part / table).mkdir(parents=True)
            files = sorted((full / table).glob("*.parquet"))
            keep = files if table == "quota" else files[: max(1, len(files) // share)]
            for f in keep:  # hard links: the door refuses symlinks in a table folder
                os.link(f, part / table / f.name)
    return part


def _rows(src: Path) -> int:
    import pyarrow.parquet as pq

    return sum(
        pq.ParquetFile(f).metadata.num_rows for f in (src / "customer_month").glob("*.parquet")
    )


#: The value rules of issue 24 whose cost ``--rules`` measures (with the file checks).
NEW_VALUE_RULES = ("id_characters", "finite", "bounded")
#: Builds with and without them, each.
ROUNDS = 3


def build_without_new_rules(src: str, out: str) -> None:
    """``wb warehouse build`` without the file checks and ``NEW_VALUE_RULES`` (the build
    before issue 24), in this process."""
    from wb.warehouse import build, files, rules

    rules.RULES = tuple(r for r in rules.RULES if r.name not in NEW_VALUE_RULES)
    files.check = lambda table: []
    build.build(src, out, build.EngineOptions(memory_limit=MEMORY_LIMIT), progress=None)


def rule_cost(src: Path) -> dict:
    """Median build time with and without the new rules, and the file checks alone."""
    import statistics

    from wb.warehouse import files

    walls: dict[str, list[float]] = {"with": [], "without": []}
    for i in range(ROUNDS):
        walls["with"].append(
            measure(
                f"build with the issue-24 rules, round {i + 1}",
                [*WB, "warehouse", "build", "--source", str(src), "--out",
                 str(BENCH / "wh_rules_with"), "--memory-limit", MEMORY_LIMIT],
            )["wall_s"]
        )  # fmt: skip
        walls["without"].append(
            measure(
                f"build without them, round {i + 1}",
                [sys.executable, __file__, "--without-rules", str(src),
                 str(BENCH / "wh_rules_without")],
            )["wall_s"]
        )  # fmt: skip
    start = time.perf_counter()
    for name in ("customer_month", "wecom_contact", "quota"):
        files.check(files.find(src, name))
    footers = time.perf_counter() - start
    with_s, without_s = (statistics.median(walls[k]) for k in ("with", "without"))
    row = {
        "name": "cost of issue 24's file checks and value rules",
        "rows": _rows(src),
        "build_with_s": with_s,
        "build_without_s": without_s,
        "difference_s": round(with_s - without_s, 2),
        "share_of_build": round((with_s - without_s) / with_s, 3),
        "file_checks_s": round(footers, 3),
        "walls_s": walls,
    }
    print(
        f"{'issue-24 rules: build with / without (median)':<52} {with_s:8.1f} / "
        f"{without_s:.1f} s ({row['share_of_build']:.0%} of the build); footers alone "
        f"{footers:.2f} s",
        flush=True,
    )
    return row


def main(spark: bool = True) -> list[dict]:
    BENCH.mkdir(exist_ok=True)
    results = []
    full = source("all")
    for fraction in ("quarter", "half", "all"):
        src = source(fraction)
        out = BENCH / f"wh_build_{fraction}"
        row = measure(
            f"wb warehouse build, DuckDB, {fraction} ({_rows(src) / 1e6:.1f}M cm rows)",
            [*WB, "warehouse", "build", "--source", str(src), "--out", str(out),
             "--memory-limit", MEMORY_LIMIT],
        )  # fmt: skip
        record = json.loads((out / "build.json").read_text())
        row["timings_s"] = record["timings_s"]
        row["rows_read"] = record["rows_read"]
        results.append(row)
    ref_out = BENCH / "wh_reference"
    ref = measure(
        "reference: one hand-written DuckDB query (all)",
        [sys.executable, __file__, "--reference", str(full), str(ref_out)],
    )
    results.append(ref)
    independent = measure(
        "independent: another hand-written DuckDB query (all)",
        [sys.executable, __file__, "--independent", str(full), str(BENCH / "wh_independent")],
    )
    results.append(independent)
    build_all = results[2]
    t = build_all["timings_s"]
    checks = sum(v for k, v in t.items() if k.startswith("check "))
    ratio = build_all["wall_s"] / ref["wall_s"]
    summary = {
        "name": "ratio build / reference (all)",
        "time_ratio": round(ratio, 2),
        "time_ratio_independent": round(build_all["wall_s"] / independent["wall_s"], 2),
        "checks_and_groupings_s": round(checks, 1),
        "goal": "<= 1.2x time, <= 4 GB peak RSS",
        "meets_goal": ratio <= 1.2 and build_all["peak_rss_gb"] <= 4,
    }
    print(
        f"{'ratio build / reference':<52} {ratio:8.2f}x "
        f"({summary['time_ratio_independent']:.2f}x the independent query; rule checks and the "
        "groupings they "
        f"share with the build: {checks:.0f} s); goal <= 1.2x, <= 4 GB: "
        f"{'OK' if summary['meets_goal'] else 'MISSED'}",
        flush=True,
    )
    results.append(summary)
    results.append(rule_cost(full))
    if spark:
        results += spark_builds(full, build_all["wall_s"])
    (BENCH / "warehouse.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {BENCH / 'warehouse.json'}")
    return results


def _build(name: str, src: Path, out: Path, args: list[str], env: dict | None = None) -> dict:
    """Measure one ``wb warehouse build`` of ``src``; its step timings from ``build.json``."""
    cmd = [*WB, "warehouse", "build", "--source", str(src), "--out", str(out), *args]
    row = measure(name, cmd, env=env)
    row["timings_s"] = json.loads((out / "build.json").read_text())["timings_s"]
    return row


def spark_builds(src: Path, duckdb_s: float) -> list[dict]:
    """The Spark builds of ``src``: ``local[2]``, then a standalone cluster and its Spark
    Connect server (``wb.warehouse.cluster``, started here and stopped by PID after), each
    with its time as a multiple of ``duckdb_s`` (the DuckDB build of the same source)."""
    from wb.warehouse import cluster

    rows = [
        _build(
            "wb warehouse build, Spark local[2]", src, BENCH / "wh_build_spark",
            ["--engine", "spark", "--spark-master", "local[2]"],
        )
    ]  # fmt: skip
    root = BENCH / "spark-cluster"
    config = cluster.ClusterConfig(
        root=root, master_port=cluster.free_port(), connect_port=cluster.free_port()
    )
    try:
        c = cluster.start(config)
        rows.append(
            _build(
                "wb warehouse build, Spark standalone (1 core)", src, BENCH / "wh_build_standalone",
                ["--engine", "spark", "--spark-master", c.master_url], env=c.client_env(),
            )
        )  # fmt: skip
        rows.append(
            _build(
                "wb warehouse build, Spark Connect (1 core)", src, BENCH / "wh_build_connect",
                ["--engine", "spark", "--spark-remote", c.remote_url],
            )
        )  # fmt: skip
    finally:
        print("\n".join(cluster.stop(root)), flush=True)
    for row in rows:
        row["times_duckdb"] = round(row["wall_s"] / duckdb_s, 2)
        print(f"{row['name']:<52} {row['times_duckdb']:8.2f}x the DuckDB build", flush=True)
    return rows


def spark_only(src: Path) -> list[dict]:
    """``--spark SRC``: one DuckDB build of ``src`` and its Spark builds."""
    BENCH.mkdir(exist_ok=True)
    duck = _build(
        "wb warehouse build, DuckDB", src, BENCH / "wh_build_duckdb",
        ["--memory-limit", MEMORY_LIMIT],
    )  # fmt: skip
    results = [duck, *spark_builds(src, duck["wall_s"])]
    (BENCH / "warehouse_spark.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {BENCH / 'warehouse_spark.json'}")
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--reference":
        reference_query(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "--independent":
        reference_query(sys.argv[2], sys.argv[3], sql=INDEPENDENT_SQL)
    elif len(sys.argv) == 4 and sys.argv[1] == "--without-rules":
        build_without_new_rules(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--rules"]:  # --rules [N_RMS]: a smaller source when given
        BENCH.mkdir(exist_ok=True)
        n_rms = int(sys.argv[2]) if len(sys.argv) > 2 else N_RMS
        result = rule_cost(source("all", n_rms))
        (BENCH / "warehouse_rules.json").write_text(json.dumps(result, indent=2))
    elif len(sys.argv) == 3 and sys.argv[1] == "--spark":
        spark_only(Path(sys.argv[2]))
    else:
        main(spark="--no-spark" not in sys.argv)
