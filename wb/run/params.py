"""Params files for ``wb run``: typed, layered, checked before any kernel starts.

A params file is YAML. It may extend another one (``extends: base.yaml``, a path relative to
the extending file); mappings are merged key by key, everything else is replaced. Relative
paths inside a params file are resolved against the project root: the nearest folder above
the file that holds ``pyproject.toml`` (else the file's own folder).

What each notebook receives, as absolute paths and typed values:

* its own ``parameters``;
* one parameter per ``inputs`` entry (notebook parameter → data key): the data file's path;
* ``out_dir``: the run folder's artifacts and figures folder (every notebook must declare it);
* ``period``, ``banks``, ``seed``, ``data_label`` and ``simulated`` when the notebook declares
  a parameter of that name (and ``quality_path``: the add-quality counts built beside a
  warehouse panel). ``simulated`` is whether any of its inputs is simulated;
  ``data_label`` is ``"simulated"`` then, else the inputs' labels.

Every problem is reported with the file, the key and what was expected (exit 2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wb.door.arguments import DEFAULTS
from wb.door.bank_schemas import ID_RE, PERIOD_RE
from wb.door.privacy import redact
from wb.errors import InputError
from wb.run.brief_sections import BANK_FIGURES
from wb.run.notebook_parameters import declared_parameters, parameter_types
from wb.uplift.simulate import SimulationConfig

#: The folder (under the project root) holding the notebooks a params file may name.
NOTEBOOKS = "notebooks"
#: Parameters the runner sets itself; a params file may not set them.
RUN_PARAMETERS = (
    "out_dir",
    "data_label",
    "simulated",
    "quality_path",
    "period",
    "banks",
    "seed",
)
#: Brief sections a notebook can feed; each reads one artifact (see :mod:`wb.run.brief_sections`).
Section = Literal["bank_comparison", "uplift"]
Scalar = str | int | float | bool | None
ParamValue = Scalar | list[Scalar] | dict[str, Scalar]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimulateSpec(_Strict):
    """A simulated RM x month export, written by the runner into the run folder. Its bounds
    are ``wb simulate``'s (:meth:`wb.uplift.simulate.SimulationConfig.check`)."""

    n_rms: int = DEFAULTS.rm_level_rms
    n_months: int = DEFAULTS.n_months
    seed: int = DEFAULTS.seed
    beta_quota: float = DEFAULTS.beta_quota
    beta_organic: float = DEFAULTS.beta_organic

    @model_validator(mode="after")
    def _bounds(self) -> SimulateSpec:
        try:
            SimulationConfig(**self.model_dump()).check()
        except InputError as exc:
            raise ValueError(str(exc).replace("--", "").replace("-", "_")) from exc
        return self


class WarehouseSpec(_Strict):
    """An ``rm_month`` panel built by the run from a bank's warehouse (``wb warehouse build``):
    a Parquet folder (relative to the project root) or ``spark:DB`` from the Spark catalog."""

    source: str = Field(min_length=1)
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[*]"
    spark_remote: str | None = Field(
        None, description="Spark Connect URL, sc://host:15002; overrides spark_master"
    )
    months: str | None = Field(None, description="FROM..TO, YYYY-MM, inclusive")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. 3GB")

    @property
    def is_folder(self) -> bool:
        return not self.source.startswith("spark:")

    @property
    def simulated(self) -> bool:
        """A folder source written by ``wb simulate --level customer`` holds its truth file."""
        from wb.warehouse.simulate import TRUTH

        return self.is_folder and (Path(self.source) / TRUTH).is_file()


class DataSpec(_Strict):
    """One input: a file (``path``), a simulated export (``simulate``) or a panel built from a
    warehouse (``warehouse``): exactly one of them."""

    path: Path | None = None
    simulate: SimulateSpec | None = None
    warehouse: WarehouseSpec | None = None
    label: str | None = Field(None, description="what the data is, shown in the brief")

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        given = [k for k in ("path", "simulate", "warehouse") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'path' (a file), 'simulate' (a mapping) or 'warehouse' "
                f"(a mapping with a source); got {', '.join(given) or 'none'}"
            )
        return self

    @property
    def simulated(self) -> bool:
        """Simulated data: a ``simulate`` entry, or a warehouse source the simulator wrote."""
        return self.simulate is not None or (
            self.warehouse is not None and self.warehouse.simulated
        )


class NotebookSpec(_Strict):
    """One notebook to execute, in order."""

    path: Path = Field(description="a notebook's .py percent script under notebooks/")
    section: Section
    inputs: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, ParamValue] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _script(cls, value: Path) -> Path:
        if value.suffix != ".py":
            raise ValueError(
                "a notebook's .py percent script, its tracked source (a .ipynb is a local copy)"
            )
        return value

    @field_validator("parameters")
    @classmethod
    def _not_reserved(cls, value: dict[str, ParamValue]) -> dict[str, ParamValue]:
        taken = sorted(set(value) & set(RUN_PARAMETERS))
        if taken:
            raise ValueError(f"{', '.join(taken)} set by wb run itself; remove from parameters")
        return value

    @property
    def name(self) -> str:
        """The notebook's file stem, e.g. ``10_bank_comparison``."""
        return self.path.stem


class BriefSpec(_Strict):
    """Options of the PDF brief."""

    title: Annotated[str, Field(min_length=1)]
    subtitle: str | None = None
    organisation: str | None = None
    date: dt.date | None = Field(None, description="the brief's date; default: the run's date")
    logo: str | None = Field(
        None, description="image file inside the project (or a data: URL) shown in the header"
    )
    bank_figures: list[str] | None = Field(
        None, description="stems of the bank figures the brief shows, in order; None = all"
    )

    @field_validator("bank_figures")
    @classmethod
    def _known_figures(cls, value: list[str] | None) -> list[str] | None:
        unknown = [stem for stem in value or [] if stem not in BANK_FIGURES]
        if unknown:
            raise ValueError(
                f"bank figure stems among {', '.join(BANK_FIGURES)}; unknown: "
                + ", ".join(redact(stem) for stem in unknown)
            )
        return value


class RunParams(_Strict):
    """A resolved params file (after ``extends``)."""

    period: str
    banks: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    seed: Annotated[int, Field(ge=0)] = 0
    kernel: Annotated[str, Field(min_length=1)] = "wb"
    cell_timeout_s: Annotated[int, Field(gt=0)] = 600
    start_timeout_s: Annotated[int, Field(gt=0)] = 60
    data: dict[Annotated[str, Field(pattern=ID_RE)], DataSpec] = Field(default_factory=dict)
    notebooks: Annotated[list[NotebookSpec], Field(min_length=1)]
    brief: BriefSpec

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        if not re.fullmatch(PERIOD_RE, value):
            raise ValueError("a period like FY2024, H1 2025, 9M 2025, Q3 2025, 2025-06, 2025-06-30")
        return value

    @model_validator(mode="after")
    def _references(self) -> RunParams:
        names = [nb.name for nb in self.notebooks]
        if len(set(names)) != len(names):
            raise ValueError("notebooks: each notebook may appear once")
        for i, nb in enumerate(self.notebooks):
            for param, key in nb.inputs.items():
                if key not in self.data:
                    raise ValueError(
                        f"notebooks.{i}.inputs.{param}: '{key}' is not a key of data "
                        f"(have: {', '.join(self.data) or 'none'})"
                    )
        return self

    def simulated(self, nb: NotebookSpec) -> bool:
        """Whether any input of ``nb`` is simulated (see :attr:`DataSpec.simulated`)."""
        return any(self.data[key].simulated for key in nb.inputs.values())

    def canonical(self) -> dict[str, Any]:
        """The params as JSON-ready data, paths as strings, keys sorted by the dumper."""
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """sha256 of the canonical JSON of the params."""
        text = json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def source_date_epoch(self, now: dt.datetime | None = None) -> int:
        """Seconds since 1970 of the brief's date: ``brief.date``, else today (UTC midnight)."""
        day = self.brief.date or (now or dt.datetime.now(dt.UTC)).date()
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def project_root(path: Path) -> Path:
    """The nearest folder above ``path`` that holds ``pyproject.toml``, else its folder."""
    for folder in path.resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    return path.resolve().parent


#: Suffixes a params file (and every file it extends) must have.
PARAMS_SUFFIXES = (".yaml", ".yml")


def _read_yaml(path: Path, chain: tuple[Path, ...], root: Path) -> dict[str, Any]:
    """Read one params file and everything it extends, merged (later wins).

    Only ``.yaml``/``.yml`` files are read, and an extended file must lie inside the project
    (``root``); a refused file's content is never read or shown, and YAML errors give the
    line and column, not the text.
    """
    where = f" (extended by {chain[-1].name})" if chain else ""
    if path.suffix.lower() not in PARAMS_SUFFIXES:
        raise InputError(f"{path}{where}: a params file must be .yaml or .yml; not read")
    if chain and not path.is_relative_to(root):
        raise InputError(
            f"{path}{where}: 'extends' must name a params file inside the project ({root}); "
            "not read"
        )
    if path in chain:
        raise InputError(f"{path}: extends itself (via {' -> '.join(p.name for p in chain)})")
    if not path.is_file():
        raise InputError(f"{path}: params file not found{where}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: not UTF-8 text (line {line}); save it as UTF-8") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path}: not valid YAML{at}") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of keys at the top level")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise InputError(f"{path}: key 'extends': expected a file name")
    target = (path.parent / parent).resolve()
    return _merge(_read_yaml(target, (*chain, path), root), raw)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _problems(exc: ValidationError, path: Path) -> list[str]:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        key = redact(key)
        if err["type"] == "extra_forbidden":
            lines.append(f"{path}: key '{key}': unknown key")
        elif err["type"] == "missing":
            lines.append(f"{path}: key '{key}': required, missing")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) else f" (got {redact(repr(got))})"
            expected = err["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: key '{key}': expected {expected}{shown}")
    return lines


def _is_url(text: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text) is not None


def _resolve(params: RunParams, root: Path) -> RunParams:
    """Make every path absolute (against ``root``)."""

    def absolute(p: Path | None) -> Path | None:
        return None if p is None else (root / p).resolve()

    def located(d: DataSpec) -> DataSpec:
        update: dict[str, Any] = {"path": absolute(d.path)}
        if d.warehouse is not None and d.warehouse.is_folder:
            source = str(absolute(Path(d.warehouse.source)))
            update["warehouse"] = d.warehouse.model_copy(update={"source": source})
        return d.model_copy(update=update)

    data = {k: located(d) for k, d in params.data.items()}
    notebooks = [nb.model_copy(update={"path": absolute(nb.path)}) for nb in params.notebooks]
    logo = params.brief.logo
    if logo is not None and not _is_url(logo):
        logo = str(absolute(Path(logo)))
    brief = params.brief.model_copy(update={"logo": logo})
    return params.model_copy(update={"data": data, "notebooks": notebooks, "brief": brief})


def _shown_path(p: Path, root: Path) -> str:
    """A path as a params message shows it: relative to the project when inside it, and only
    when :func:`~wb.door.privacy.showable` (a data file or folder may be named after a
    customer), else a placeholder."""
    return redact(str(p.relative_to(root) if p.is_relative_to(root) else p))


def _path_problems(params: RunParams, path: Path, root: Path) -> list[str]:
    """Files that must exist, notebooks that must lie in the project's ``notebooks/`` and a
    logo that must be a project file: one line per problem."""
    lines = []
    checks: list[tuple[str, Path | None]] = [
        *((f"data.{k}.path", d.path) for k, d in params.data.items()),
        *((f"notebooks.{i}.path", nb.path) for i, nb in enumerate(params.notebooks)),
    ]
    if params.brief.logo and not _is_url(params.brief.logo):
        logo = Path(params.brief.logo)
        checks.append(("brief.logo", logo))
        if not logo.is_relative_to(root):
            lines.append(f"{path}: key 'brief.logo': expected an image file inside {root}")
    for i, nb in enumerate(params.notebooks):
        if not nb.path.is_relative_to(root / NOTEBOOKS):
            lines.append(
                f"{path}: key 'notebooks.{i}.path': expected a notebook inside "
                f"{root / NOTEBOOKS}/ (wb runs only the project's own notebooks)"
            )
    lines += [
        f"{path}: key '{key}': expected an existing file, {_shown_path(p, root)} not found"
        for key, p in checks
        if p is not None and not p.is_file()
    ]
    lines += [
        f"{path}: key 'data.{k}.warehouse.source': expected a folder holding customer_month/, "
        f"wecom_contact/ and quota/ (or spark:DB), {_shown_path(Path(d.warehouse.source), root)}"
        " not found"
        for k, d in params.data.items()
        if d.warehouse is not None
        and d.warehouse.is_folder
        and not Path(d.warehouse.source).is_dir()
    ]
    return lines


def _wrong_types(params: RunParams, path: Path) -> list[str]:
    """Each notebook parameter whose value does not fit the type its parameters cell declares
    (the check the notebook's setup cell makes, :func:`wb.door.arguments.check_parameters`),
    made before any kernel starts."""
    from wb.door.arguments import check_parameters

    lines = []
    for i, nb in enumerate(params.notebooks):
        types = parameter_types(nb.path)
        for name, value in nb.parameters.items():
            if name in types:
                try:
                    check_parameters({"__annotations__": {name: types[name]}, name: value})
                except InputError as exc:
                    lines.append(f"{path}: key 'notebooks.{i}.parameters.{name}': {exc}")
    return lines


#: Notebook parameters whose values name things wb knows (notebook 10's ``metrics``: the bank
#: charts), and the names each may take; checked before any kernel starts.
NAMED_PARAMETERS: dict[str, tuple[str, ...]] = {
    "metrics": tuple(stem.removeprefix("bank_") for stem in BANK_FIGURES)
}


def _unknown_names(params: RunParams, path: Path) -> list[str]:
    """Each value of a :data:`NAMED_PARAMETERS` parameter that names nothing wb knows."""
    lines = []
    for i, nb in enumerate(params.notebooks):
        for name, value in nb.parameters.items():
            known = NAMED_PARAMETERS.get(name)
            values = value if isinstance(value, list) else [value]
            unknown = [v for v in values if known and v is not None and v not in known]
            if unknown:
                lines.append(
                    f"{path}: key 'notebooks.{i}.parameters.{name}': unknown "
                    f"{', '.join(redact(str(v)) for v in unknown)}; expected some of "
                    f"{', '.join(known)}"
                )
    return lines


def _bank_ids(params: RunParams, path: Path) -> RunParams:
    """``banks`` as the bank panel's ids (``招商银行``, ``招商`` and ``CMB`` are ``cmb``:
    :meth:`wb.banks.panel.Panel.resolve_banks`), checked against ``data.bank_panel`` before any
    kernel starts; without a bank panel among the data they are left as given."""
    spec = params.data.get("bank_panel")
    if not params.banks or spec is None or spec.path is None:
        return params
    from wb.banks.panel import Panel

    try:
        ids = Panel.load(spec.path).resolve_banks(params.banks)
    except InputError as exc:
        raise InputError(f"invalid params:\n{path}: key 'banks': {exc}") from exc
    return params.model_copy(update={"banks": ids})


def _undeclared(params: RunParams, path: Path) -> list[str]:
    lines = []
    for i, nb in enumerate(params.notebooks):
        declared = declared_parameters(nb.path)
        if "out_dir" not in declared:
            lines.append(
                f"{path}: notebooks.{i} ({nb.path.name}): its parameters cell must declare "
                "out_dir (where wb collects its artifacts)"
            )
        given = [("inputs", k) for k in nb.inputs] + [("parameters", k) for k in nb.parameters]
        for where, key in given:
            if key not in declared:
                lines.append(
                    f"{path}: key 'notebooks.{i}.{where}.{key}': {nb.path.name} declares no "
                    f"parameter '{key}' (it has: {', '.join(sorted(declared)) or 'none'})"
                )
    return lines


def load(path: str | Path) -> RunParams:
    """Read, merge, validate and resolve a params file; cross-check it against the notebooks.

    Raises
    ------
    InputError
        Exit 2, one line per problem: the file, the key and what was expected.
    """
    p = Path(path)
    root = project_root(p)
    raw = _read_yaml(p.resolve(), (), root)
    try:
        params = RunParams.model_validate(raw)
    except ValidationError as exc:
        raise InputError("invalid params:\n" + "\n".join(_problems(exc, p))) from exc
    params = _resolve(params, root)
    problems = _path_problems(params, p, root)
    if not problems:
        problems = _undeclared(params, p) or _wrong_types(params, p) or _unknown_names(params, p)
    if problems:
        raise InputError("invalid params:\n" + "\n".join(problems))
    return _bank_ids(params, p)
