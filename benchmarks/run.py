"""Full-scale benchmarks (``make bench``; never in CI): 100,000 RMs × 36 months.

Each measurement runs in its own process; wall time and the peak RSS of its largest process
(``wb uplift``'s worker processes included) are taken from ``os.wait4``. The uplift runs and the
bare three-``feols`` script run back to back, ``ROUNDS`` times, and the ratios' medians are
reported. Inputs are cached in ``.bench/``. Prints a table and writes ``.bench/results.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
WB = [sys.executable, "-m", "wb.cli"]
N_RMS, N_MONTHS = 100_000, 36
#: Rounds of (bare script, --quick, full) run back to back; the ratios' medians are reported.
ROUNDS = 3


def measure(
    name: str, cmd: list[str], target_s: float | None = None, target_gb: float | None = None
) -> dict:
    """Run ``cmd``; return wall seconds and peak RSS (GB) of that process tree's largest member."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{name} failed (exit {code}):\n{err[-2000:]}")
    row = {
        "name": name,
        "wall_s": round(wall, 2),
        "peak_rss_gb": round(usage.ru_maxrss / 1e6, 2),
        "target_s": target_s,
        "target_gb": target_gb,
        "stdout_tail": out.strip()[-300:],
    }
    ok = (target_s is None or wall <= target_s) and (
        target_gb is None or row["peak_rss_gb"] <= target_gb
    )
    row["meets_target"] = ok
    row["per_design_s"] = {
        name: float(sec.removesuffix(" s"))
        for line in err.splitlines()
        if line.startswith("time: ")
        for name, sec in [line.removeprefix("time: ").rsplit(": ", 1)]
    }
    print(
        f"{name:<44} {wall:7.1f} s  {row['peak_rss_gb']:5.2f} GB  "
        f"target {target_s or '-'} s / {target_gb or '-'} GB  {'OK' if ok else 'MISSED'}",
        flush=True,
    )
    for name, seconds in row["per_design_s"].items():
        print(f"    {name:<52} {seconds:6.1f} s", flush=True)
    return row


def inputs() -> dict[str, Path]:
    """Simulate the full-scale export once, as Parquet and CSV."""
    BENCH.mkdir(exist_ok=True)
    paths = {}
    for suffix in ("parquet", "csv"):
        path = BENCH / f"rm_month_{N_RMS}x{N_MONTHS}.{suffix}"
        if not path.is_file():
            subprocess.run(
                [
                    *WB,
                    "simulate",
                    "--out",
                    str(path),
                    "--rms",
                    str(N_RMS),
                    "--months",
                    str(N_MONTHS),
                    "--seed",
                    "1",
                ],
                check=True,
                cwd=ROOT,
            )
        paths[suffix] = path
    return paths


def main() -> None:
    paths = inputs()
    rows = [
        measure(
            "wb validate (Parquet, 3.6M rows)",
            [*WB, "validate", "--data", str(paths["parquet"])],
            target_s=10,
        ),
        measure(
            "wb validate (CSV, 3.6M rows)",
            [*WB, "validate", "--data", str(paths["csv"])],
            target_s=30,
        ),
    ]
    out = BENCH / "uplift"
    bare_cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "bare_pyfixest.py"),
        str(paths["parquet"]),
    ]
    quick_cmd = [*WB, "uplift", "--data", str(paths["parquet"]), "--out", str(out), "--quick"]
    full_cmd = [*WB, "uplift", "--data", str(paths["parquet"]), "--out", str(out)]
    ratios: dict[str, list[float]] = {"quick time": [], "quick memory": [], "full time": []}
    for _ in range(ROUNDS):  # back to back, so each ratio compares runs on the same machine state
        bare = measure("bare pyfixest: 3 feols calls (3.6M rows)", bare_cmd)
        quick = measure("wb uplift --quick (3.6M rows)", quick_cmd)
        full = measure("wb uplift, full with figures (3.6M rows)", full_cmd, 180, 8)
        ratios["quick time"].append(quick["wall_s"] / bare["wall_s"])
        ratios["quick memory"].append(quick["peak_rss_gb"] / bare["peak_rss_gb"])
        ratios["full time"].append(full["wall_s"] / bare["wall_s"])
        rows += [bare, quick, full]
    goals = {"quick time": 0.25, "quick memory": 0.3, "full time": 1.0}
    for name, values in ratios.items():
        median = statistics.median(values)
        print(
            f"{'ratio ' + name + ' / bare pyfixest':<44} median {median:.2f} "
            f"({', '.join(f'{v:.2f}' for v in values)}; goal <= {goals[name]})"
        )
        rows.append({"name": f"ratio {name}", "median": round(median, 3), "rounds": values})
    from bench_run import bench  # one warm-up run, then the timed run

    demo = bench()
    print(
        f"{demo['name']:<44} {demo['wall_s']:7.1f} s  (after a warm-up run)  target "
        f"{demo['target_s']:.0f} s  {'OK' if demo['ok'] else 'MISSED'}",
        flush=True,
    )
    rows.append(demo)
    (BENCH / "results.json").write_text(json.dumps(rows, indent=2))
    print(f"wrote {BENCH / 'results.json'}")


if __name__ == "__main__":
    if "--warehouse" in sys.argv[1:]:  # the warehouse build (make bench BENCH_ARGS=--warehouse)
        from bench_customer_uplift import main as customer_uplift_main
        from bench_warehouse import main as warehouse_main

        spark = "--no-spark" not in sys.argv[1:]
        if "--customer-uplift-only" not in sys.argv[1:]:
            warehouse_main(spark=spark)
        customer_uplift_main(spark=spark)  # the customer-level event study
    else:
        main()
