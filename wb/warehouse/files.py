"""The files of a folder source, checked from their Parquet footers before any engine scans them.

One rule says which files a table is, for every engine and for the fingerprint alike: the
``.parquet`` files under the table's folder (or the one ``SRC/<table>.parquet``), leaving out
every file or folder whose name starts with ``.`` or ``_`` (``_SUCCESS``, ``.crc``,
``_temporary/``: what Spark and Hive leave beside their output). The engines are handed that
list, never a folder or a glob.

Before a scan, from the footers alone (:func:`check`): no symlink inside a table folder, and
no table folder or file reaching out of the source; at most :func:`max_files` files and
:func:`max_rows` rows per table and :data:`wb.door.io.MAX_COLUMNS` columns per file; every
footer readable; each column name once per file; one schema per table (every file has the
first file's columns and types, as the engines read them: large or plain strings,
dictionary-encoded or not); the declared columns of a type the engines read alike (no unsigned
64-bit integers, no timestamps with a time zone or in nanoseconds). Each failure is a
:class:`~wb.warehouse.tables.Problem` naming the table, the files by their labels (``customer_month file 2 of 5``: never a file or folder
name, which may hold personal data) and what was expected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from wb.door import privacy
from wb.door.io import MAX_COLUMNS, env_limit
from wb.errors import InputError
from wb.warehouse.tables import KIND_TEXT, SPECS, Problem

#: Environment variables bounding a folder source, read from the footers before any scan.
MAX_FILES_ENV = "WB_MAX_WAREHOUSE_FILES"
MAX_ROWS_ENV = "WB_MAX_WAREHOUSE_ROWS"
#: Defaults: files per table, rows per table (ten billion: a large bank's customer-months of
#: several years).
DEFAULT_MAX_FILES = 100_000
DEFAULT_MAX_ROWS = 10_000_000_000
#: Files named in one problem before the rest are counted.
MAX_NAMED = 5


def hidden(part: str) -> bool:
    """Whether a file or folder name is left out of a table: it starts with ``.`` or ``_``."""
    return part.startswith((".", "_"))


def max_files() -> int:
    """Most Parquet files per table: ``$WB_MAX_WAREHOUSE_FILES``, else 100,000."""
    return env_limit(MAX_FILES_ENV, DEFAULT_MAX_FILES, "files")


def max_rows() -> int:
    """Most rows per table: ``$WB_MAX_WAREHOUSE_ROWS``, else ten billion."""
    return env_limit(MAX_ROWS_ENV, DEFAULT_MAX_ROWS, "rows")


@dataclass(frozen=True)
class TableFiles:
    """One table of a folder source: where it is, its files (sorted) and whether its folders
    are Hive partitions (``month=2025-06/``)."""

    name: str
    path: Path
    files: tuple[Path, ...]
    symlinks: int = 0
    outside: bool = False

    @property
    def hive(self) -> bool:
        if not self.path.is_dir():
            return False
        return any("=" in part for f in self.files for part in f.relative_to(self.path).parts[:-1])

    def label(self, index: int) -> str:
        """How file ``index`` (0-based, in sorted order) is named in messages and outputs."""
        return f"{self.name} file {index + 1} of {len(self.files)}"

    @property
    def labels(self) -> dict[str, str]:
        """Each file's path, as given and resolved, mapped to its label; the table's folder
        to the table's name."""
        out = {str(self.path): f"the {self.name} folder"}
        out[str(self.path.resolve())] = out[str(self.path)]
        for i, f in enumerate(self.files):
            out[str(f)] = out[str(f.resolve())] = self.label(i)
        return out


def find(root: Path, name: str) -> TableFiles:
    """The files of table ``name`` under the source folder ``root``, by the one rule of this
    module; symlinks inside the folder are counted (and refused by :func:`check`), never
    followed. Raise :class:`InputError` when the table is missing."""
    folder, single = root / name, root / f"{name}.parquet"
    base = root.resolve()
    if folder.is_dir():
        outside = not folder.resolve().is_relative_to(base)
        files: list[Path] = []
        symlinks = 0
        for here, dirs, names in os.walk(folder, followlinks=False):
            at = Path(here)
            symlinks += sum((at / d).is_symlink() for d in dirs)
            dirs[:] = sorted(d for d in dirs if not hidden(d) and not (at / d).is_symlink())
            for file in names:
                p = at / file
                if p.is_symlink():
                    symlinks += 1
                elif not hidden(file) and file.endswith(".parquet"):
                    files.append(p)
        if not files and not symlinks:
            raise InputError(f"source: no Parquet files in the {name} table's folder")
        return TableFiles(name, folder, tuple(sorted(files)), symlinks, outside)
    if single.is_file():
        outside = single.is_symlink() and not single.resolve().is_relative_to(base)
        return TableFiles(name, single, (single,), 0, outside)
    raise InputError(
        f"source: table {name} not found; expected a folder {name}/ of Parquet files "
        f"or a file {name}.parquet"
    )


def _type_problem(kind: str, dtype) -> str | None:
    """Why an Arrow type cannot hold a column of ``kind`` the engines read alike, or None."""
    import pyarrow as pa

    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if pa.types.is_uint64(dtype):
        return "unsigned 64-bit integers, which the engines read differently"
    if pa.types.is_timestamp(dtype) and dtype.tz is not None and kind in ("timestamp", "month"):
        return (
            f"timestamps with a time zone ({privacy.redact(dtype.tz)}); timestamps are "
            "bank-local without one: convert them to local time and drop the zone"
        )
    return None


def _nanosecond_columns(parquet_schema, names: set[str]) -> list[str]:
    """The columns among ``names`` stored as 64-bit nanosecond timestamps (INT96, Spark's own
    legacy timestamps, is not one: Spark reads it)."""
    out = []
    for j in range(len(parquet_schema)):
        column = parquet_schema.column(j)
        if column.name in names and column.physical_type == "INT64":
            logical = column.logical_type.to_json()
            if '"Timestamp"' in logical and '"nanoseconds"' in logical:
                out.append(column.name)
    return out


def _as_read(schema):
    """A file's Arrow schema as the engines read it: column names and types, with large and
    plain strings (and binaries) alike, a dictionary-encoded column as its values and no
    nullability. Writers differ only there (pandas writes ``large_string``, Spark ``string``)
    and the Parquet files hold the same UTF-8 columns."""
    import pyarrow as pa

    def one(dtype):
        if pa.types.is_dictionary(dtype):
            dtype = dtype.value_type
        if pa.types.is_large_string(dtype):
            return pa.string()
        if pa.types.is_large_binary(dtype):
            return pa.binary()
        return dtype

    return pa.schema([pa.field(f.name, one(f.type)) for f in schema])


def _files(table: str, rule: str, expected: str, labels: list[str] | None = None) -> Problem:
    """A rule broken by some of a table's files (``labels``, at most :data:`MAX_NAMED` shown),
    or by the table as a whole."""
    if labels is None:
        return Problem(table, "", rule, expected, None)
    return Problem(table, "", rule, expected, len(labels), tuple(labels[:MAX_NAMED]), "file")


def check(table: TableFiles) -> list[Problem]:
    """The file-level rules of one table, from its footers only (see the module docstring)."""
    import pyarrow.parquet as pq

    name = table.name
    if table.outside:
        return [_files(name, "inside_source", "a table folder or file inside the source")]
    if table.symlinks:
        return [
            _files(
                name,
                "no_symlinks",
                f"files, not symlinks, inside the table folder ({table.symlinks:,} symlink"
                f"{'s' if table.symlinks != 1 else ''} found, not followed)",
            )
        ]
    if len(table.files) > (limit := max_files()):
        return [
            _files(
                name,
                "max_files",
                f"at most {limit:,} files ({MAX_FILES_ENV}); found {len(table.files):,}",
            )
        ]
    times = {c.name for c in SPECS[name].columns if c.kind in ("timestamp", "month")}
    schemas, unreadable, wide, repeated, rows = [], [], [], [], 0
    nanos: dict[str, list[int]] = {}
    for i, path in enumerate(table.files):
        try:
            meta = pq.read_metadata(path)
            schema = meta.schema.to_arrow_schema().remove_metadata()
            for column in _nanosecond_columns(meta.schema, times):
                nanos.setdefault(column, []).append(i)
        except Exception:  # pyarrow raises several types; all mean "not a readable footer"
            unreadable.append(i)
            continue
        rows += meta.num_rows
        if meta.num_columns > MAX_COLUMNS:
            wide.append(i)
        if len(set(schema.names)) < len(schema.names):
            repeated.append(i)
        schemas.append((i, schema))
    problems = []
    if unreadable:
        problems.append(
            _files(
                name,
                "readable_parquet",
                "a Parquet file with a readable footer (not empty, truncated, corrupt or "
                "another format named .parquet)",
                [table.label(i) for i in unreadable],
            )
        )
    if wide:
        problems.append(
            _files(
                name,
                "max_columns",
                f"at most {MAX_COLUMNS:,} columns",
                [table.label(i) for i in wide],
            )
        )
    if repeated:
        problems.append(
            _files(
                name,
                "unique_columns",
                "each column name once per file",
                [table.label(i) for i in repeated],
            )
        )
    if rows > (limit := max_rows()):
        problems.append(
            _files(name, "max_rows", f"at most {limit:,} rows ({MAX_ROWS_ENV}); found {rows:,}")
        )
    for column, found in nanos.items():
        problems.append(
            Problem(
                name,
                column,
                "type",
                f"{KIND_TEXT['timestamp']}, not in nanoseconds, which Spark cannot read: write "
                "microseconds (pandas: to_parquet(..., coerce_timestamps='us'))",
                len(found),
                tuple(table.label(i) for i in found[:MAX_NAMED]),
                "file",
            )
        )
    if not schemas or repeated:  # a repeated name makes the types ambiguous
        return problems
    first_index, first = schemas[0]
    differ = [i for i, s in schemas[1:] if not _as_read(s).equals(_as_read(first))]
    if differ:
        problems.append(
            _files(
                name,
                "one_schema",
                f"every file with the columns and types of {table.label(first_index)}",
                [table.label(i) for i in differ],
            )
        )
    spec = SPECS[name]
    for col in spec.columns:
        if col.name in first.names and (why := _type_problem(col.kind, first.field(col.name).type)):
            problems.append(
                Problem(name, col.name, "type", f"{KIND_TEXT[col.kind]}, not {why}", None)
            )
    return problems
