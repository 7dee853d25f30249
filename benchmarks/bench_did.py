"""Full-scale timing of ``wb.uplift.event_study`` on 100,000 RMs × 36 months (3.6M rows); never in CI.

Each design runs in its own process (load + ``prepare`` + the design); the design's wall time
is measured inside the process, peak RSS of the whole process from ``os.wait4``. ``load`` is
the baseline (load and prepare only). ``all`` runs every event study and the imputation
Wald-DiD in one process, as ``wb uplift`` would, and is held to the budget: ≤ 100 s of DiD
work and ≤ 5 GB peak. ``--reference`` adds diff-diff's own ``ImputationDiD`` event study on
adds (about 100 s and 3 GB) to show why the BJS route is in house.

Usage: ``.venv/bin/python benchmarks/bench_did.py [--reference]``. Writes
``.bench/did_results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
DATA = BENCH / "rm_month_100000x36.parquet"
BUDGET_S, BUDGET_GB = 100.0, 5.0
OUTCOMES = ("aum_change_cny", "wecom_adds", "wecom_certified_adds")
DESIGNS = (
    "load",
    *(f"callaway_santanna:{o}" for o in OUTCOMES),
    *(f"imputation:{o}" for o in OUTCOMES),
    "wald:imputation",
    "wald:callaway_santanna",
    "all",
)


# --------------------------------------------------------------------------- worker


def _run_design(design: str, panel) -> dict:
    """Run one design on a prepared panel; return its results (ATT, SE, pre-trend p)."""
    from wb.uplift import event_study, wald_did

    kind, _, arg = design.partition(":")
    if kind == "wald":
        return wald_did.wald_did(event_study.cohort_frame(panel), estimator=arg).to_json()
    if kind == "all":
        studies = {
            o: {
                e: event_study.event_study(event_study.cohort_frame(panel), o, e)
                for e in event_study.ESTIMATORS
            }
            for o in event_study.OUTCOMES
        }
        return {
            "wald": wald_did.wald_did(event_study.cohort_frame(panel)).to_json(),
            **{f"{e}:{o}": _summary(s) for o, by in studies.items() for e, s in by.items()},
        }
    if kind == "diff_diff_imputation":
        return _diff_diff_imputation(event_study.cohort_frame(panel), arg)
    return _summary(event_study.event_study(event_study.cohort_frame(panel), arg, kind))


def _summary(study) -> dict:
    return {"att": study.att, "att_se": study.att_se, "pretrend_p": study.pretrend_p}


def _diff_diff_imputation(frame, outcome: str) -> dict:
    from diff_diff import ImputationDiD

    steps = {}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ImputationDiD(cluster="cluster", horizon_max=12, pretrends=True).fit(
            frame, outcome=outcome, unit="unit", time="time", first_treat="first_treat"
        )
        steps["fit_s"] = time.perf_counter() - start
        result.aggregate("event_study")
        steps["event_study_s"] = time.perf_counter() - start - steps["fit_s"]
        pretrend = result.pretrend_test(n_leads=11)
    steps["pretrend_s"] = time.perf_counter() - start - steps["fit_s"] - steps["event_study_s"]
    return {
        "att": result.overall_att,
        "att_se": result.overall_se,
        "pretrend_p": pretrend["p_value"],
        **{k: round(v, 1) for k, v in steps.items()},
    }


def worker(design: str) -> None:
    from wb.door.io import load
    from wb.uplift.sample import prepare

    start = time.perf_counter()
    panel = prepare(load(DATA).frame)
    loaded = time.perf_counter()
    result = {} if design == "load" else _run_design(design, panel)
    print(
        json.dumps(
            {"load_s": loaded - start, "design_s": time.perf_counter() - loaded, "result": result}
        )
    )


# --------------------------------------------------------------------------- driver


def ensure_input() -> Path:
    """The 100k-RM export: wait while ``make bench`` may be writing it, else simulate it."""
    while not DATA.is_file() and _make_bench_running():
        time.sleep(10)
    if not DATA.is_file():
        BENCH.mkdir(exist_ok=True)
        cli = [sys.executable, "-m", "wb.cli", "simulate", "--out", str(DATA), "--seed", "1"]
        subprocess.run([*cli, "--rms", "100000", "--months", "36"], cwd=ROOT, check=True)
    return DATA


def _make_bench_running() -> bool:
    return subprocess.run(["pgrep", "-f", "benchmarks/run.py"], capture_output=True).returncode == 0


def measure(design: str) -> dict:
    """Run one design in a fresh process; its timings, results and peak RSS (GB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", design], cwd=ROOT, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{design} failed:\n{err.read().decode()[-2000:]}")
        row = {"design": design, **json.loads(out.read().decode().strip().splitlines()[-1])}
    row["peak_rss_gb"] = usage.ru_maxrss / 1e6
    return row


def _truth() -> dict:
    truth = json.loads(DATA.with_name(DATA.name + ".truth.json").read_text(encoding="utf-8"))
    return {
        "first_stage_adds": truth["realised"]["first_stage_adds_per_quota_month"],
        "beta_quota": truth["true_effects"]["beta_quota_cny_per_add"],
    }


def _print(row: dict) -> None:
    res = row["result"]
    att = res.get("att", res.get("coef"))
    shown = "" if att is None else f"ATT {att:,.2f} (SE {res.get('att_se', res.get('se')):,.2f})"
    print(
        f"{row['design']:<38} {row['design_s']:7.1f} s  {row['peak_rss_gb']:5.2f} GB  "
        f"(load {row['load_s']:.1f} s)  {shown}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also time diff-diff's ImputationDiD event study on adds",
    )
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    ensure_input()
    designs = [*DESIGNS, *(["diff_diff_imputation:wecom_adds"] if args.reference else [])]
    rows = []
    for design in designs:
        rows.append(measure(design))
        _print(rows[-1])
    full = rows[designs.index("all")]
    ok = full["design_s"] <= BUDGET_S and full["peak_rss_gb"] <= BUDGET_GB
    print(
        f"all DiD work in one process: {full['design_s']:.1f} s, {full['peak_rss_gb']:.2f} GB "
        f"peak; budget {BUDGET_S:.0f} s / {BUDGET_GB:.0f} GB: {'OK' if ok else 'MISSED'}"
    )
    print(f"truth: {_truth()}")
    (BENCH / "did_results.json").write_text(json.dumps({"truth": _truth(), "rows": rows}, indent=2))
    print(f"wrote {BENCH / 'did_results.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
