"""How a result meets a person: one HTML rendering for every tidy table wb shows.

Results (:class:`wb.banks.finding.Findings`, :class:`wb.banks.newscheck.NewsCheck`, …) are
frozen objects with ``.tidy()`` (a long DataFrame), ``.summary()`` (plain text) and
``_repr_html_`` built here, so every table in JupyterLab reads the same way: escaped text,
numbers formatted, tuples of source ids joined, missing values shown as "—".
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

Formatter = Callable[[object], str]


def number(value: float) -> str:
    """A number as a person reads it: whole yuan with thousands separators from 100 up, two
    decimals from 1, four significant digits below, never in scientific notation
    (``-1,204,518``, ``37.85``, ``0.6927``, ``0.00001234``)."""
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return np.format_float_positional(value, precision=4, unique=True, fractional=False, trim="-")


def p_value(value: float) -> str:
    """A p-value to three decimals, ``<0.001`` below that; ``—`` when missing."""
    if math.isnan(value):
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def percent(value: float) -> str:
    """A fraction as a percent with one decimal (``0.6927`` → ``69.3%``); ``—`` when missing."""
    return "—" if math.isnan(value) else f"{value:.1%}"


def yuan(value: float) -> str:
    """Yuan with thousands separators, whole (``-1,204,518``); ``—`` when missing."""
    return "—" if math.isnan(value) else f"{value:,.0f}"


class Table(pd.DataFrame):
    """A tidy table (a DataFrame whose values stay the numbers themselves) that JupyterLab shows
    formatted: the columns named in ``attrs["percent"]`` as percents, in ``attrs["yuan"]`` as
    whole yuan with separators, p-values as ``<0.001``, other numbers by :func:`cell` (no
    scientific notation). Make one with :func:`table`."""

    @property
    def _constructor(self) -> type[Table]:
        return Table

    def _repr_html_(self) -> str:
        kinds = {c: percent for c in self.attrs.get("percent", ())}
        kinds |= {c: yuan for c in self.attrs.get("yuan", ())}
        formats: dict[object, Formatter] = {}
        for column in self.columns:
            if column in kinds:
                formats[column] = kinds[column]
            elif str(column) in ("pvalue", "p_value") or str(column).endswith("_p"):
                formats[column] = p_value
            else:
                formats[column] = cell
        escaped = {c: (lambda v, show=f: html.escape(show(v))) for c, f in formats.items()}
        return self.style.format(escaped)._repr_html_()


def table(frame: pd.DataFrame, *, percents: Sequence[str] = (), yuans: Sequence[str] = ()) -> Table:
    """``frame`` as a :class:`Table`: the same values, shown with ``percents`` (fractions) as
    percents and ``yuans`` as yuan."""
    out = Table(frame)
    out.attrs.update(percent=list(percents), yuan=list(yuans))
    return out


def intervals(low: pd.Series, high: pd.Series) -> list[tuple[float, float]]:
    """Pairs ``(low, high)`` as one column of a view; :func:`cell` shows each as ``[low, high]``."""
    return [(float(lo), float(hi)) for lo, hi in zip(low, high, strict=True)]


def cell(value: object) -> str:
    """Plain text for one cell: ``"—"`` for missing, ids joined, an interval (a pair of
    numbers) as ``[low, high]``, floats without noise (:func:`number`), counts from 10,000 up
    with thousands separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{number(value[0])}, {number(value[1])}]"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value) or "—"
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return cell(value.item())
    if isinstance(value, float):
        return number(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"  # counts; a year (below 10,000) is left as written
    return str(value)


def html_table(
    frame: pd.DataFrame,
    title: str,
    formatters: dict[str, Formatter] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """``frame`` as an escaped HTML table under a bold ``title``, ``notes`` as a list under it;
    ``formatters`` per column."""
    formatters = formatters or {}
    head = "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in frame)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td style='text-align:left'>{html.escape(formatters.get(c, cell)(v))}</td>"
            for c, v in zip(frame.columns, row, strict=True)
        )
        + "</tr>"
        # itertuples keeps each column's type (iterrows would turn whole numbers into floats)
        for row in frame.itertuples(index=False, name=None)
    )
    items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    return (
        f"<div><b>{html.escape(title)}</b><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>{f'<ul>{items}</ul>' if items else ''}</div>"
    )


class Shown:
    """Mixin for result objects with ``tidy()`` and ``summary()``: in JupyterLab they show the
    summary's first line as the title, :meth:`view` as the table and the other lines as notes."""

    def tidy(self) -> pd.DataFrame:
        raise NotImplementedError

    def summary(self) -> str:
        raise NotImplementedError

    def view(self) -> pd.DataFrame:
        """The table as a person reads it (units in the column names); by default ``tidy()``."""
        return self.tidy()

    def _repr_html_(self) -> str:
        title, *notes = str(self.summary()).splitlines()
        return html_table(self.view(), title, notes=notes)


def jsonable(value: object) -> object:
    """A cell as strict JSON: NaN and ±inf → None, tuples → lists, numpy scalars → Python
    numbers. The one NaN → None rule of every ``to_json()``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return jsonable(value.item())
    return value


def finite(**numbers: float) -> dict[str, float | None]:
    """``numbers`` as strict JSON values (:func:`jsonable`: NaN and ±inf → None)."""
    return {name: jsonable(float(v)) for name, v in numbers.items()}


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The rows of a tidy table as strict JSON objects (every cell through :func:`jsonable`)."""
    return [{k: jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]
