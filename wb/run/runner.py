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

Input files reach the notebooks under neutral names (``<key><suffix>`` in a private temporary
folder, linked to the file): their own file and folder names, which may hold personal data,
never appear in a notebook, the log, the manifest or the brief. Every file of a run folder
gets one mode (:func:`wb.door.atomic.file_mode`: group-readable, not world-writable).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml

from wb.door.atomic import dir_mode, file_mode, writable_dir
from wb.door.schemas import SCHEMA_NAMES
from wb.door.workers import one_blas_thread
from wb.errors import (
    CellError,
    ExportError,
    InputError,
    KernelError,
    LockedError,
    RunInterrupted,
    RunTimeoutError,
    WbError,
)
from wb.run import brief, manifest, workbook
from wb.run import params as params_mod
from wb.run.params import NotebookSpec, RunParams, WarehouseSpec

if TYPE_CHECKING:
    from wb.warehouse.source import EngineOptions

LOCK = ".lock"
LATEST = "latest"
FAILED = "failed"
STAGING = ".staging-"
ARTIFACTS_DIR = "artifacts"
#: Folder of ``artifacts/`` holding each warehouse entry's customer-level uplift.
CUSTOMER_UPLIFT = "customer_uplift"
#: Longest line of kernel output copied into ``run.log``; the rest of the line is cut.
MAX_LOG_LINE = 10_000


def _find_code_root() -> Path | None:
    """The checkout wb runs from, found by its files (``pyproject.toml`` beside ``wb/``).

    ``None`` when wb runs from an installed wheel: a run then records no lock hash or git state.
    """
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file() and (folder / "wb" / "__init__.py").is_file():
            return folder
    return None


#: The checkout wb runs from: its lock file and git state are part of a run's provenance.
CODE_ROOT = _find_code_root()
CONSTRAINTS = CODE_ROOT / "requirements" / "constraints.txt" if CODE_ROOT else None

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


def _file_record(path: Path, label: str) -> dict[str, Any]:
    """A file as the manifest records it: its label (never its name), size and sha256."""
    return {"label": label, "bytes": path.stat().st_size, "sha256": manifest.sha256_file(path)}


def input_files(params: RunParams) -> dict[str, Path]:
    """Every file the run reads (but the notebooks): data files and the logo."""
    files = {f"data.{k}": d.path for k, d in params.data.items() if d.path is not None}
    for key, path in list(files.items()):  # a bank panel is read with the sources.csv beside it
        if (beside := path.parent / "sources.csv").is_file() and beside != path:
            files[f"{key}.sources"] = beside
    if params.brief.logo and params.brief.logo.startswith("/"):
        files["brief.logo"] = Path(params.brief.logo)
    return files


def source_fingerprints(params: RunParams) -> dict[str, str]:
    """One hash per warehouse data entry, over its tables' fingerprints (files, sizes and
    Parquet footers, without reading the data; see :meth:`wb.warehouse.source.Source.fingerprints`):
    the up-to-date check's view of a warehouse source."""
    from wb.warehouse.source import open_source

    out = {}
    for key, spec in params.data.items():
        if spec.warehouse is None:
            continue
        source = open_source(spec.warehouse.source, warehouse_options(spec.warehouse))
        try:
            out[f"data.{key}.warehouse"] = manifest.run_key(source.fingerprints())
        finally:
            source.close()
    return out


def warehouse_options(spec: WarehouseSpec) -> EngineOptions:
    """The engine options of a params ``warehouse`` entry (Ibis is imported only here)."""
    from wb.warehouse.source import EngineOptions

    return EngineOptions(
        engine=spec.engine,
        spark_master=spec.spark_master,
        spark_remote=spec.spark_remote,
        memory_limit=spec.memory_limit,
    )


def key_parts(params: RunParams, file_hashes: dict[str, str] | None = None) -> dict[str, str]:
    """The named hashes that decide whether a run is up to date; ``file_hashes``: the sha256
    of each of :func:`input_files` when already computed."""
    if file_hashes is None:
        file_hashes = {k: manifest.sha256_file(p) for k, p in input_files(params).items()}
    return {
        "params": params.digest(),
        "data": manifest.run_key(file_hashes),
        "notebooks": manifest.run_key(
            {nb.name: manifest.sha256_file(nb.path) for nb in params.notebooks}
        ),
        "wb": manifest.package_source_hash(),
        "constraints": manifest.sha256_file(CONSTRAINTS)
        if CONSTRAINTS and CONSTRAINTS.is_file()
        else "",
    }


def preflight(params: RunParams) -> None:
    """Check the kernel and the CJK font before any folder is made."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from wb.plots.theme import ensure_cjk_font

    try:
        KernelSpecManager().get_kernel_spec(params.kernel)
    except NoSuchKernel as exc:
        raise KernelError(
            f"kernel '{params.kernel}' is not installed; 'make install' registers 'wb'"
        ) from exc
    ensure_cjk_font()


def validate_inputs(params: RunParams, say: Say) -> None:
    """Validate every data file whose key names a schema (``rm_month``, ``bank_panel``) before
    any folder or kernel: bad input is exit 2 naming the file (by its label), row and column,
    not a failed notebook (exit 3). An ``rm_month`` export must also support the uplift
    estimates (quota, adds and AUM vary; enough clusters): else exit 2 with the reason."""
    from wb.door import io
    from wb.uplift.estimation import fit, prepare

    for key, spec in params.data.items():
        if spec.path is not None and key in SCHEMA_NAMES:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", io.InputWarning)
                loaded = io.load(spec.path, key, label=spec.label)
            for warning in caught:
                say(f"data.{key}: {warning.message}")
            if key == "rm_month":
                try:
                    fit(prepare(loaded.frame), binned=False)
                except InputError as exc:
                    raise InputError(f"data.{key} ({loaded.label}): {exc}") from exc


def check_out(out: Path) -> Path:
    """The run folders' parent, checked before anything runs: a writable folder (not ``/``,
    not a file) whose ``latest`` is absent or a symlink. Raises :class:`InputError` (exit 2)."""
    writable_dir(out)
    latest = out / LATEST
    if latest.exists() and not latest.is_symlink():
        raise InputError(
            f"--out {out}: '{LATEST}' there is a real folder or file; wb keeps a symlink to the "
            "newest run there: move it away and run again"
        )
    return out


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``flock`` on ``<out>/.lock`` for the block; raise :class:`LockedError` if held."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / LOCK).open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockedError(f"another wb run holds {out / LOCK}; try again later") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def salvage_stale(out: Path, say: Say) -> None:
    """Move staging folders left by killed runs (we hold the lock) to ``<out>/failed/``."""
    for stale in sorted(out.glob(f"{STAGING}*")):
        run_id = stale.name.removeprefix(STAGING)
        record = manifest.read(stale) or {"run_id": run_id}
        record.update(status="interrupted", exit_code=None)
        manifest.write_json(record, stale / manifest.MANIFEST)
        target = _free(out / FAILED, run_id)
        target.parent.mkdir(exist_ok=True)
        os.rename(stale, target)
        say(f"moved the staging folder of an interrupted run to {target}")


def _free(parent: Path, name: str) -> Path:
    """``parent/name``, or ``parent/name-2``, ... whichever does not exist."""
    candidate, n = parent / name, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = parent / f"{name}-{n}"
    return candidate


def up_to_date(out: Path, key: str) -> Path | None:
    """The ``latest`` run folder when it was made with the same key, else ``None``."""
    latest = out / LATEST
    record = manifest.read(latest) if latest.is_dir() else None
    if record and record.get("status") == "ok" and record.get("run_key") == key:
        return latest.resolve()
    return None


def promote(staging: Path, out: Path, run_id: str) -> Path:
    """Rename the staging folder to ``<out>/<run_id>`` and point ``latest`` at it, atomically."""
    final = out / run_id
    os.rename(staging, final)
    tmp = out / f".{LATEST}-{run_id}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(run_id, tmp)
    os.replace(tmp, out / LATEST)
    return final


def normalise_modes(folder: Path) -> None:
    """Give every file and folder under ``folder`` (and itself) wb's one mode, whichever tool
    wrote it (papermill, WeasyPrint, a notebook's own writer)."""
    for path in (folder, *folder.rglob("*")):
        if not path.is_symlink():
            path.chmod(dir_mode() if path.is_dir() else file_mode())


class CappedLog:
    """A text sink for kernel output that cuts each line after ``max_line`` characters, saying
    how many it cut: a notebook printing a 50 MB cell does not copy it into ``run.log``."""

    def __init__(self, sink: IO[str], max_line: int = MAX_LOG_LINE) -> None:
        self.sink = sink
        self.max_line = max_line
        self.column = 0
        self.cut = 0

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            body = piece.rstrip("\r\n")
            room = max(self.max_line - self.column, 0)
            self.sink.write(body[:room])
            self.column += min(len(body), room)
            self.cut += max(len(body) - room, 0)
            if body != piece:
                if self.cut:
                    self.sink.write(f" … ({self.cut:,} characters cut)")
                self.sink.write("\n")
                self.column = self.cut = 0
        return len(text)

    def flush(self) -> None:
        self.sink.flush()


class _Signalled(BaseException):
    """SIGINT or SIGTERM arrived during a run. A ``BaseException`` (as ``KeyboardInterrupt``),
    so no ``except Exception`` in papermill or nbclient swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _signals_stop_the_run() -> Iterator[None]:
    """Turn the first SIGINT or SIGTERM inside the block into :class:`_Signalled`; later ones
    are ignored while the run records its failure. Handlers are restored after."""
    caught = (signal.SIGINT, signal.SIGTERM)

    def handler(signum: int, _frame: object) -> None:
        for s in caught:
            signal.signal(s, signal.SIG_IGN)
        raise _Signalled(signum)

    saved = {s: signal.signal(s, handler) for s in caught}
    try:
        yield
    finally:
        for s, previous in saved.items():
            signal.signal(s, previous)


@contextlib.contextmanager
def _stderr_to(log: IO[str]) -> Iterator[None]:
    """Send fd 2 (kernel noise, papermill warnings) to the run log for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _running_cell(path: Path) -> int | None:
    """Position (1-based) of the cell running when execution stopped (papermill metadata);
    ``None`` when no cell started."""
    import nbformat

    if not path.is_file():
        return None
    nb = nbformat.read(path, as_version=4)
    started = [
        i for i, c in enumerate(nb.cells, 1) if c.metadata.get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None


class Run:
    """One execution of a params file into a staging folder (see module docstring)."""

    def __init__(self, params: RunParams, params_path: Path, out: Path, say: Say) -> None:
        self.params = params
        self.params_path = params_path
        self.out = out
        self.say = say
        self.file_hashes = {k: manifest.sha256_file(p) for k, p in input_files(params).items()}
        self.source_prints = source_fingerprints(params)
        self.parts = key_parts(params, self.file_hashes | self.source_prints)
        self.file_labels = self._file_labels()
        self.key = manifest.run_key(self.parts)
        self.epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or params.source_date_epoch())
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        base = f"{_slug(params.period)}-{params.digest()[:8]}-{stamp}"
        self.run_id = _free(out, base).name
        self.staging = out / f"{STAGING}{self.run_id}"
        self.artifacts = self.staging / ARTIFACTS_DIR
        self.inputs: dict[str, Path] = {}
        #: data key → the add-quality counts built beside a warehouse panel
        self.quality: dict[str, Path] = {}
        #: data key → the folder of a warehouse source's customer-level uplift
        self.customer_uplift: dict[str, Path] = {}
        self.labels: dict[str, str] = {}
        self.links: Path | None = None
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
            "params": self.public_params(),
            "params_sha256": self.parts["params"],
            "run_key": self.key,
            "key_parts": self.parts,
            "data": {
                k: {"label": self.file_labels[k], "bytes": p.stat().st_size, "sha256": sha}
                for (k, p), sha in zip(
                    input_files(self.params).items(), self.file_hashes.values(), strict=True
                )
            },
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

    def _file_labels(self) -> dict[str, str]:
        """Each file of :func:`input_files` by its label: the data's ``label``, else its key
        and short hash (as :func:`wb.door.io.neutral_label` names it), never its file name."""
        labels = {}
        for name in self.file_hashes:
            key = name.removeprefix("data.").removesuffix(".sources")
            if name.endswith(".sources"):
                labels[name] = f"sources.csv beside data.{key}"
            elif name.startswith("data."):
                labels[name] = self.params.data[key].label or f"{key} {self.file_hashes[name][:8]}"
            else:
                labels[name] = name
        return labels

    def public_params(self) -> dict[str, Any]:
        """The params as the run folder shows them (manifest, ``params.resolved.yaml``): each
        data file's path replaced by its label."""
        doc = self.params.canonical()
        for key, entry in doc["data"].items():
            if entry.get("path") is not None:
                entry["path"] = f"<{self.file_labels[f'data.{key}']}>"
            if entry.get("warehouse") and self.params.data[key].warehouse.is_folder:
                entry["warehouse"]["source"] = f"<warehouse folder of data.{key}>"
        return doc

    def _link_inputs(self) -> None:
        """Give every data file a neutral name for the notebooks: ``<key>/<key><suffix>`` in
        a private temporary folder, a symlink to the file, with the files read beside it
        (``sources.csv``, a simulated export's truth file) linked the same way."""
        from wb.uplift.simulate import truth_path

        self.links = Path(tempfile.mkdtemp(prefix="wb-inputs-"))
        for key, spec in self.params.data.items():
            if spec.path is None:
                continue
            folder = self.links / key
            folder.mkdir()
            link = folder / f"{key}{spec.path.suffix.lower()}"
            link.symlink_to(spec.path)
            beside = {spec.path.parent / "sources.csv": folder / "sources.csv"}
            beside[truth_path(spec.path)] = truth_path(link)
            for source, target in beside.items():
                if source.is_file() and source != spec.path:
                    target.symlink_to(source)
            self.inputs[key] = link
            self.labels[key] = self.file_labels[f"data.{key}"]

    # -- steps ----------------------------------------------------------------------------

    def _simulate_inputs(self) -> None:
        from wb.uplift import simulate

        for key, spec in self.params.data.items():
            if spec.simulate is None:
                continue
            config = simulate.SimulationConfig(**spec.simulate.model_dump())
            path, truth, _ = simulate.write(config, self.staging / "inputs" / f"{key}.parquet")
            self.inputs[key] = path
            self.labels[key] = spec.label or "simulated"
            self.record["data"][f"data.{key}"] = {
                **_file_record(path, self.labels[key]),
                "path": str(path.relative_to(self.staging)),
                "simulated": spec.simulate.model_dump(),
                "truth": str(truth.relative_to(self.staging)),
            }
            self.say(f"simulated {key}: {config.n_rms} RMs x {config.n_months} months (SIMULATED)")

    def _build_warehouse_inputs(self) -> None:
        """Build each ``warehouse`` entry's panel into ``inputs/<key>/`` (``rm_month.parquet``,
        ``add_quality.parquet``, ``build.json``) with ``wb warehouse build``'s code."""
        from wb.uplift.simulate import truth_path
        from wb.warehouse.build import build
        from wb.warehouse.simulate import TRUTH
        from wb.warehouse.validate import WarehouseValidationError

        for key, spec in self.params.data.items():
            if spec.warehouse is None:
                continue
            w = spec.warehouse
            label = spec.label or ("simulated warehouse" if w.simulated else f"warehouse {key}")
            self.say(f"warehouse {key}: building the panel on {w.engine}")
            try:
                built = build(
                    w.source, self.staging / "inputs" / key, warehouse_options(w), months=w.months
                )
            except WarehouseValidationError as exc:  # named by its label, as a data file is
                raise WarehouseValidationError(exc.problems, f"data.{key} ({label})") from exc
            self.inputs[key] = built.rm_month
            self.quality[key] = built.add_quality
            if w.simulated:  # the simulator's true effects travel with the panel built from it
                shutil.copyfile(Path(w.source) / TRUTH, truth_path(built.rm_month))
            simulated = w.simulated or built.simulated  # truth.json, or the tables' stamp
            label = spec.label or ("simulated warehouse" if simulated else f"warehouse {key}")
            self.labels[key] = label
            self.record["data"][f"data.{key}"] = {
                **_file_record(built.rm_month, label),
                "path": str(built.rm_month.relative_to(self.staging)),
                "build": str((built.out / "build.json").relative_to(self.staging)),
                "engine": w.engine,
                "source_sha256": self.source_prints[f"data.{key}.warehouse"],
                "simulated": simulated,
            }

    def _customer_uplifts(self) -> None:
        """For each ``warehouse`` entry, the customer-level uplift with ``wb warehouse uplift``'s
        code on the same source, engine and months, into ``artifacts/customer_uplift/<key>/``
        (``customer_uplift.json`` and its figures), the source named by the data's label. The
        build has just checked the tables' rules, so they are not checked again."""
        from wb.plots.customer_uplift import save
        from wb.warehouse import uplift as wuplift

        for key, spec in self.params.data.items():
            if spec.warehouse is None:
                continue
            w = spec.warehouse
            self.say(f"warehouse {key}: customer-level uplift on {w.engine}")
            target = self.artifacts / CUSTOMER_UPLIFT / key
            t0 = time.perf_counter()
            wuplift.run(
                w.source,
                target,
                warehouse_options(w),
                w.months,
                figures=save,
                check=False,
                label=self.labels[key],
            )
            self.customer_uplift[key] = target
            self.record["data"][f"data.{key}"]["customer_uplift"] = {
                "path": str((target / wuplift.JSON_NAME).relative_to(self.staging)),
                "duration_s": round(time.perf_counter() - t0, 2),
            }
            self._save_record()

    def notebook_parameters(self, nb: NotebookSpec) -> dict[str, Any]:
        """What papermill injects: the notebook's own values, inputs, out_dir and run values."""
        declared = params_mod.declared_parameters(nb.path)
        values: dict[str, Any] = dict(nb.parameters)
        values.update({p: str(self.inputs[key]) for p, key in nb.inputs.items()})
        values["out_dir"] = str(self.artifacts)
        labels = [self.labels[key] for key in nb.inputs.values()]
        run_values = {
            "period": self.params.period,
            "banks": list(self.params.banks),
            "seed": self.params.seed,
            "data_label": "simulated" if self.params.simulated(nb) else ", ".join(labels),
            "simulated": self.params.simulated(nb),
            "quality_path": next(
                (str(self.quality[key]) for key in nb.inputs.values() if key in self.quality),
                None,
            ),
        }
        values.update({k: v for k, v in run_values.items() if k in declared})
        return values

    def _as_ipynb(self, nb: NotebookSpec) -> Path:
        """The notebook of ``nb``'s percent script, written as ``.ipynb`` for papermill into
        the run's private temporary folder (nothing is written beside the script)."""
        import nbformat

        path = self.links / f"{nb.name}.ipynb"
        nbformat.write(params_mod.read_notebook(nb.path), path)
        return path

    def _execute(self, nb: NotebookSpec, log: IO[str]) -> int:
        """Run one notebook; return the number of attempts. Map failures to contract errors."""
        import papermill
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient.exceptions import CellTimeoutError
        from papermill.exceptions import PapermillExecutionError

        output = self.staging / "notebooks" / f"{nb.name}.ipynb"
        source = self._as_ipynb(nb)
        values = self.notebook_parameters(nb)
        attempt = 0
        while True:
            attempt += 1
            try:
                with _stderr_to(log):
                    papermill.execute_notebook(
                        str(source),
                        str(output),
                        parameters=values,
                        kernel_name=self.params.kernel,
                        language="python",
                        progress_bar=False,
                        start_timeout=self.params.start_timeout_s,
                        execution_timeout=self.params.cell_timeout_s,
                        stdout_file=CappedLog(log),
                        stderr_file=CappedLog(log),
                        cwd=str(self.artifacts),
                    )
                return attempt
            except PapermillExecutionError as exc:
                raise CellError(
                    f"notebook {nb.path.name}, cell {exc.cell_index + 1} (In [{exc.exec_count}]) "
                    f"raised\n{exc.ename}: {_one_line(exc.evalue)}"
                ) from exc
            except CellTimeoutError as exc:
                raise RunTimeoutError(
                    f"notebook {nb.path.name}, cell {_running_cell(output)} timed out\n"
                    f"no result after cell_timeout_s={self.params.cell_timeout_s} s"
                ) from exc
            except NoSuchKernel as exc:
                raise KernelError(
                    f"notebook {nb.path.name}: kernel '{self.params.kernel}' not found\n"
                    "run 'make install' to register the 'wb' kernel"
                ) from exc
            except (RuntimeError, TimeoutError) as exc:  # DeadKernelError is a RuntimeError
                if attempt == 1 and _running_cell(output) is None:  # the kernel never ran a cell
                    self.say(f"{nb.name}: kernel did not start ({exc}); retrying once")
                    continue
                raise KernelError(
                    f"notebook {nb.path.name}, cell {_running_cell(output)}: the kernel died "
                    f"or would not start\n{type(exc).__name__}: {_one_line(str(exc))} "
                    "(out of memory? see run.log)"
                ) from exc

    def _notebooks(self) -> None:
        (self.staging / "notebooks").mkdir()
        with (self.staging / "run.log").open("a", encoding="utf-8") as log:
            for entry, nb in zip(self.record["notebooks"], self.params.notebooks, strict=True):
                self.say(f"{nb.name}: running")
                entry.update(status="running", started=_now())
                self._save_record()
                t0 = time.perf_counter()
                try:
                    entry["attempts"] = self._execute(nb, log)
                    entry["status"] = "ok"
                except WbError:
                    entry["status"] = "failed"
                    raise
                except _Signalled:
                    entry["status"] = "interrupted"
                    raise
                finally:
                    entry.update(ended=_now(), duration_s=round(time.perf_counter() - t0, 2))
                    entry["output"] = f"notebooks/{nb.name}.ipynb"
                    self._save_record()
                self.say(f"{nb.name}: ok in {entry['duration_s']:.1f} s")

    def _brief(self) -> None:
        simulated = {nb.section for nb in self.params.notebooks if self.params.simulated(nb)}
        customer = next(  # the customer-level uplift of the data the uplift notebook reads
            (
                self.customer_uplift[key]
                for nb in self.params.notebooks
                if nb.section == "uplift"
                for key in nb.inputs.values()
                if key in self.customer_uplift
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
        with _signals_stop_the_run():
            try:
                self.staging.mkdir()
                self.artifacts.mkdir()
                self._start_record()
                (self.staging / "params.resolved.yaml").write_text(
                    yaml.safe_dump(self.public_params(), allow_unicode=True, sort_keys=True),
                    encoding="utf-8",
                )
                os.environ["SOURCE_DATE_EPOCH"] = str(self.epoch)
                one_blas_thread()  # the kernels' standard errors repeat bit for bit
                self._link_inputs()
                self._simulate_inputs()
                self._build_warehouse_inputs()
                self._customer_uplifts()
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
                if self.links is not None:
                    shutil.rmtree(self.links, ignore_errors=True)
            return RunResult(promote(self.staging, self.out, self.run_id), self.run_id)

    def _interrupted(self, exc: _Signalled) -> RunInterrupted:
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
            return self._interrupted(exc) if isinstance(exc, _Signalled) else exc
        if isinstance(exc, _Signalled):
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
        target = _free(self.out / FAILED, self.run_id)
        target.parent.mkdir(exist_ok=True)
        os.rename(self.staging, target)
        look = target / failed_nb["output"] if failed_nb else target
        if not isinstance(exc, WbError):
            return exc
        return exc.restated(f"{where}\n{detail}\nsee {look}")


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= 200 else line[:197] + "..."


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
    params = params_mod.load(params_path)
    preflight(params)
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
