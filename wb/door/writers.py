"""The output door: write a table as CSV (UTF-8), Parquet or XLSX by suffix (:func:`write_table`),
or an XLSX workbook of several (:func:`write_workbook`), atomically: the same frame gives the
same bytes, and a simulated frame says so in the file (:mod:`wb.door.provenance`).
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pandas as pd

from wb.door import provenance
from wb.door.atomic import atomic_path
from wb.door.io import SUFFIXES
from wb.errors import InputError

#: Most data rows an XLSX sheet holds (Excel's 1,048,576 rows less the header).
XLSX_MAX_ROWS = 1_048_575
#: The date every file inside a written XLSX carries (zip entries, created and modified).
_XLSX_DATE = (1980, 1, 1, 0, 0, 0)
_XLSX_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*")


def write_table(
    frame: pd.DataFrame, path: str | os.PathLike[str], stamp: dict | None = None
) -> Path:
    """Write ``frame`` as CSV (UTF-8), Parquet or XLSX by suffix, atomically (temp file +
    rename).

    With ``stamp`` (:mod:`wb.door.provenance`) the file says it is simulated: the
    ``wb_simulated`` column last in every row, plus the Parquet metadata key or the XLSX custom
    property ``wb.simulated``. Output bytes depend only on the frame and the stamp: no index,
    no timestamps.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{p}: cannot write '{p.suffix}'; expected .csv, .parquet or .xlsx")
    if suffix == ".xlsx" and len(frame) > XLSX_MAX_ROWS:
        raise InputError(f"{p}: {len(frame):,} rows; an XLSX sheet holds {XLSX_MAX_ROWS:,}")
    frame = provenance.stamp_frame(frame, stamp)
    with atomic_path(p) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, lineterminator="\n")
        elif suffix == ".xlsx":
            _write_xlsx(frame, tmp, stamp)
        elif stamp is None:
            frame.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(provenance.stamp_arrow(table, stamp), tmp, compression="zstd")
    return p


def _write_xlsx(frame: pd.DataFrame, path: Path, stamp: dict | None) -> None:
    """One sheet (named ``SIMULATED`` when stamped, with the stamp as the custom document
    property ``wb.simulated``), every date inside fixed: the same frame, the same bytes."""
    from openpyxl.packaging.custom import StringProperty

    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name=provenance.WORD if stamp else "Sheet1", index=False)
        writer.book.properties.creator = "wb"
        if stamp is not None:
            writer.book.custom_doc_props.append(
                StringProperty(name=provenance.KEY, value=provenance.to_json(stamp))
            )
    with zipfile.ZipFile(path) as zf:
        parts = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts:
            if name == "docProps/core.xml":  # openpyxl dates the workbook when it saves it
                data = _XLSX_DATES.sub(rb"\g<1>1980-01-01T00:00:00Z", data)
            zf.writestr(zipfile.ZipInfo(name, _XLSX_DATE), data, zipfile.ZIP_DEFLATED)


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
