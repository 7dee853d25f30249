"""One Excel workbook per run: every table behind every chart and result of the brief.

``workbook.xlsx`` in the run folder holds, a sheet each: what the workbook is (the period, the
data, SIMULATED when it is), the findings as sentences, the table behind each bank chart, the
news check, the uplift estimates and designs, the add-quality shares, the customer-level
effects, and the sources (id, title, publisher, date, URL). Every header names its unit
(``(%)``, ``(亿元 100m yuan)``, ``(yuan per add)``) and every number has an Excel number format
(shares as %, money with thousands separators), so the book reads as printed while each cell
keeps its full value: a share stays a fraction (0.123 shown as 12.3%), money is stored in the
unit its header names.

The sheets are read from the run's artifacts (``bank_comparison.json`` and ``bank_tables.xlsx``
of the bank notebook, ``uplift.json``, ``customer_uplift.json``), so a notebook in JupyterLab
can write the same book of its own ``out_dir`` with :func:`write`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from wb.banks import comparison
from wb.door.atomic import atomic_path

#: The workbook's name in a run folder (and in a notebook's ``out_dir``).
WORKBOOK_NAME = "workbook.xlsx"

PERCENT = "0.0%"
YUAN = "#,##0"
DECIMAL = "#,##0.00"
COUNT = "#,##0"


@dataclass(frozen=True)
class Unit:
    """How a column is shown: the unit its header names, the Excel number format, and the
    factor its stored values were multiplied by (1e-8 for yuan shown in 亿元)."""

    label: str
    number_format: str
    factor: float = 1.0


FRACTION = Unit("%", PERCENT)
HUNDRED_MILLION_YUAN = Unit("亿元 100m yuan", DECIMAL, 1e-8)
PERSONS = Unit("persons", COUNT)
YUAN_PER_ADD = Unit("yuan per add", YUAN)
YUAN_PER_CUSTOMER = Unit("yuan per bound customer", YUAN)

#: Units of the bank chart tables' columns (values in the panel are yuan, persons, fractions).
BANK_UNITS: dict[str, dict[str, Unit]] = {
    "bank_income": {"value": FRACTION, "level": HUNDRED_MILLION_YUAN},
    "bank_profit": {"value": FRACTION, "level": HUNDRED_MILLION_YUAN},
    "bank_share": {"value": FRACTION},
    "bank_aum": {"level": HUNDRED_MILLION_YUAN, "growth": FRACTION},
    "bank_wecom": {
        "connected": PERSONS,
        "customers": PERSONS,
        "share": FRACTION,
        "certification_rate": FRACTION,
    },
}
#: The trend table holds two series in one column: each row's unit follows its series.
TREND_UNITS = {"retail_operating_income": HUNDRED_MILLION_YUAN, "retail_income_share": FRACTION}


@dataclass(frozen=True)
class Sheet:
    """One sheet: a title (≤ 31 characters), the table, each column's unit (absent: shown as
    stored) and, for mixed columns, a unit per row."""

    title: str
    frame: pd.DataFrame
    units: dict[str, Unit]
    row_units: dict[str, list[Unit | None]] | None = None


def _scaled(frame: pd.DataFrame, units: dict[str, Unit]) -> tuple[pd.DataFrame, dict[str, Unit]]:
    """Values in the unit each header names; headers renamed ``column (unit)``."""
    out = frame.copy()
    renamed: dict[str, Unit] = {}
    for column, unit in units.items():
        if column not in out:
            continue
        if unit.factor != 1.0:
            out[column] = pd.to_numeric(out[column], errors="coerce") * unit.factor
        renamed[f"{column} ({unit.label})"] = unit
        out = out.rename(columns={column: f"{column} ({unit.label})"})
    return out, renamed


def _bank_sheets(folder: Path) -> list[Sheet]:
    """The table behind each bank chart, as the bank notebook wrote them."""
    path = folder / comparison.WORKBOOK_NAME
    if not path.is_file():
        return []
    sheets = []
    for stem, table in pd.read_excel(path, sheet_name=None).items():
        if stem == "bank_trends" and "series" in table:
            units = [TREND_UNITS.get(series) for series in table["series"]]
            table = table.assign(
                value=[
                    v * u.factor if u is not None and pd.notna(v) else v
                    for v, u in zip(table["value"], units, strict=True)
                ],
                unit=[u.label if u else "" for u in units],
            )
            sheets.append(Sheet(stem, table, {}, {"value": units}))
            continue
        frame, units = _scaled(table, BANK_UNITS.get(stem, {}))
        sheets.append(Sheet(stem, frame, units))
    return sheets


def _estimate_rows(estimates: dict[str, dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            **extra,
            "estimate": name,
            "coef": est.get("coef"),
            "se": est.get("se"),
            "ci_low": est.get("ci_low"),
            "ci_high": est.get("ci_high"),
        }
        for name, est in estimates.items()
        if isinstance(est, dict) and "coef" in est
    ]


def _money(unit: Unit) -> dict[str, Unit]:
    return {c: unit for c in ("coef", "se", "ci_low", "ci_high")}


def _uplift_sheets(doc: dict[str, Any]) -> list[Sheet]:
    """Estimates (yuan of monthly AUM change per add, 95% CI), and the add-quality shares."""
    rows = _estimate_rows(doc.get("estimates", {}))
    if (wald := doc.get("wald_did")) and wald.get("coef") is not None:
        rows += _estimate_rows({"wald_did": wald})
    frame, units = _scaled(pd.DataFrame(rows), _money(YUAN_PER_ADD))
    sheets = [Sheet("uplift_estimates", frame, units)]
    if quality := doc.get("add_quality"):
        shares = [
            {
                "count": name,
                "meaning": c.get("meaning", ""),
                "quota_share": c.get("share"),
                "quota_ci_low": c.get("ci_low"),
                "quota_ci_high": c.get("ci_high"),
                "no_quota_share": c.get("no_quota", {}).get("share"),
                "no_quota_ci_low": c.get("no_quota", {}).get("ci_low"),
                "no_quota_ci_high": c.get("no_quota", {}).get("ci_high"),
            }
            for name, c in quality.get("counts", {}).items()
        ]
        frame = pd.DataFrame(shares)
        share_units = {c: FRACTION for c in frame.columns if c not in ("count", "meaning")}
        frame, units = _scaled(frame, share_units)
        sheets.append(Sheet("add_quality", frame, units))
    return sheets


def _customer_sheets(doc: dict[str, Any]) -> list[Sheet]:
    """The customer-level effects: by kind of binding, their difference, by AUM tier and by
    month since binding (yuan of AUM per bound customer, 95% CI)."""
    rows = _estimate_rows(doc.get("att_by_kind", {}), tier="all")
    if diff := doc.get("difference"):
        rows += _estimate_rows({"quota_month - no_quota": diff}, tier="all")
    for tier in doc.get("by_tier", []):
        rows += _estimate_rows(tier.get("att_by_kind", {}), tier=tier.get("tier", ""))
    effects, units = _scaled(pd.DataFrame(rows), _money(YUAN_PER_CUSTOMER))
    paths = pd.DataFrame(
        [
            {"kind": kind, **{k: p.get(k) for k in ("event_month", "coef", "ci_low", "ci_high")}}
            for kind, points in doc.get("event_time", {}).items()
            for p in points
        ]
    )
    paths, path_units = _scaled(paths, _money(YUAN_PER_CUSTOMER))
    return [
        Sheet("customer_effects", effects, units),
        Sheet("customer_paths", paths, path_units),
    ]


def _about(period: str, data_label: str, simulated: bool, sheets: list[Sheet]) -> Sheet:
    lines = [
        ("period 报告期", period),
        ("data 数据", data_label),
        ("simulated 模拟", "SIMULATED 模拟数据: not any real bank" if simulated else "no"),
        ("units 单位", "each header names its unit; shares are stored as fractions, shown as %"),
        *((f"sheet: {s.title}", f"{len(s.frame):,} rows") for s in sheets),
    ]
    return Sheet("about", pd.DataFrame(lines, columns=["item", "value"]), {})


def sheets_of(
    folder: str | Path,
    period: str = "",
    data_label: str = "",
    customer: Any = None,
) -> list[Sheet]:
    """Every sheet the artifacts in ``folder`` (a run's ``artifacts/`` or a notebook's
    ``out_dir``) support, the ``about`` sheet first and ``sources`` last; ``customer`` is a
    customer-level uplift not written to ``folder``: a result (``wb warehouse uplift``'s, with
    ``to_json()``) or its document."""
    if customer is not None and not isinstance(customer, dict):
        customer = customer.to_json()
    folder = Path(folder)
    sheets: list[Sheet] = []
    simulated = False
    bank_path = folder / comparison.ARTIFACT_NAME
    bank = json.loads(bank_path.read_text(encoding="utf-8")) if bank_path.is_file() else None
    if bank:
        period = period or bank.get("period", "")
        findings = pd.DataFrame(
            [{"key": f["key"], "zh": f["zh"], "en": f["en"]} for f in bank["findings"]]
        )
        sheets.append(Sheet("findings", findings, {}))
        sheets += _bank_sheets(folder)
        sheets.append(Sheet("news_check", pd.DataFrame(bank["news_check"]), {}))
    uplift_path = folder / "uplift.json"
    if uplift_path.is_file():
        doc = json.loads(uplift_path.read_text(encoding="utf-8"))
        simulated |= bool(doc.get("data", {}).get("simulated"))
        data_label = data_label or doc.get("data", {}).get("label", "")
        sheets += _uplift_sheets(doc)
    docs = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("customer_uplift/*/customer_uplift.json"))
    ]
    for doc in [*docs, *([customer] if customer else [])]:
        simulated |= bool(doc.get("simulated"))
        sheets += _customer_sheets(doc)
    if bank:
        columns = ["source_id", "title", "publisher", "date", "url", "unverified"]
        sources = pd.DataFrame(bank["sources"]).reindex(columns=columns)
        sheets.append(Sheet("sources", sources, {}))
    return [_about(period, data_label, simulated, sheets), *sheets]


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def save(sheets: list[Sheet], path: str | Path) -> Path:
    """Write ``sheets`` to one XLSX file atomically: bold frozen headers, number formats per
    column (or per row for a mixed column), widths to fit."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        columns = list(sheet.frame.columns)
        ws.append(columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.frame.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        for j, column in enumerate(columns, start=1):
            unit = sheet.units.get(column)
            per_row = (sheet.row_units or {}).get(column)
            for i in range(len(sheet.frame)):
                chosen = per_row[i] if per_row is not None else unit
                if chosen is not None:
                    ws.cell(row=i + 2, column=j).number_format = chosen.number_format
            longest = max(
                (len(str(v)) for v in sheet.frame[column] if _cell(v) is not None), default=0
            )
            width = max(len(str(column)), longest)
            ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "A2"
    target = Path(path)
    with atomic_path(target) as tmp:
        book.save(tmp)
    return target


def write(folder: str | Path, target: str | Path | None = None, **about: Any) -> Path:
    """Write the workbook of the artifacts in ``folder`` to ``target`` (default:
    ``folder/workbook.xlsx``); ``about`` may give ``period``, ``data_label`` and ``customer``
    (see :func:`sheets_of`)."""
    folder = Path(folder)
    return save(sheets_of(folder, **about), target or folder / WORKBOOK_NAME)
