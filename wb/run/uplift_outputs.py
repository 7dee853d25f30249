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
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from wb.door import io, provenance
from wb.door.atomic import file_mode, writable_dir, write_json
from wb.door.workers import run_all
from wb.uplift.estimation import check_supported, fit
from wb.uplift.quality import QUALITY_COLUMNS, AddQuality, attach, estimate_quality, read_quality
from wb.uplift.result import UpliftResult
from wb.uplift.sample import prepare
from wb.uplift.schema import validate_document
from wb.uplift.simulate import truth_path
from wb.warehouse.progress import Progress

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from wb.uplift.designs import Designs

JSON_NAME = "uplift.json"


def simulated_truth(data: Path) -> dict | None:
    """The true effects when ``data`` was written by ``wb simulate`` (its truth file is beside it)."""
    path = truth_path(Path(data))
    if not path.is_file():
        return None
    return json.loads(path.read_text("utf-8"))["true_effects"]


def demo_export(folder: str | os.PathLike[str] | None = None) -> Path:
    """Write (or reuse) the default simulated export in ``folder`` (default: ``wb-demo`` in the
    system's temporary folder, so an analysis that writes nothing leaves no file in the
    project); return its path."""
    from wb.uplift import simulate

    where = Path(folder) if folder is not None else Path(tempfile.gettempdir()) / "wb-demo"
    path = where / "simulated_rm_month.parquet"
    if not (path.is_file() and truth_path(path).is_file()):
        simulate.write(simulate.SimulationConfig(), path)
    return path


@dataclass(frozen=True)
class Analysis:
    """What ``wb uplift`` computes: the contract estimates and, unless quick, the designs."""

    result: UpliftResult
    designs: Designs | None
    add_quality: AddQuality | None = None

    def to_json(self) -> dict:
        """The ``uplift.json`` document: the contract keys plus the design keys, and the
        ``add_quality`` block when the add-quality counts were given."""
        doc = self.result.to_json()
        if self.designs is not None:
            doc.update(self.designs.to_json())
        if self.add_quality is not None:
            doc["add_quality"] = self.add_quality.to_json()
        return doc


def analyse(
    data: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    quick: bool = False,
    seed: int = 1,
    label: str | None = None,
    simulated: bool | None = None,
    quality: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    workers: int | None = None,
) -> Analysis:
    """Load and validate ``data``, estimate, and write ``uplift.json`` and the figures into
    ``out_dir``; without ``out_dir`` nothing is written (draw a figure with :func:`draw`).

    ``quick``: only the contract's three estimates and diagnostics, no designs, no figures.
    ``seed`` drives the designs' bootstraps. ``label`` names the data in the outputs (default:
    its neutral label). Simulated data are marked simulated in every output: a file that
    carries the ``wb simulate`` stamp (:mod:`wb.door.provenance`; the export itself or the
    add-quality table) always is, whatever its name or folder, with the stamp's true effects;
    ``simulated=True`` marks the data simulated too (params ``simulate:``); ``None`` (default)
    or ``True`` read the true effects from the simulator's truth file when one lies beside it
    (``wb run`` puts one beside a panel built from a simulated warehouse), ``simulated=False``
    ignores that file (it cannot unmark a stamped file). ``quality``: the build's ``add_quality.parquet``, to say what a quota-induced
    add is (:mod:`wb.uplift.quality`). ``workers``: processes that run the estimates, the
    designs and the figures side by side (default: one per usable core; 1 runs everything in
    this process; :func:`wb.door.workers.run_all`); the outputs are the same for any number.
    Each step is reported on stderr as it starts and ends (a bar on a terminal;
    :class:`~wb.warehouse.progress.Progress`) unless ``quiet``.
    Raises :class:`~wb.errors.InputError` (exit 2)
    before anything is written when ``out_dir`` cannot be written, the input is invalid or
    cannot support the analysis. The file's name is never written: outputs name it by its
    neutral label (:func:`wb.door.io.neutral_label`).
    """
    data = Path(data)
    if out_dir is not None:
        writable_dir(out_dir)
    steps = 2 + (quality is not None) + (out_dir is not None)
    progress = Progress(steps, label="uplift", quiet=quiet)
    try:
        with progress.step("load and validate the export"):
            loaded = io.load(data, "rm_month")
            frame = loaded.frame
            stamp = loaded.stamp
            truth = simulated_truth(data) if simulated is not False else None
            counts = None
            if quality is None:
                sample = prepare(frame, coded=loaded.coded, outcomes=not quick)
            else:  # the counts merged beside the rows: factorised anew
                counts = read_quality(quality)
                stamp = stamp or counts.attrs.get(provenance.KEY)
                frame = attach(frame, counts)
                sample = prepare(frame, extra=QUALITY_COLUMNS[2:])
        if truth is None and stamp is not None:
            truth = stamp.get("true_effects")
        marked = bool(simulated) or stamp is not None or truth is not None
        label = "simulated export" if marked else (label or f"RM x month export ({loaded.label})")
        add_quality = None
        if counts is not None:
            with progress.step("add quality"):
                add_quality = estimate_quality(sample)
        if quick:  # the contract fits need only the sample: ~0.5 GB less at 3.5M rows
            del frame, loaded
        fit_result = partial(
            fit, sample, data_label=label, simulated_truth=truth, binned=not quick, simulated=marked
        )
        designs = None
        if quick:
            with progress.step("three estimates and diagnostics"):
                result = fit_result()
        else:  # imported here: the designs' stack (scipy.stats) loads in ~2 s
            from wb.uplift.designs import plan_designs

            with progress.step("three estimates, diagnostics and designs"):
                check_supported(sample)  # exit 2 here, before a worker starts a design
                plan = plan_designs(frame, sample, seed=seed)
                # the estimates first: should they and a design both fail, theirs is raised
                done = run_all({"estimates": fit_result, **plan.pieces}, workers)
                result, designs = done["estimates"], plan.collect(done)
        analysis = Analysis(result, designs, add_quality)
        if out_dir is not None:
            with progress.step("write uplift.json" + ("" if quick else " and the figures")):
                write(analysis, out_dir, figures=not quick, workers=workers)
    finally:
        progress.close()
    return analysis


def _figures(analysis: Analysis, doc: dict) -> dict[str, Callable[[], Figure]]:
    """Figure stem → a function drawing it (the plotting stack loads only when called)."""
    from wb.plots.bunching import bunching_figure
    from wb.plots.designs import designs_forest
    from wb.plots.dynamic import dynamic_figure
    from wb.plots.event_study import event_study_figure
    from wb.plots.quality import add_quality_funnel
    from wb.plots.sensitivity import sensitivity_figure
    from wb.plots.uplift import FIGURES, data_source

    result, designs = analysis.result, analysis.designs
    figures = {stem: partial(draw, result) for stem, draw in FIGURES.items()}
    look = {"source": data_source(result), "simulated": result.simulated}
    if analysis.add_quality is not None:
        figures["uplift_add_quality"] = partial(add_quality_funnel, analysis.add_quality, **look)
    if designs is None:
        return figures
    if designs.event_studies:
        figures["uplift_event_study"] = partial(event_study_figure, designs.event_studies, **look)
    if designs.bunching is not None:
        figures["uplift_bunching"] = partial(bunching_figure, designs.bunching, **look)
    if designs.dynamic_effects is not None:
        figures["uplift_dynamic"] = partial(dynamic_figure, designs.dynamic_effects, **look)
    if designs.trend_sensitivity is not None:
        figures["uplift_sensitivity"] = partial(
            sensitivity_figure, designs.trend_sensitivity, **look
        )
    figures["uplift_designs"] = partial(designs_forest, doc, **look)
    return figures


def draw(analysis: Analysis, stem: str) -> Figure | None:
    """One of the analysis's figures, drawn from the result objects (nothing is read from
    disk); ``None`` when the data could not support it (see ``designs.notes``)."""
    draw_one = _figures(analysis, analysis.to_json()).get(stem)
    return draw_one() if draw_one is not None else None


def _save(draw: Callable[[], Figure], folder: Path, stem: str) -> None:
    """Draw one figure and save it as ``folder/stem`` PNG and SVG."""
    import matplotlib.pyplot as plt

    from wb.plots.theme import save_figure

    fig = draw()
    save_figure(fig, folder, stem)
    plt.close(fig)


def write(
    analysis: Analysis,
    out_dir: str | os.PathLike[str],
    *,
    figures: bool = True,
    workers: int | None = None,
) -> list[Path]:
    """Write ``uplift.json`` and (optionally) the figures as PNG and SVG into ``out_dir``; the
    figures are drawn by ``workers`` processes (:func:`wb.door.workers.run_all`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = analysis.to_json()
    validate_document(doc)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".uplift-staging-"))
    try:
        write_json(doc, staging / JSON_NAME)
        if figures:
            drawings = _figures(analysis, doc)
            run_all(
                {stem: partial(_save, d, staging, stem) for stem, d in drawings.items()}, workers
            )
        written = []
        for path in sorted(staging.iterdir()):
            os.chmod(path, file_mode())
            os.replace(path, out / path.name)
            written.append(out / path.name)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
