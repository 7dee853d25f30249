"""The input door: read a table by suffix, drop personal data, validate it against its schema.

Supported: ``.csv`` (UTF-8, UTF-8 with BOM, or GB18030/GBK as Excel writes it on Chinese
Windows, detected and read with a warning), ``.parquet`` and ``.xlsx`` (first sheet). Text
files are read as text and typed by :mod:`wb.door.schemas`, so ``001`` stays ``"001"`` and ``3.5``
in an integer column is reported, not rounded.

Row numbers in every message are spreadsheet rows: the header is row 1, the first data row
is row 2 (for Parquet, the same count as if the file were opened as a sheet).
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import os
import stat
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wb.door import privacy, provenance, schemas, validation
from wb.errors import InputError

SUFFIXES = (".csv", ".parquet", ".xlsx")
_CHUNK = 1 << 22
#: Environment variable holding the largest input ``wb`` loads, in cells (rows x columns).
MAX_CELLS_ENV = "WB_MAX_INPUT_CELLS"
#: Default: 100 million cells, about 4 GB of memory at the peak of reading a CSV.
DEFAULT_MAX_CELLS = 100_000_000
#: An XLSX cell costs about this many CSV cells of reading time (openpyxl parses XML).
XLSX_CELL_COST = 20
#: Most columns an input may have (the schemas declare ten at most).
MAX_COLUMNS = 1_000
#: Longest cell of a text file, in characters.
MAX_CELL_CHARS = 100_000


class InputWarning(UserWarning):
    """Something in an input file was ignored, dropped or read in a non-default way."""


@dataclass(frozen=True)
class Loaded:
    """A validated input table.

    Attributes
    ----------
    frame : pandas.DataFrame
        Typed, validated rows; personal-data and unknown columns removed.
    schema : str
        ``"rm_month"`` or ``"bank_panel"``.
    path : Path
        The file it came from (never shown: messages use ``label``).
    label : str
        How the file is named in every message and output: the ``label`` given, else the
        schema and a short hash of the bytes (:func:`neutral_label`).
    sources : pandas.DataFrame or None
        For ``bank_panel``: the validated sources table beside the file.
    coded : dict
        The text and month columns of ``frame`` as validation coded them: name → (each row's
        code, the distinct values), what ``pandas.factorize`` gives, so that the estimation
        need not hash millions of ids again.
    stamp : dict or None
        The ``wb simulate`` stamp the file carries (:mod:`wb.door.provenance`): the simulator,
        seed and true effects; ``None`` for a file that does not say it is simulated.
    """

    frame: pd.DataFrame
    schema: str
    path: Path
    label: str
    sources: pd.DataFrame | None = None
    coded: dict[str, tuple[np.ndarray, pd.Series]] = field(default_factory=dict)
    stamp: dict | None = None

    @property
    def simulated(self) -> bool:
        """Whether the file says it was written by ``wb simulate``."""
        return self.stamp is not None

    def summary(self) -> str:
        """One line: what was read and what it holds (``SIMULATED`` first when it is)."""
        line = validation.summarise(self.frame, self.schema, self.label, self.sources)
        return f"{provenance.label(self.stamp)}: {line}" if self.stamp else line


def neutral_label(path: str | os.PathLike[str], schema: str | None = None) -> str:
    """A name for an input that says nothing of its file or folder names (which may hold
    personal data): the schema and the first 8 hex digits of the file's sha256, e.g.
    ``rm_month 1a2b3c4d``."""
    digest = hashlib.sha256()
    if not Path(path).is_file():  # never open a FIFO or device: reading it could block
        return f"{schema or 'input'} file"
    try:
        with Path(path).open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return f"{schema or 'input'} file"
    return f"{schema or 'input'} {digest.hexdigest()[:8]}"


def check_regular_file(path: Path, label: str) -> None:
    """Raise :class:`InputError` unless ``path`` is a readable regular file, saying what it is
    instead (missing, a folder, a FIFO or device, a symlink loop, not readable)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{label}: a symlink loop, not a file") from exc
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InputError(f"{label}: file not found") from exc
        raise InputError(f"{label}: cannot read ({exc.strerror})") from exc
    if stat.S_ISDIR(mode):
        raise InputError(f"{label}: a folder, not a file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise InputError(f"{label}: {kind}, not a regular file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{label}: cannot read (permission denied)")


def detect_encoding(path: Path, label: str = "input file") -> str:
    """Return ``"utf-8-sig"`` for UTF-8 (with or without BOM), else ``"gb18030"``.

    The whole file is decoded incrementally (4 MiB at a time), so a GBK character on the last
    line is still found. Raises :class:`InputError` if it is neither.
    """
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise InputError(
        f"{label}: cannot decode the file as UTF-8 or GB18030/GBK; save it as UTF-8 CSV"
    )


def env_limit(env: str, default: int, unit: str) -> int:
    """A size limit from the environment variable ``env`` (a positive whole number, ``_`` as
    thousands separator allowed), else ``default``; ``unit`` names what it counts. Raises
    :class:`InputError` (exit 2) for anything else."""
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise InputError(
            f"{env}={privacy.redact(text)!r}: expected a positive whole number of {unit}"
        )
    return value


def max_cells() -> int:
    """The size limit in cells: ``$WB_MAX_INPUT_CELLS``, else :data:`DEFAULT_MAX_CELLS`."""
    return env_limit(MAX_CELLS_ENV, DEFAULT_MAX_CELLS, "cells")


def _csv_shape(path: Path, encoding: str) -> tuple[int, int]:
    """(rows, columns) of a CSV, estimated from its size and its first lines."""
    with path.open("r", encoding=encoding, newline="") as fh:
        sample = fh.read(1 << 20)
    lines = sample.splitlines() or [""]
    header = next(csv.reader([lines[0]]), [])
    average = max(len(sample.encode(encoding)) / len(lines), 1.0)
    return max(round(path.stat().st_size / average) - 1, 0), len(header)


def _xlsx_shape(path: Path) -> tuple[int, int]:
    """(rows, columns) of an XLSX's first sheet: its declared dimension, or, when the writer
    left none, the uncompressed size of the sheet's XML (about 30 bytes a cell)."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    try:
        sheet = book.worksheets[0]
        rows, cols = sheet.max_row, sheet.max_column
    finally:
        book.close()
    if rows and cols and rows * cols > 1:
        return rows - 1, cols
    with zipfile.ZipFile(path) as zf:
        size = max((i.file_size for i in zf.infolist() if "worksheets/" in i.filename), default=0)
    return size // 30, 1


def check_size(path: Path, suffix: str, label: str, encoding: str | None = None) -> None:
    """Refuse an input above the size limit (:func:`max_cells`) before loading it.

    Rows and columns come from the Parquet footer, the XLSX sheet dimension, or a CSV's size
    and first lines; an XLSX cell counts :data:`XLSX_CELL_COST` times.
    """
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        meta = pq.read_metadata(path)
        rows, cols, cost = meta.num_rows, meta.num_columns, 1
    elif suffix == ".xlsx":
        rows, cols = _xlsx_shape(path)
        cost = XLSX_CELL_COST
    else:
        rows, cols = _csv_shape(path, encoding or "utf-8-sig")
        cost = 1
    if cols > MAX_COLUMNS:
        raise InputError(f"{label}: row 1: {cols:,} columns; at most {MAX_COLUMNS:,} are read")
    limit = max_cells()
    if rows * cols * cost > limit:
        per = f" (an XLSX cell counts {cost})" if cost > 1 else ""
        raise InputError(
            f"{label}: about {rows:,} rows x {cols:,} columns{per} is above the size limit of "
            f"{limit:,} cells ({MAX_CELLS_ENV}); split the file, or raise the limit on a "
            "machine with the memory for it"
        )


def _csv_structure_problem(path: Path, encoding: str, label: str) -> InputError:
    """Why a CSV cannot be parsed, with the row: a row with more or fewer fields than the
    header, a cell above :data:`MAX_CELL_CHARS`, or a broken quote."""
    csv.field_size_limit(MAX_CELL_CHARS)
    with path.open("r", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        width = None
        try:
            for row_number, row in enumerate(reader, start=1):
                width = len(row) if width is None else width
                if row and len(row) != width:
                    return InputError(
                        f"{label}: row {row_number}: {len(row)} fields, but the header has "
                        f"{width}; check the separators and quotes in that row"
                    )
        except csv.Error as exc:
            what = "a cell longer than" if "field larger" in str(exc) else "cannot parse it"
            detail = f"{what} {MAX_CELL_CHARS:,} characters" if "longer" in what else what
            return InputError(f"{label}: row {reader.line_num}: {detail}")
    return InputError(f"{label}: cannot read as CSV (its structure is broken)")


def _column_names(values: list[object], label: str) -> list[str]:
    """Header cells as column names (an empty one becomes ``column N``); refuse a name that
    repeats, naming row 1 and both column positions."""
    names = []
    seen: dict[str, int] = {}
    for position, value in enumerate(values, start=1):
        text = "" if value is None or value != value else str(value).strip()
        name = text or f"column {position}"
        if name in seen:
            raise InputError(
                f"{label}: row 1: columns {seen[name]} and {position} have the same name "
                f"'{privacy.redact(name)}'; each column must have its own name"
            )
        seen[name] = position
        names.append(name)
    return names


def _header_frame(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    """A frame read without a header: its first row becomes the column names."""
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = _column_names(raw.iloc[0].tolist(), label)
    return frame


def read_table(path: str | os.PathLike[str], label: str | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or XLSX file as it is, by suffix (text files: every column as text).

    A ``wb simulate`` stamp (Parquet metadata, XLSX custom property or the ``wb_simulated``
    column; :mod:`wb.door.provenance`) is taken out of the data and put in
    ``frame.attrs["wb.simulated"]``; a file without one has no such key.

    ``label`` names the file in messages (default: :func:`neutral_label`). Raises
    :class:`InputError` (exit 2) for a missing or irregular file, an unsupported suffix, a file
    above the size limit, repeated column names, a ragged row or an unreadable file.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    label = label or neutral_label(p)
    if suffix in SUFFIXES or os.path.lexists(p):  # a folder is named a folder, whatever its name
        check_regular_file(p, label)
    if suffix not in SUFFIXES:
        raise InputError(
            f"{label}: unsupported file type '{privacy.redact(p.suffix or '(none)')}'; "
            "expected one of " + ", ".join(SUFFIXES)
        )
    encoding = None
    stamp = None
    try:
        if suffix == ".csv":
            encoding = detect_encoding(p, label)
            check_size(p, suffix, label, encoding)
            if encoding == "gb18030":
                warnings.warn(
                    f"{label}: not UTF-8; read as GB18030/GBK (as Excel saves CSV on Chinese "
                    "Windows)",
                    InputWarning,
                    stacklevel=2,
                )
            raw = pd.read_csv(
                p,
                dtype=str,
                header=None,
                encoding=encoding,
                engine="pyarrow",
                keep_default_na=False,
                na_values=[""],
            )
            frame = _header_frame(raw, label)
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            check_size(p, suffix, label)
            schema = pq.read_schema(p)
            names = _column_names(schema.names, label)
            stamp = provenance.of_parquet_metadata(schema.metadata)
            frame = pd.read_parquet(p)
            frame.columns = names[: len(frame.columns)]
        else:
            check_size(p, suffix, label)
            stamp = provenance.of_xlsx(p)
            raw = pd.read_excel(p, dtype=object, engine="openpyxl", header=None)
            frame = _header_frame(raw, label)
    except InputError:
        raise
    except Exception as exc:  # the parsers raise many types; all mean "cannot read this file"
        if suffix == ".csv" and encoding is not None:
            raise _csv_structure_problem(p, encoding, label) from exc
        raise InputError(
            f"{label}: cannot read as {suffix[1:].upper()}: {type(exc).__name__}"
        ) from exc
    if suffix != ".xlsx":
        _release_reader_memory()
    frame, marked = provenance.take_column(frame)
    # pandas restores a Parquet file's attrs: a stamped frame written with to_parquet keeps it
    kept = frame.attrs.pop(provenance.KEY, None)
    stamp = stamp or marked or (kept if isinstance(kept, dict) else None)
    if stamp is not None:
        frame.attrs[provenance.KEY] = stamp
    return frame


def _release_reader_memory() -> None:
    """Hand the memory pyarrow's reader freed back to the system: its pool keeps it otherwise
    (~0.3 GB after reading a 3.5M-row export), out of reach of the numpy arrays that follow."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def drop_personal_data(frame: pd.DataFrame, label: str, keep: tuple[str, ...]) -> pd.DataFrame:
    """Drop columns whose name or values look personal, warning with the column (its name
    only when :func:`~wb.door.privacy.showable`, else its position).

    Columns in ``keep`` (the schema's own columns) are never dropped here; the schema checks
    that its text columns do not hold personal data.
    """
    drop = []
    for position, column in enumerate(frame.columns, start=1):
        if column in keep:
            continue
        text_like = not pd.api.types.is_numeric_dtype(frame[column])
        if privacy.name_suggests_personal_data(column) or (
            text_like and privacy.values_look_personal(frame[column])
        ):
            drop.append(column)
            warnings.warn(
                f"{label}: {privacy.column_ref(column, position)} looks like personal data "
                "(names, phones, ID numbers, WeChat ids); dropped at the door, values not read",
                InputWarning,
                stacklevel=2,
            )
    return frame.drop(columns=drop)


def load(
    path: str | os.PathLike[str], schema: str | None = None, label: str | None = None
) -> Loaded:
    """Read, clean and validate an input file; the one way data enters ``wb``.

    Parameters
    ----------
    path
        CSV, Parquet or XLSX file.
    schema
        ``"rm_month"`` or ``"bank_panel"``; inferred from the columns when ``None``.
    label
        How messages name the file; default :func:`neutral_label` (the file and folder
        names are never shown: they may hold personal data).

    Raises
    ------
    InputError
        Listing every problem found (file label, column, spreadsheet rows, what was expected).
    """
    p = Path(path)
    given = label
    label = given or neutral_label(p, schema)
    raw = read_table(p, label)
    stamp = raw.attrs.get(provenance.KEY)
    name = schema or schemas.infer_schema(raw.columns, label)
    if given is None and schema is None:
        label = label.replace("input", name, 1)
    spec = schemas.SPECS[name]
    raw = drop_personal_data(raw, label, keep=spec.column_names)
    unknown = [c for c in raw.columns if c not in spec.column_names]
    positions = {c: i for i, c in enumerate(raw.columns, start=1)}
    for column in unknown:
        warnings.warn(
            f"{label}: unknown {privacy.column_ref(column, positions[column])} ignored",
            InputWarning,
            stacklevel=2,
        )
    frame, coded = validation.validate_coded(raw.drop(columns=unknown), name, label)
    sources = None
    if name == "bank_panel":
        sources = load_sources(p.parent / "sources.csv", f"sources.csv beside {label}")
        validation.check_source_ids(frame, sources, label)
    if stamp is not None:
        frame.attrs[provenance.KEY] = stamp
    return Loaded(
        frame=frame, schema=name, path=p, label=label, sources=sources, coded=coded, stamp=stamp
    )


def load_sources(path: Path, label: str = "sources.csv") -> pd.DataFrame:
    """Read and validate the sources table (``sources.csv`` beside a bank panel)."""
    if not path.is_file():
        raise InputError(f"{label}: not found; a bank_panel needs sources.csv beside it")
    raw = read_table(path, label)
    spec = schemas.SPECS["sources"]
    extra = [c for c in raw.columns if c not in spec.column_names]
    return validation.validate(raw.drop(columns=extra), "sources", label)
