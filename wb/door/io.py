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
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wb.door import privacy, schemas, validation
from wb.door.atomic import atomic_path
from wb.errors import InputError

SUFFIXES = (".csv", ".parquet", ".xlsx")
_CHUNK = 1 << 22


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
        The file it came from.
    sources : pandas.DataFrame or None
        For ``bank_panel``: the validated sources table beside the file.
    """

    frame: pd.DataFrame
    schema: str
    path: Path
    sources: pd.DataFrame | None = None

    def summary(self) -> str:
        """One line: what was read and what it holds."""
        return validation.summarise(self.frame, self.schema, self.path, self.sources)


def detect_encoding(path: Path) -> str:
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
        f"{path}: cannot decode the file as UTF-8 or GB18030/GBK; save it as UTF-8 CSV"
    )


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV, Parquet or XLSX file as it is, by suffix (text files: every column as text).

    Raises :class:`InputError` (exit 2) for a missing file, an unsupported suffix or an
    unreadable file.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{p}: unsupported file type '{p.suffix or '(none)'}'; expected one of "
            + ", ".join(SUFFIXES)
        )
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    try:
        if suffix == ".csv":
            encoding = detect_encoding(p)
            if encoding == "gb18030":
                warnings.warn(
                    f"{p}: not UTF-8; read as GB18030/GBK (as Excel saves CSV on Chinese Windows)",
                    InputWarning,
                    stacklevel=2,
                )
            frame = pd.read_csv(
                p,
                dtype=str,
                encoding=encoding,
                engine="pyarrow",
                keep_default_na=False,
                na_values=[""],
            )
        elif suffix == ".parquet":
            frame = pd.read_parquet(p)
        else:
            frame = pd.read_excel(p, dtype=object, engine="openpyxl")
    except InputError:
        raise
    except Exception as exc:  # the parsers raise many types; all mean "cannot read this file"
        raise InputError(f"{p}: cannot read as {suffix[1:].upper()}: {type(exc).__name__}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def drop_personal_data(frame: pd.DataFrame, path: Path, keep: tuple[str, ...]) -> pd.DataFrame:
    """Drop columns whose name or values look personal, warning with the column name only.

    Columns in ``keep`` (the schema's own columns) are never dropped here; the schema checks
    that id columns do not hold personal data.
    """
    drop = []
    for column in frame.columns:
        if column in keep:
            continue
        text_like = not pd.api.types.is_numeric_dtype(frame[column])
        if privacy.name_suggests_personal_data(column) or (
            text_like and privacy.values_look_personal(frame[column])
        ):
            drop.append(column)
    for column in drop:
        warnings.warn(
            f"{path}: column '{privacy.redact(column)}' looks like personal data "
            "(names, phones, ID numbers, WeChat ids); dropped at the door, values not read",
            InputWarning,
            stacklevel=2,
        )
    return frame.drop(columns=drop)


def load(path: str | os.PathLike[str], schema: str | None = None) -> Loaded:
    """Read, clean and validate an input file; the one way data enters ``wb``.

    Parameters
    ----------
    path
        CSV, Parquet or XLSX file.
    schema
        ``"rm_month"`` or ``"bank_panel"``; inferred from the columns when ``None``.

    Raises
    ------
    InputError
        Listing every problem found (file, column, spreadsheet rows, what was expected).
    """
    p = Path(path)
    raw = read_table(p)
    name = schema or schemas.infer_schema(raw.columns, p)
    spec = schemas.SPECS[name]
    raw = drop_personal_data(raw, p, keep=spec.column_names)
    unknown = [c for c in raw.columns if c not in spec.column_names]
    for column in unknown:
        warnings.warn(f"{p}: unknown column '{column}' ignored", InputWarning, stacklevel=2)
    frame = validation.validate(raw.drop(columns=unknown), name, p)
    sources = None
    if name == "bank_panel":
        sources = load_sources(p.parent / "sources.csv")
        validation.check_source_ids(frame, sources, p)
    return Loaded(frame=frame, schema=name, path=p, sources=sources)


def load_sources(path: Path) -> pd.DataFrame:
    """Read and validate the sources table (``sources.csv`` beside a bank panel)."""
    if not path.is_file():
        raise InputError(
            f"{path}: sources table not found; a bank_panel needs sources.csv beside it"
        )
    raw = read_table(path)
    spec = schemas.SPECS["sources"]
    extra = [c for c in raw.columns if c not in spec.column_names]
    return validation.validate(raw.drop(columns=extra), "sources", path)


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` as CSV (UTF-8) or Parquet by suffix, atomically (temp file + rename).

    Output bytes depend only on the frame: no index, no timestamps.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"{p}: cannot write '{p.suffix}'; expected .csv or .parquet")
    with atomic_path(p) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, lineterminator="\n")
        else:
            frame.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
    return p


def write_workbook(sheets: dict[str, pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Write one XLSX workbook, a sheet per table (sheet names cut to Excel's 31 characters),
    atomically. Tuples become ``"a, b"`` text; missing values stay empty cells."""
    p = Path(path)
    if p.suffix.lower() != ".xlsx":
        raise InputError(f"{p}: a workbook must end in .xlsx")
    with atomic_path(p) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            flat = frame.map(lambda v: ", ".join(v) if isinstance(v, tuple | list) else v)
            flat.to_excel(writer, sheet_name=name[:31], index=False)
    return p
