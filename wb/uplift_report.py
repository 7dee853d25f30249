"""Write an uplift analysis to a folder: ``uplift.json`` (validated) and its figures.

Used by ``wb uplift`` and by the uplift notebook. Every file is written atomically; the set is
staged in a hidden folder first, so an interrupted run leaves earlier outputs in place and no
half-written file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from wb import io
from wb.simulate import truth_path
from wb.uplift import UpliftResult, estimate
from wb.uplift_schema import validate_document

JSON_NAME = "uplift.json"


def simulated_truth(data: Path) -> dict | None:
    """The true effects when ``data`` was written by ``wb simulate`` (its truth file is beside it)."""
    path = truth_path(Path(data))
    if not path.is_file():
        return None
    return json.loads(path.read_text("utf-8"))["true_effects"]


def demo_export(out_dir: str | os.PathLike[str]) -> Path:
    """Write (or reuse) the default simulated export in ``out_dir``; return its path."""
    from wb.simulate import SimulationConfig
    from wb.simulate import write as simulate_write

    path = Path(out_dir) / "simulated_rm_month.parquet"
    if not (path.is_file() and truth_path(path).is_file()):
        simulate_write(SimulationConfig(), path)
    return path


def analyse(
    data: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, quick: bool = False
) -> UpliftResult:
    """Load and validate ``data``, estimate, and write ``uplift.json`` (+ figures unless quick).

    Raises :class:`~wb.errors.InputError` (exit 2) before anything is written when the input
    is invalid.
    """
    data = Path(data)
    loaded = io.load(data, "rm_month")
    truth = simulated_truth(data)
    label = f"simulated export {data.name}" if truth else f"RM x month export {data.name}"
    result = estimate(loaded.frame, data_label=label, simulated_truth=truth)
    write(result, out_dir, figures=not quick)
    return result


def write(
    result: UpliftResult, out_dir: str | os.PathLike[str], *, figures: bool = True
) -> list[Path]:
    """Write ``uplift.json`` and (optionally) the figures as PNG and SVG into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = result.to_json()
    validate_document(doc)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".uplift-staging-"))
    try:
        (staging / JSON_NAME).write_text(
            json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if figures:
            # The plotting stack loads only when figures are drawn: ~1 s of a --quick run.
            import matplotlib.pyplot as plt

            from wb.plots.uplift import FIGURES
            from wb.theme import save_figure

            for stem, draw in FIGURES.items():
                fig = draw(result)
                save_figure(fig, staging, stem)
                plt.close(fig)
        written = []
        for path in sorted(staging.iterdir()):
            os.chmod(path, 0o644)
            os.replace(path, out / path.name)
            written.append(out / path.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
