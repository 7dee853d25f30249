"""Customer-level uplift benchmark (``make bench BENCH_ARGS=--warehouse``).

On the warehouse benchmark's simulated source (29,000 RMs x ~40 customers x 36 months, about
40M customer-months; made once by :mod:`bench_warehouse`, or ``--source PATH`` / the
``WB_BENCH_SOURCE`` environment variable for an existing one, read only), each in its own
process (wall time and peak RSS from ``os.wait4``):

* ``wb warehouse uplift`` on DuckDB, with the table rules checked (the default);
* the same with ``--no-check`` (a source already validated, e.g. right after a build);
* ``wb warehouse uplift --engine spark --spark-master local[2] --no-check``.

Goal: the DuckDB event study in <= 2 minutes and <= 4 GB peak RSS. Results are appended to
``.bench/customer_uplift.json`` with the estimates and the simulated truth.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_warehouse import BENCH, WB, _rows, measure, source

MEMORY_LIMIT = "2500MB"
GOAL_S, GOAL_GB = 120.0, 4.0


def _estimates(out: Path) -> dict:
    doc = json.loads((out / "customer_uplift.json").read_text())
    return {
        "att_by_kind": {
            k: {m: v[m] for m in ("coef", "ci_low", "ci_high")}
            for k, v in doc["att_by_kind"].items()
        },
        "pretrend_p": {k: v["p_value"] for k, v in doc["pretrend"].items()},
        "truth": (doc.get("truth") or {}).get("att_by_kind"),
        "n": {k: doc["n"][k] for k in ("customers", "bound_used", "branches", "cells")},
        "timings_s": doc["timings_s"],
    }


def main(spark: bool = True, src: str | None = None) -> list[dict]:
    BENCH.mkdir(exist_ok=True)
    full = Path(src or os.environ.get("WB_BENCH_SOURCE") or source("all"))
    rows_m = _rows(full) / 1e6
    runs = [
        ("DuckDB, rules checked", ["--memory-limit", MEMORY_LIMIT], None),
        ("DuckDB, --no-check", ["--memory-limit", MEMORY_LIMIT, "--no-check"], None),
    ]
    if spark:
        runs.append(
            (
                "Spark local[2], --no-check",
                ["--engine", "spark", "--spark-master", "local[2]", "--no-check"],
                {"PYSPARK_SUBMIT_ARGS": "--driver-memory 3g pyspark-shell"},
            )
        )
    results = []
    for label, args, env in runs:
        out = BENCH / f"cu_{label.split(',')[0].split()[0].lower()}_{len(results)}"
        shutil.rmtree(out, ignore_errors=True)
        row = measure(
            f"wb warehouse uplift, {label} ({rows_m:.1f}M cm rows)",
            [*WB, "warehouse", "uplift", "--source", str(full), "--out", str(out), *args],
            env=env,
        )
        row |= _estimates(out)
        if label.startswith("DuckDB"):
            row["goal"] = f"<= {GOAL_S:.0f} s, <= {GOAL_GB:.0f} GB"
            row["meets_goal"] = row["wall_s"] <= GOAL_S and row["peak_rss_gb"] <= GOAL_GB
            print(f"    goal {row['goal']}: {'OK' if row['meets_goal'] else 'MISSED'}", flush=True)
        results.append(row)
    (BENCH / "customer_uplift.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {BENCH / 'customer_uplift.json'}")
    return results


if __name__ == "__main__":
    args = sys.argv[1:]
    given = args[args.index("--source") + 1] if "--source" in args else None
    main(spark="--no-spark" not in args, src=given)
