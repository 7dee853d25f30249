"""Open a warehouse source on an engine: a Parquet folder on DuckDB or Spark, or ``spark:DB``.

A folder source holds ``SRC/customer_month/``, ``SRC/wecom_contact/`` and ``SRC/quota/`` (plain
or Hive-partitioned Parquet, any number of files) or one ``SRC/<table>.parquet`` each. With the
Spark engine ``spark:DB`` reads ``DB.customer_month`` etc. from the session's catalog.

Only the declared columns are selected; a column whose name says it holds personal data is
dropped at the door with a warning naming the column (never reading its values), any other
unknown column is ignored with a warning. A folder whose Parquet files carry the ``wb simulate``
stamp (:mod:`wb.door.provenance`) is simulated: :attr:`Source.stamp`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir

from wb.door import privacy, provenance
from wb.errors import InputError
from wb.warehouse import files
from wb.warehouse.spark import on_spark, spark_backend, spark_session
from wb.warehouse.tables import SPECS, TABLES, WarehouseValidationError

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")


class WarehouseWarning(UserWarning):
    """A warehouse column was dropped or ignored at the door."""


def default_memory_limit() -> str:
    """DuckDB's memory limit unless configured: 40% of RAM, at most 3 GB (e.g. ``"3GB"``)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        ram = 8 << 30
    mb = max(256, min(3072, int(ram * 0.4) >> 20))
    return f"{mb}MB"


@dataclass(frozen=True)
class EngineOptions:
    """How to run: engine, DuckDB memory limit and spill folder, Spark master or Connect URL.

    ``memory_limit`` is DuckDB text such as ``"3GB"``; ``temp_dir`` is where DuckDB spills
    (by default a folder beside the output). ``spark_remote`` (or ``SPARK_REMOTE``) selects
    Spark Connect and then ``spark_master`` is not used.
    """

    engine: Engine = "duckdb"
    memory_limit: str | None = None
    temp_dir: Path | None = None
    threads: int | None = None
    spark_master: str = "local[*]"
    spark_remote: str | None = None

    def check(self) -> None:
        """Raise :class:`InputError` for an unknown engine or option."""
        if self.engine not in ENGINES:
            raise InputError(f"--engine must be one of {', '.join(ENGINES)} (got {self.engine!r})")
        if self.memory_limit is not None:
            size = memory_bytes(self.memory_limit)
            if size is None:
                raise InputError(
                    f"--memory-limit must look like 512MB or 3GB "
                    f"(got {privacy.redact(self.memory_limit)})"
                )
            if size < MIN_MEMORY:
                raise InputError(
                    f"--memory-limit {privacy.redact(self.memory_limit)}: at least "
                    f"{MIN_MEMORY >> 20} MB (DuckDB cannot build in less)"
                )
        if self.threads is not None and not 1 <= self.threads <= max_threads():
            raise InputError(
                f"--threads must be between 1 and {max_threads()} (got {self.threads})"
            )


#: The smallest ``--memory-limit`` accepted, in bytes.
MIN_MEMORY = 64 << 20
_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def memory_bytes(text: str) -> int | None:
    """Bytes of a DuckDB memory size such as ``512MB`` or ``3GiB``; None when malformed."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b)\s*", text, re.I)
    return None if found is None else int(float(found[1]) * _UNITS[found[2].lower()])


def max_threads() -> int:
    """The most DuckDB threads ``--threads`` may ask for: four per core, at least 8."""
    return max(8, 4 * (os.cpu_count() or 1))


@dataclass
class Source:
    """An opened source: the engine connection and one Ibis table per warehouse table.

    ``tables`` hold only declared columns. ``files`` lists each folder table's Parquet files
    (empty for catalog tables). ``dropped`` names the personal-data columns dropped at the door.
    ``stamp`` is the ``wb simulate`` stamp its files carry, if any.
    """

    location: str
    engine: Engine
    engine_version: str
    con: object
    tables: dict[str, ir.Table]
    files: dict[str, list[Path]] = field(default_factory=dict)
    dropped: dict[str, list[str]] = field(default_factory=dict)
    _cleanup: list[Path] = field(default_factory=list, repr=False)
    labels: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        """How outputs and messages name the source: ``spark:DB`` for a catalog (when
        :func:`~wb.door.privacy.showable`), else ``source folder`` (a folder's path may name
        a person)."""
        if self.location.startswith("spark:"):
            return privacy.redact(self.location)
        return "source folder"

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[None]:
        """Turn an engine's failure to read the source during ``what`` (a corrupt page, a
        value it cannot convert, too little memory) into an :class:`InputError` (exit 2) whose
        message went through :func:`wb.door.privacy.screen`: files and folders by their
        labels, no value that may be personal. Errors of the query itself (a bug) and
        interrupts pass through."""
        try:
            yield
        except Exception as exc:
            if not engine_failure(exc):
                raise
            text = privacy.screen(exc, self.labels)
            advice = ""
            if "OutOfMemory" in type(exc).__name__ or "memory" in text.lower():
                advice = "; raise --memory-limit"
            raise InputError(
                f"{what}: the {self.engine} engine could not read the source: "
                f"{type(exc).__name__}: {text}{advice}"
            ) from exc

    def keep(self, grouping: ir.Table, per_rm_month: bool = False) -> ir.Table:
        """A grouping the rules and the build reuse, cached in the engine until
        :func:`release`; on Spark one of RM-month size (``per_rm_month``) comes back to Python
        at once instead (:meth:`local`): the rules' small aggregates over it and the panel's
        joins then run in-process, not as Spark jobs over a cache (1.6-1.8 s for one branch
        per RM-month alone on the 40M-row benchmark source)."""
        if per_rm_month and self.engine == "spark":
            return self.local(grouping)[0]
        return grouping.cache()

    def local(self, *tables: ir.Table) -> tuple[ir.Table, ...]:
        """``tables`` where the build joins them: as they are on DuckDB; a Spark table's rows
        fetched as Arrow into an in-process DuckDB (:attr:`_local_con`), so only tables of
        RM-month size, which come back to Python anyway. The panel's joins ran 2.8-6.0 s in
        Spark on the 40M-row benchmark source (two 1M-row shuffles and a sort-merge join); its
        two groupings and the quota come back in 0.4-1.4 s and DuckDB joins and sorts them in
        0.3 s, to the same rows."""
        return tuple(
            self._local_con.create_table(
                f"wb_local_{uuid.uuid4().hex[:8]}", t.to_pyarrow(), temp=True
            )
            if on_spark(t)
            else t
            for t in tables
        )

    @cached_property
    def _local_con(self):
        """The in-process DuckDB of :meth:`local` (default settings: it holds RM-month rows)."""
        return ibis.duckdb.connect()

    @cached_property
    def stamp(self) -> dict | None:
        """The ``wb simulate`` stamp (:mod:`wb.door.provenance`) in the metadata of any of the
        tables' Parquet files, read from their footers; ``None`` when none has one (catalog
        tables never do)."""
        for paths in self.files.values():
            for path in paths:
                with contextlib.suppress(Exception):  # an unreadable file fails validation
                    if (found := provenance.of_parquet(path)) is not None:
                        return found
        return None

    @property
    def simulated(self) -> bool:
        """Whether the source's files say they were written by ``wb simulate``."""
        return self.stamp is not None

    def fingerprints(self, rows: dict[str, int] | None = None) -> dict[str, str]:
        """A SHA-256 per table that changes when its data changes.

        Folder tables: every file's relative path, size and Parquet footer (schema, row counts
        and column statistics), without reading the data pages. Catalog tables: the schema and
        ``rows`` (row counts from the validation pass).
        """
        out = {}
        for name, table in self.tables.items():
            h = hashlib.sha256()
            files = self.files.get(name)
            if files:
                root = _table_root(files)
                for f in files:
                    h.update(str(f.relative_to(root)).encode())
                    h.update(str(f.stat().st_size).encode())
                    h.update(_parquet_footer(f))
            else:
                h.update(f"{self.location}.{name}".encode())
                h.update(repr(table.schema()).encode())
                h.update(str((rows or {}).get(name, "")).encode())
            out[name] = h.hexdigest()
        return out

    def close(self) -> None:
        """Release the DuckDB connections and remove the spill folder (Spark sessions are kept)."""
        connections = [self.con] if self.engine == "duckdb" else []
        if "_local_con" in self.__dict__:  # opened by local()
            connections.append(self.__dict__.pop("_local_con"))
        for con in connections:
            # closing twice, or a broken connection: nothing left to release
            with contextlib.suppress(Exception):
                con.disconnect()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)


def release(kept: ir.Table) -> None:
    """Drop a grouping of :meth:`Source.keep` from the engine's cache (one in the in-process
    DuckDB goes when the source is closed)."""
    if isinstance(kept, ir.CachedTable):
        kept.release()


def _table_root(files: list[Path]) -> Path:
    parents = {f.parent for f in files}
    if len(files) == 1 and files[0].suffix == ".parquet" and files[0].parent in parents:
        return files[0].parent
    return Path(os.path.commonpath([str(p) for p in parents]))


def _parquet_footer(path: Path) -> bytes:
    """The Parquet footer (file metadata) of ``path``; the file's size and mtime if unreadable."""
    try:
        with path.open("rb") as fh:
            fh.seek(-8, os.SEEK_END)
            tail = fh.read(8)
            if tail[4:] != b"PAR1":
                raise ValueError
            length = int.from_bytes(tail[:4], "little")
            fh.seek(-(8 + length), os.SEEK_END)
            return fh.read(length)
    except (OSError, ValueError):
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}".encode()


#: Exception classes of the engines that mean a query is wrong (a bug), not the data.
_QUERY_ERRORS = frozenset(
    {
        "BinderException",
        "CatalogException",
        "ParserException",
        "ProgrammingError",
        "NotImplementedException",
        "AnalysisException",
        "ParseException",
        "InterruptException",
    }
)


def engine_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB, Spark or Arrow failing on the data (exit 2), rather than a
    query it cannot run (a bug) or an interrupt."""
    module = type(exc).__module__ or ""
    if not module.startswith(("duckdb", "_duckdb", "pyspark", "py4j", "pyarrow")):
        return False
    return not any(c.__name__ in _QUERY_ERRORS for c in type(exc).__mro__)


def _folder_tables(root: Path) -> dict[str, files.TableFiles]:
    """The tables of a folder source, their files checked from the footers (module
    :mod:`wb.warehouse.files`); raise :class:`WarehouseValidationError` naming every file-level
    rule broken."""
    if not root.is_dir():
        raise InputError("--source: folder not found")
    found = {name: files.find(root, name) for name in TABLES}
    problems = [p for t in found.values() for p in files.check(t)]
    if problems:
        raise WarehouseValidationError(problems, "source folder")
    return found


def _labels(root: Path, found: dict[str, files.TableFiles]) -> dict[str, str]:
    out = {str(root): "source folder", str(root.resolve()): "source folder"}
    for t in found.values():
        out |= t.labels
    return out


# ---------------------------------------------------------------------------- engines


def duckdb_connection(options: EngineOptions, temp_dir: Path):
    """An embedded DuckDB with its memory limit and spill folder set."""
    config: dict[str, object] = {
        "memory_limit": options.memory_limit or default_memory_limit(),
        "temp_directory": str(temp_dir),
        "preserve_insertion_order": False,
    }
    if options.threads:
        config["threads"] = options.threads
    return ibis.duckdb.connect(**config)


def _select_declared(table: ir.Table, name: str, where: str) -> tuple[ir.Table, list[str]]:
    """The declared columns of ``table``, and the names of the personal-data columns dropped
    (each :func:`~wb.door.privacy.redact`-ed, as recorded in ``build.json``)."""
    spec = SPECS[name]
    keep, dropped = [], []
    for column in table.columns:
        if column in spec.column_names:
            keep.append(column)
        elif privacy.name_suggests_personal_data(column):
            dropped.append(privacy.redact(column))
            warnings.warn(
                f"{where}: column '{privacy.redact(column)}' looks like personal data "
                "(names, phones, ID numbers, WeChat ids); dropped at the door, values not read",
                WarehouseWarning,
                stacklevel=3,
            )
        else:
            warnings.warn(
                f"{where}: unknown column '{privacy.redact(column)}' ignored",
                WarehouseWarning,
                stacklevel=3,
            )
    return table.select(keep), dropped


def open_source(source: str | os.PathLike[str], options: EngineOptions | None = None) -> Source:
    """Open the three tables of ``source`` on the engine of ``options``.

    Parameters
    ----------
    source
        A folder (see module docstring) or, with the Spark engine, ``spark:DB``.
    options
        Engine and its settings; DuckDB by default, spilling to ``options.temp_dir`` or a
        temporary folder.

    Raises
    ------
    InputError
        A missing folder, table or database, or an engine that cannot start (exit 2).
    """
    options = options or EngineOptions()
    options.check()
    text = str(source)
    cleanup: list[Path] = []
    if options.engine == "duckdb":
        if text.startswith("spark:"):
            raise InputError("--source spark:…: a Spark catalog source needs --engine spark")
        root = Path(text)
        found = _folder_tables(root)
        temp_dir = options.temp_dir
        if temp_dir is None:
            temp_dir = Path(tempfile.mkdtemp(prefix="wb-duckdb-spill-"))
            cleanup.append(temp_dir)
        con = duckdb_connection(options, temp_dir)
        import duckdb

        version = f"duckdb {duckdb.__version__}"
        src = Source(text, "duckdb", version, con, {}, {}, {}, cleanup, _labels(root, found))
        for name, table in found.items():
            with src.reading(f"open {name}"):
                raw = con.read_parquet([str(f) for f in table.files], hive_partitioning=table.hive)
            src.tables[name], src.dropped[name] = _select_declared(raw, name, name)
            src.files[name] = list(table.files)
        return src

    root = None if text.startswith("spark:") else Path(text)
    found = _folder_tables(root) if root is not None else {}
    session = spark_session(options.spark_master, options.spark_remote)
    con = spark_backend(session)
    version = f"spark {session.version}"
    tables, dropped = {}, {}
    if root is None:
        database = text.removeprefix("spark:")
        for name in TABLES:
            try:
                raw = con.table(name, database=database)
            except Exception as exc:
                raise InputError(
                    f"--source: table {privacy.redact(database)}.{name} not found in the Spark "
                    "catalog"
                ) from exc
            tables[name], dropped[name] = _select_declared(raw, name, f"{database}.{name}")
        return Source(text, "spark", version, con, tables, {}, dropped, cleanup)
    src = Source(text, "spark", version, con, {}, {}, {}, cleanup, _labels(root, found))
    for name, table in found.items():
        with src.reading(f"open {name}"):
            reader = session.read
            if table.hive:  # partition columns from the folders, as for the folder itself
                reader = reader.option("basePath", str(table.path.resolve()))
            view = f"wb_{name}_{uuid.uuid4().hex[:8]}"
            reader.parquet(*(str(f.resolve()) for f in table.files)).createOrReplaceTempView(view)
            raw = con.table(view)
        src.tables[name], src.dropped[name] = _select_declared(raw, name, name)
        src.files[name] = list(table.files)
    return src
