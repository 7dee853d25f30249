"""``wb run``: execute the notebooks of a params file into a new run folder, then the brief.

Order of work (docs/operations.md):

1. load and validate the params and the data files named by a schema key (exit 2, no
   folder), check the kernel (exit 5) and the CJK
   font (exit 6);
2. take ``flock`` on ``<out>/.lock`` (held: exit 75); stale staging folders of killed runs
   are moved to ``<out>/failed/``;
3. skip when ``latest`` was made from the same params, data, notebooks, code and lock file
   (unless ``force``);
4. in ``<out>/.staging-<run_id>/``: simulate inputs, build warehouse panels and their
   customer-level uplift (``artifacts/customer_uplift/<key>/``), execute each notebook with papermill
   (kernel named explicitly, per-cell timeout, one retry only when the kernel fails to
   start), build and check the brief, write ``manifest.json``;
5. promote with ``os.rename`` to ``<out>/<run_id>/`` and swap ``<out>/latest`` atomically.

On failure nothing is promoted and ``latest`` is untouched: the staging folder moves to
``<out>/failed/<run_id>/`` with its manifest, and the error carries a three-line summary and
the exit code of the exit codes in README.md. SIGINT and SIGTERM are such failures too: the manifest says
``interrupted`` and the exit code is 130 or 143.

The pieces live beside this module: :mod:`wb.run.folders` (the out folder, lock, staging,
promotion, file modes), :mod:`wb.run.inputs` (data files, their hashes and labels, simulated
and warehouse inputs) and :mod:`wb.run.kernel` (papermill and the kernel). Every file of a run
folder gets one mode (:func:`wb.door.atomic.file_mode`: group-readable, not world-writable).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from wb.door.interrupts import Signalled, signals_raise
from wb.door.workers import one_blas_thread
from wb.errors import ExportError, RunInterrupted, WbError
from wb.run import brief, kernel, manifest, workbook
from wb.run.folders import (
    ARTIFACTS_DIR,
    FAILED,
    STAGING,
    check_out,
    free_name,
    locked,
    normalise_modes,
    promote,
    salvage_stale,
    up_to_date,
)
from wb.run.inputs import CODE_ROOT, Inputs, key_parts, validate_inputs
from wb.run.notebook_parameters import declared_parameters
from wb.run.params import NotebookSpec, RunParams, load

Say = Callable[[str], None]


@dataclass(frozen=True)
class RunResult:
    """Where a run ended up; ``up_to_date`` when nothing ran because ``latest`` matches."""

    folder: Path
    run_id: str
    up_to_date: bool = False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


class Run:
    """One execution of a params file into a staging folder (see module docstring)."""

    def __init__(self, params: RunParams, params_path: Path, out: Path, say: Say) -> None:
        self.params = params
        self.params_path = params_path
        self.out = out
        self.say = say
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        base = f"{_slug(params.period)}-{params.digest()[:8]}-{stamp}"
        self.run_id = free_name(out, base).name
        self.staging = out / f"{STAGING}{self.run_id}"
        self.artifacts = self.staging / ARTIFACTS_DIR
        self.inputs = Inputs(params, self.staging, say)
        self.parts = key_parts(params, self.inputs.file_hashes | self.inputs.source_prints)
        self.key = manifest.run_key(self.parts)
        self.epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or params.source_date_epoch())
        self.record: dict[str, Any] = {}

    # -- record ---------------------------------------------------------------------------

    def _start_record(self) -> None:
        self.record = {
            "schema": manifest.SCHEMA,
            "run_id": self.run_id,
            "status": "running",
            "exit_code": None,
            "error": None,
            "period": self.params.period,
            "title": self.params.brief.title,
            "params_file": str(self.params_path),
            "params": self.inputs.public_params(),
            "params_sha256": self.parts["params"],
            "run_key": self.key,
            "key_parts": self.parts,
            "data": self.inputs.start_data(),
            "code": {
                "wb_source_sha256": self.parts["wb"],
                "constraints_sha256": self.parts["constraints"],
                "python": platform.python_version(),
                "packages": manifest.versions(),
                **{f"git_{k}": v for k, v in manifest.git_state(CODE_ROOT).items()},
            },
            "kernel": self.params.kernel,
            "host": platform.node(),
            "trigger": os.environ.get("WB_TRIGGER", "manual"),
            "source_date_epoch": self.epoch,
            "started": _now(),
            "ended": None,
            "duration_s": None,
            "notebooks": [
                {"name": nb.name, "section": nb.section, "status": "not run", "duration_s": None}
                for nb in self.params.notebooks
            ],
        }
        self._save_record()

    def _save_record(self) -> None:
        manifest.write_json(self.record, self.staging / manifest.MANIFEST)

    def notebook_parameters(self, nb: NotebookSpec) -> dict[str, Any]:
        """What papermill injects: the notebook's own values, inputs, out_dir and run values."""
        declared = declared_parameters(nb.path)
        quality = self.inputs.quality
        values: dict[str, Any] = dict(nb.parameters)
        values.update({p: str(self.inputs.paths[key]) for p, key in nb.inputs.items()})
        values["out_dir"] = str(self.artifacts)
        labels = [self.inputs.labels[key] for key in nb.inputs.values()]
        run_values = {
            "period": self.params.period,
            "banks": list(self.params.banks),
            "seed": self.params.seed,
            "data_label": "simulated" if self.params.simulated(nb) else ", ".join(labels),
            "simulated": self.params.simulated(nb),
            "quality_path": next(
                (str(quality[key]) for key in nb.inputs.values() if key in quality),
                None,
            ),
        }
        values.update({k: v for k, v in run_values.items() if k in declared})
        return values

    def _notebooks(self) -> None:
        (self.staging / "notebooks").mkdir()
        with (self.staging / "run.log").open("a", encoding="utf-8") as log:
            for entry, nb in zip(self.record["notebooks"], self.params.notebooks, strict=True):
                self.say(f"{nb.name}: running")
                entry.update(status="running", started=_now())
                self._save_record()
                t0 = time.perf_counter()
                try:
                    entry["attempts"] = kernel.execute(
                        nb,
                        self.notebook_parameters(nb),
                        self.params,
                        (self.inputs.links, self.staging / "notebooks", self.artifacts),
                        log,
                        self.say,
                    )
                    entry["status"] = "ok"
                except WbError:
                    entry["status"] = "failed"
                    raise
                except Signalled:
                    entry["status"] = "interrupted"
                    raise
                finally:
                    entry.update(ended=_now(), duration_s=round(time.perf_counter() - t0, 2))
                    entry["output"] = f"notebooks/{nb.name}.ipynb"
                    self._save_record()
                self.say(f"{nb.name}: ok in {entry['duration_s']:.1f} s")

    def _brief(self) -> None:
        simulated = {nb.section for nb in self.params.notebooks if self.params.simulated(nb)}
        uplifts = self.inputs.customer_uplift
        customer = next(  # the customer-level uplift of the data the uplift notebook reads
            (
                uplifts[key]
                for nb in self.params.notebooks
                if nb.section == "uplift"
                for key in nb.inputs.values()
                if key in uplifts
            ),
            None,
        )
        t0 = time.perf_counter()
        brief.build(self.params, self.staging, self.artifacts, simulated, self.epoch, customer)
        workbook.write(
            self.artifacts, self.staging / workbook.WORKBOOK_NAME, period=self.params.period
        )
        self.record["brief"] = {"duration_s": round(time.perf_counter() - t0, 2)}
        self.say(f"brief: ok in {self.record['brief']['duration_s']:.1f} s")

    def _finish(self, status: str, code: int, error: dict[str, Any] | None) -> None:
        self.record.update(status=status, exit_code=code, error=error, ended=_now())
        started = datetime.fromisoformat(self.record["started"])
        self.record["duration_s"] = (datetime.now(UTC) - started).total_seconds()
        self.record["outputs"] = manifest.outputs(self.staging)
        self._save_record()

    def execute(self) -> RunResult:
        """Stage, run, check and promote; on failure (a signal included) move the staging
        folder to ``failed/``."""
        with signals_raise():
            try:
                self.staging.mkdir()
                self.artifacts.mkdir()
                self._start_record()
                (self.staging / "params.resolved.yaml").write_text(
                    yaml.safe_dump(self.inputs.public_params(), allow_unicode=True, sort_keys=True),
                    encoding="utf-8",
                )
                os.environ["SOURCE_DATE_EPOCH"] = str(self.epoch)
                one_blas_thread()  # the kernels' standard errors repeat bit for bit
                self.inputs.link()
                self.inputs.simulate()
                self.inputs.build_warehouses()
                self.inputs.customer_uplifts(self._save_record)
                self._notebooks()
                self._brief()
                self._finish("ok", 0, None)
                normalise_modes(self.staging)
            except BaseException as exc:
                error = self._fail(exc)
                if error is exc:
                    raise
                raise error from exc
            finally:
                if self.inputs.links is not None:
                    shutil.rmtree(self.inputs.links, ignore_errors=True)
            return RunResult(promote(self.staging, self.out, self.run_id), self.run_id)

    def _interrupted(self, exc: Signalled) -> RunInterrupted:
        """The contract error for a signal, naming the notebook it stopped."""
        name = signal.Signals(exc.signum).name
        running = next(
            (n["name"] for n in self.record.get("notebooks", []) if n["status"] == "interrupted"),
            None,
        )
        where = f"notebook {running}" if running else "the run"
        return RunInterrupted(
            f"run interrupted by {name}\n{name} arrived during {where}", exc.signum
        )

    def _fail(self, exc: BaseException) -> BaseException:
        """Record the failure and move the staging folder to ``failed/``; return the error to
        raise: a contract error with the three-line summary, or ``exc`` itself (a bug)."""
        if not self.staging.is_dir():  # stopped before the staging folder existed
            return self._interrupted(exc) if isinstance(exc, Signalled) else exc
        if isinstance(exc, Signalled):
            exc = self._interrupted(exc)
        if not self.record:
            self._start_record()
        code = exc.exit_code if isinstance(exc, WbError) else 1
        what = str(exc) if isinstance(exc, WbError) else f"{type(exc).__name__}: {exc}"
        where, _, detail = what.partition("\n")
        if not detail:
            stage = "export (figures, brief, PDF checks)" if isinstance(exc, ExportError) else "run"
            where, detail = f"{stage} failed", where
        failed_nb = next(
            (n for n in self.record["notebooks"] if n["status"] in ("failed", "interrupted")),
            None,
        )
        status = "interrupted" if isinstance(exc, RunInterrupted) else "failed"
        self._finish(status, code, {"where": where, "error": detail})
        normalise_modes(self.staging)
        target = free_name(self.out / FAILED, self.run_id)
        target.parent.mkdir(exist_ok=True)
        os.rename(self.staging, target)
        look = target / failed_nb["output"] if failed_nb else target
        if not isinstance(exc, WbError):
            return exc
        return exc.restated(f"{where}\n{detail}\nsee {look}")


def run(params_path: Path, out: Path, *, force: bool = False, say: Say = print) -> RunResult:
    """Validate, lock, skip if up to date, else execute into a new run folder.

    Parameters
    ----------
    params_path : Path
        The params YAML file.
    out : Path
        Folder holding the run folders, ``latest``, ``failed/`` and ``.lock``.
    force : bool
        Run even when ``latest`` was made from the same inputs.
    say : callable
        Progress sink, one line per call (the CLI prints to stderr).

    Raises
    ------
    WbError
        With the contract's exit code: 2 params, inputs or out folder, 3 cell raised,
        4 timeout, 5 kernel, 6 export, 75 locked, 130/143 interrupted by SIGINT/SIGTERM.
    """
    params = load(params_path)
    kernel.preflight(params)
    validate_inputs(params, say)
    out = check_out(out).resolve()
    with locked(out):
        check_out(out)
        salvage_stale(out, say)
        the_run = Run(params, params_path.resolve(), out, say)
        if not force and (latest := up_to_date(out, the_run.key)):
            return RunResult(latest, latest.name, up_to_date=True)
        say(f"run {the_run.run_id}: staging in {the_run.staging}")
        return the_run.execute()
