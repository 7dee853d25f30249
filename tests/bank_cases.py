"""Small bank panels written by hand, for the tests of metrics, the news check and charts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wb.banks.panel import Panel, basis_of

SOURCES = pd.DataFrame(
    {
        "source_id": ["s_old", "s_new", "s_own"],
        "title": ["old news", "new news", "annual report"],
        "publisher": ["paper", "paper", "bank"],
        "date": ["2024-01-01", "2025-09-01", "2025-03-28"],
        "url": ["https://a", "https://b", "https://c"],
    }
)


def make_panel(tmp_path: Path, rows: list[dict], sources: pd.DataFrame = SOURCES) -> Panel:
    """Write a small bank panel and its sources into ``tmp_path``; load it through wb.door.io."""
    defaults = {"qualifier": "exact", "source_id": "s_old", "quote": "原文", "confidence": "medium"}
    frame = pd.DataFrame([defaults | r for r in rows])
    frame.to_csv(tmp_path / "bank_panel.csv", index=False)
    sources.to_csv(tmp_path / "sources.csv", index=False)
    return Panel.load(tmp_path / "bank_panel.csv")


def row(bank: str, period: str, metric: str, value: float, **kw) -> dict:
    """A panel row; its basis as the build script gives it (pre-tax profit, period-end AUM)."""
    basis = basis_of(metric, "税前利润" if metric.startswith("retail_profit") else "")
    return {
        "bank_id": bank,
        "period": period,
        "metric": metric,
        "value": value,
        "basis": basis,
    } | kw
