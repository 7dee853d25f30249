"""Benchmark ``wb run params/demo.yaml`` warm: seconds to a checked PDF (target ≤ 60 s).

One warm-up run (font cache, bytecode, kernel spec), then timed ``--force`` runs into a
temporary folder (nothing is written to the repository). Prints the wall time of each timed run
and the per-notebook and brief times from its manifest; exits 1 when the best run misses the
target. ``benchmarks/run.py`` imports :func:`bench`.

Usage: ``.venv/bin/python benchmarks/bench_run.py [PARAMS] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WB = str(ROOT / ".venv" / "bin" / "wb")
TARGET_S = 60.0


def _run(params: Path, out: Path) -> tuple[float, Path]:
    start = time.perf_counter()
    done = subprocess.run(
        [WB, "run", str(params), "--out", str(out), "--force"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"wb run exited {done.returncode}:\n{done.stderr[-2000:]}")
    return wall, Path(done.stdout.strip().splitlines()[-1])


def bench(params: Path = ROOT / "params" / "demo.yaml", repeat: int = 1) -> dict:
    """Warm up once, then time ``repeat`` forced runs; return the timings (seconds)."""
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        out = Path(tmp) / "runs"
        _run(params, out)
        walls, steps = [], {}
        for _ in range(repeat):
            wall, folder = _run(params, out)
            walls.append(wall)
            record = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            steps = {n["name"]: n["duration_s"] for n in record["notebooks"]}
            steps["brief"] = record["brief"]["duration_s"]
    best = min(walls)
    return {
        "name": f"wb run {params.name} (warm)",
        "wall_s": round(best, 1),
        "runs_s": [round(w, 1) for w in walls],
        "steps_s": steps,
        "target_s": TARGET_S,
        "ok": best <= TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("params", nargs="?", type=Path, default=ROOT / "params" / "demo.yaml")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs after the warm-up")
    args = parser.parse_args(argv)
    result = bench(args.params.resolve(), args.repeat)
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in result["steps_s"].items())
    verdict = "OK" if result["ok"] else "OVER TARGET"
    print(
        f"{result['name']}: {result['wall_s']:.1f} s to a checked PDF ({steps}); "
        f"target ≤ {TARGET_S:.0f} s: {verdict}"
    )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
