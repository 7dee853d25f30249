"""How a result meets a person: one HTML rendering for every tidy table wb shows.

Results (:class:`wb.banks.comparison.Findings`, :class:`wb.banks.newscheck.NewsCheck`, …) are
frozen objects with ``.tidy()`` (a long DataFrame), ``.summary()`` (plain text) and
``_repr_html_`` built here, so every table in JupyterLab reads the same way: escaped text,
numbers formatted, tuples of source ids joined, missing values shown as "—".
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import pandas as pd

Formatter = Callable[[object], str]


def cell(value: object) -> str:
    """Plain text for one cell: ``"—"`` for missing, ids joined, floats without noise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def html_table(
    frame: pd.DataFrame, title: str, formatters: dict[str, Formatter] | None = None
) -> str:
    """``frame`` as an escaped HTML table under a bold ``title``; ``formatters`` per column."""
    formatters = formatters or {}
    head = "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in frame)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td style='text-align:left'>{html.escape(formatters.get(c, cell)(v))}</td>"
            for c, v in row.items()
        )
        + "</tr>"
        for _, row in frame.iterrows()
    )
    return (
        f"<div><b>{html.escape(title)}</b><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
    )


def jsonable(value: object) -> object:
    """A cell as strict JSON: NaN → None, tuples → lists, numpy scalars → Python numbers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return jsonable(value.item())
    return value
