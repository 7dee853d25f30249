"""Provenance inside the data: the stamp ``wb simulate`` puts in every file it writes.

A simulated file says so itself, wherever it is copied and under any name (the truth file
beside it may be left behind). The stamp is a small dictionary: the simulator, its schema,
the level (``rm`` or ``customer``), the seed and the true effects (yuan of monthly AUM change
per add)::

    {"simulator": "wb simulate", "schema": "wb.simulate/1", "level": "rm", "seed": 1,
     "true_effects": {"beta_quota_cny_per_add": 0.0, "beta_organic_cny_per_add": 20000.0, ...}}

It is written three ways (docs/data.md, "Simulated files"):

* **Parquet**: the file's key-value metadata, key :data:`KEY` (``wb.simulated``), the stamp as
  JSON (every Parquet file of a simulated warehouse table, and the panel a build makes from it).
* **A column** :data:`COLUMN` (``wb_simulated``), last, in every row of an RM x month file (CSV,
  XLSX and Parquet alike): ``SIMULATED wb simulate seed=1 beta_quota=0 beta_organic=20000``.
  Pandas and Excel users see it; it survives a copy, a filter, a sort and a save-as in another
  format.
* **XLSX**: also the workbook's custom document property :data:`KEY`, the stamp as JSON.

The door (:func:`wb.door.io.read_table`) reads any of them, drops the column, and puts the
stamp in the frame's ``attrs[KEY]``; a file without one is not simulated.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pandas as pd

#: Parquet key-value metadata key, XLSX custom property name and ``DataFrame.attrs`` key.
KEY = "wb.simulated"
#: The column that marks every row of a simulated RM x month file.
COLUMN = "wb_simulated"
#: How every value of :data:`COLUMN` starts.
WORD = "SIMULATED"
#: How every output made from simulated data says so to its reader: each figure and page, the
#: printed findings of notebooks and commands.
LABEL = "模拟数据 · SIMULATED DATA"

_PAIR = re.compile(r"(\w+)=(\S+)")
#: Marker text key → the stamp's ``true_effects`` key (yuan per add).
_EFFECTS = {
    "beta_quota": "beta_quota_cny_per_add",
    "beta_organic": "beta_organic_cny_per_add",
}
_MEANING = "yuan of monthly AUM change per WeCom add, quota-induced vs organic"


def make(schema: str, level: str, seed: int, true_effects: dict[str, Any]) -> dict[str, Any]:
    """The stamp of a simulator's output: ``schema`` (the simulator's truth schema), ``level``
    (``"rm"`` or ``"customer"``), the seed and the truth file's ``true_effects``."""
    return {
        "simulator": "wb simulate" + (" --level customer" if level == "customer" else ""),
        "schema": schema,
        "level": level,
        "seed": seed,
        "true_effects": true_effects,
    }


def to_json(stamp: dict[str, Any]) -> str:
    """The stamp as one line of JSON (sorted keys: the same stamp, the same bytes)."""
    return json.dumps(stamp, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def marker(stamp: dict[str, Any]) -> str:
    """The value of :data:`COLUMN` in every row: ``SIMULATED``, the simulator, its level and
    seed and the two true effects (yuan per add), e.g. ``SIMULATED wb simulate seed=1
    beta_quota=0 beta_organic=20000`` (the level is named when it is not ``rm``)."""
    effects = stamp.get("true_effects") or {}
    level = stamp.get("level", "rm")
    pairs = [] if level == "rm" else [f"level={level}"]
    pairs += [f"seed={stamp['seed']}"] if "seed" in stamp else []
    pairs += [
        f"{short}={_number(effects[key])}" for short, key in _EFFECTS.items() if key in effects
    ]
    return " ".join([WORD, "wb simulate", *pairs])


def _number(value: float) -> str:
    """A yuan amount as short text that reads back exactly: ``-20000``, ``1234.5``."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def from_marker(text: str) -> dict[str, Any] | None:
    """The stamp a :data:`COLUMN` value carries (its effects, when they read as numbers), or
    ``None`` unless it starts with ``SIMULATED`` (any case)."""
    text = text.strip()
    if not text.upper().startswith(WORD):
        return None
    pairs = dict(_PAIR.findall(text))
    stamp: dict[str, Any] = {"simulator": "wb simulate", "level": pairs.get("level", "rm")}
    if pairs.get("seed", "").isdigit():
        stamp["seed"] = int(pairs["seed"])
    effects = {}
    for short, key in _EFFECTS.items():
        try:
            effects[key] = float(pairs[short])
        except (KeyError, ValueError):
            continue
    if len(effects) == len(_EFFECTS):
        stamp["true_effects"] = effects | {"meaning": _MEANING}
    return stamp


def _from_json(text: str | bytes) -> dict[str, Any] | None:
    try:
        stamp = json.loads(text)
    except ValueError:
        return None
    return stamp if isinstance(stamp, dict) else None


def parquet_metadata(stamp: dict[str, Any]) -> dict[bytes, bytes]:
    """The key-value metadata entry that stamps a Parquet file (add it to the schema's)."""
    return {KEY.encode(): to_json(stamp).encode("utf-8")}


def stamp_arrow(table: Any, stamp: dict[str, Any] | None, column: bool = False) -> Any:
    """A ``pyarrow.Table`` with the stamp in its schema metadata (and, with ``column``, the
    :data:`COLUMN` marker last); the table as it is when ``stamp`` is ``None``."""
    if stamp is None:
        return table
    import pyarrow as pa

    if column:
        # one scalar repeated in Arrow, not a Python list of a million strings (0.4 s a table)
        table = table.append_column(
            COLUMN, pa.repeat(pa.scalar(marker(stamp), pa.string()), table.num_rows)
        )
    return table.replace_schema_metadata((table.schema.metadata or {}) | parquet_metadata(stamp))


def of_parquet_metadata(metadata: dict[bytes, bytes] | None) -> dict[str, Any] | None:
    """The stamp in a Parquet file's key-value metadata, or ``None``."""
    value = (metadata or {}).get(KEY.encode())
    return None if value is None else _from_json(value)


def of_parquet(path: str | Path) -> dict[str, Any] | None:
    """The stamp of a Parquet file (read from its footer only), or ``None``."""
    import pyarrow.parquet as pq

    return of_parquet_metadata(pq.read_schema(path).metadata)


_CUSTOM_XML = "docProps/custom.xml"
_VT = "{http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes}lpwstr"


def of_xlsx(path: str | Path) -> dict[str, Any] | None:
    """The stamp in an XLSX workbook's custom document property :data:`KEY`, or ``None``."""
    try:
        with zipfile.ZipFile(path) as zf:
            if _CUSTOM_XML not in zf.namelist():
                return None
            root = ElementTree.fromstring(zf.read(_CUSTOM_XML))
    except (OSError, zipfile.BadZipFile, ElementTree.ParseError):
        return None
    for prop in root:
        if prop.get("name") == KEY:
            value = prop.find(_VT)
            return None if value is None or not value.text else _from_json(value.text)
    return None


def take_column(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """``frame`` without :data:`COLUMN`, and the stamp its first ``SIMULATED`` value carries
    (``None`` when there is no such column or no row says ``SIMULATED``)."""
    if COLUMN not in frame.columns:
        return frame, None
    values = frame[COLUMN].dropna().astype(str)
    said = values[values.str.strip().str.upper().str.startswith(WORD)]
    stamp = from_marker(said.iloc[0]) if len(said) else None
    return frame.drop(columns=[COLUMN]), stamp


def stamp_frame(frame: pd.DataFrame, stamp: dict[str, Any] | None) -> pd.DataFrame:
    """``frame`` with the :data:`COLUMN` marker last in every row (unchanged without a stamp)."""
    if stamp is None:
        return frame
    return frame.assign(**{COLUMN: marker(stamp)})


def label(stamp: dict[str, Any] | None) -> str:
    """How outputs name simulated data: ``"SIMULATED (wb simulate, seed 1)"``; ``""`` if real."""
    if stamp is None:
        return ""
    seed = f", seed {stamp['seed']}" if "seed" in stamp else ""
    return f"{WORD} ({stamp.get('simulator', 'wb simulate')}{seed})"
