"""What a run reads: the data files the params name, their hashes and labels (the run key),
their checks before any folder, and the inputs a run makes itself in its staging folder:
simulated exports, warehouse panels (``wb warehouse build``'s code) and their customer-level
uplift.

Input files reach the notebooks under neutral names (``<key><suffix>`` in a private temporary
folder, linked to the file): their own file and folder names, which may hold personal data,
never appear in a notebook, the log, the manifest or the brief.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wb.door.schemas import SCHEMA_NAMES
from wb.errors import InputError
from wb.run import manifest
from wb.run.folders import ARTIFACTS_DIR
from wb.run.params import RunParams, WarehouseSpec
from wb.uplift.simulate import truth_path

if TYPE_CHECKING:
    from wb.warehouse.source import EngineOptions

#: Folder of ``artifacts/`` holding each warehouse entry's customer-level uplift.
CUSTOMER_UPLIFT = "customer_uplift"


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


def file_record(path: Path, label: str) -> dict[str, Any]:
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


def validate_inputs(params: RunParams, say: Say) -> None:
    """Validate every data file whose key names a schema (``rm_month``, ``bank_panel``) before
    any folder or kernel: bad input is exit 2 naming the file (by its label), row and column,
    not a failed notebook (exit 3). An ``rm_month`` export must also support the uplift
    estimates (quota, adds and AUM vary; enough clusters): else exit 2 with the reason."""
    from wb.door import io
    from wb.uplift.estimation import fit
    from wb.uplift.sample import prepare

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


class Inputs:
    """The data of one run, by data key: the files the params name (hashed and labelled; the
    run key is made of their hashes), linked under neutral names for the notebooks, and the
    inputs the run makes itself in its staging folder: simulated exports, warehouse panels
    and their customer-level uplift. ``data`` is the manifest's ``data`` block, filled in as
    the inputs are made."""

    def __init__(self, params: RunParams, staging: Path, say: Say) -> None:
        self.params = params
        self.staging = staging
        self.artifacts = staging / ARTIFACTS_DIR
        self.say = say
        self.file_hashes = {k: manifest.sha256_file(p) for k, p in input_files(params).items()}
        self.source_prints = source_fingerprints(params)
        self.file_labels = self._file_labels()
        #: data key → the file a notebook reads
        self.paths: dict[str, Path] = {}
        #: data key → the add-quality counts built beside a warehouse panel
        self.quality: dict[str, Path] = {}
        #: data key → the folder of a warehouse source's customer-level uplift
        self.customer_uplift: dict[str, Path] = {}
        self.labels: dict[str, str] = {}
        self.links: Path | None = None
        self.data: dict[str, dict[str, Any]] = {}

    def start_data(self) -> dict[str, dict[str, Any]]:
        """The manifest's ``data`` block before the run makes any input: each file by label,
        size and hash."""
        self.data = {
            k: {"label": self.file_labels[k], "bytes": p.stat().st_size, "sha256": sha}
            for (k, p), sha in zip(
                input_files(self.params).items(), self.file_hashes.values(), strict=True
            )
        }
        return self.data

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

    def link(self) -> None:
        """Give every data file a neutral name for the notebooks: ``<key>/<key><suffix>`` in
        a private temporary folder, a symlink to the file, with the files read beside it
        (``sources.csv``, a simulated export's truth file) linked the same way."""
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
            self.paths[key] = link
            self.labels[key] = self.file_labels[f"data.{key}"]

    def simulate(self) -> None:
        """Write each ``simulate`` entry's export into ``inputs/<key>.parquet`` (SIMULATED)."""
        from wb.uplift import simulate

        for key, spec in self.params.data.items():
            if spec.simulate is None:
                continue
            config = simulate.SimulationConfig(**spec.simulate.model_dump())
            path, truth, _ = simulate.write(config, self.staging / "inputs" / f"{key}.parquet")
            self.paths[key] = path
            self.labels[key] = spec.label or "simulated"
            self.data[f"data.{key}"] = {
                **file_record(path, self.labels[key]),
                "path": str(path.relative_to(self.staging)),
                "simulated": spec.simulate.model_dump(),
                "truth": str(truth.relative_to(self.staging)),
            }
            self.say(f"simulated {key}: {config.n_rms} RMs x {config.n_months} months (SIMULATED)")

    def build_warehouses(self) -> None:
        """Build each ``warehouse`` entry's panel into ``inputs/<key>/`` (``rm_month.parquet``,
        ``add_quality.parquet``, ``build.json``) with ``wb warehouse build``'s code."""
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
            self.paths[key] = built.rm_month
            self.quality[key] = built.add_quality
            if w.simulated:  # the simulator's true effects travel with the panel built from it
                shutil.copyfile(Path(w.source) / TRUTH, truth_path(built.rm_month))
            simulated = w.simulated or built.simulated  # truth.json, or the tables' stamp
            label = spec.label or ("simulated warehouse" if simulated else f"warehouse {key}")
            self.labels[key] = label
            self.data[f"data.{key}"] = {
                **file_record(built.rm_month, label),
                "path": str(built.rm_month.relative_to(self.staging)),
                "build": str((built.out / "build.json").relative_to(self.staging)),
                "engine": w.engine,
                "source_sha256": self.source_prints[f"data.{key}.warehouse"],
                "simulated": simulated,
            }

    def customer_uplifts(self, save: Callable[[], None]) -> None:
        """For each ``warehouse`` entry, the customer-level uplift with ``wb warehouse uplift``'s
        code on the same source, engine and months, into ``artifacts/customer_uplift/<key>/``
        (``customer_uplift.json`` and its figures), the source named by the data's label. The
        build has just checked the tables' rules, so they are not checked again; ``save``
        writes the manifest after each."""
        from wb.plots import customer_uplift
        from wb.warehouse import uplift, uplift_result

        for key, spec in self.params.data.items():
            if spec.warehouse is None:
                continue
            w = spec.warehouse
            self.say(f"warehouse {key}: customer-level uplift on {w.engine}")
            target = self.artifacts / CUSTOMER_UPLIFT / key
            t0 = time.perf_counter()
            uplift.run(
                w.source,
                target,
                warehouse_options(w),
                w.months,
                figures=customer_uplift.save,
                check=False,
                label=self.labels[key],
            )
            self.customer_uplift[key] = target
            self.data[f"data.{key}"]["customer_uplift"] = {
                "path": str((target / uplift_result.JSON_NAME).relative_to(self.staging)),
                "duration_s": round(time.perf_counter() - t0, 2),
            }
            save()
