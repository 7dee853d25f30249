"""The frame every bank chart shares: its size (one bar a bank), the 无数据 no-data band drawn
where a figure is missing (never a zero), the method and confidence legends, the notes under
the chart (the alternatives the selection rule left out) and the footer of source ids; saving a
chart with its record for the artifact. The charts are in :mod:`wb.plots.banks` and
:mod:`wb.plots.bank_periods`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from wb.banks.display import display_value
from wb.banks.finding import Finding
from wb.banks.panel import Panel
from wb.plots.common import finding_title
from wb.plots.theme import (
    FOOTER_CHARS_PER_INCH,
    PALETTE,
    PRINT_WIDTH_IN,
    add_footer,
    footer_text,
    save_figure,
    text_columns,
    wrap_print,
)

MISSING = "无数据 no data"
LINE_IN = 0.14  # height of one 7.5 pt text line, inches
ROW_IN = 0.27  # height of one bank's bar, inches
FRAME_IN = 1.9  # what a new figure holds beside its plot: title, legend, axis labels, notes
MISSING_STYLE = {"facecolor": "none", "edgecolor": "#c8c8c8", "hatch": "//", "lw": 0}
MISSING_TEXT = {"fontsize": 7.5, "color": "#555555", "va": "center"}
MISSING_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
DERIVED_HATCH = "///"


def _wrap(lines: Sequence[str], width_in: float) -> list[str]:
    """Notes wrapped to a figure ``width_in`` inches wide (7.5 pt text)."""
    return [w for line in lines for w in wrap_print(line, width_in)]


def new_axes(ax: Axes | None, n_rows: int) -> tuple[Figure, Axes]:
    """The caller's axes, or a new figure drawn at the printed width with a row per bank."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH_IN, FRAME_IN + ROW_IN * max(n_rows, 3)))
    return fig, ax


def no_figure(ax: Axes, what: str, names: Sequence[str]) -> None:
    """A chart with nothing to draw: a hatched panel across the axes naming the banks that
    have no figure (``what`` says which figure), in place of bars."""
    ax.add_patch(
        plt.Rectangle((0, 0), 1, 1, transform=ax.transAxes, **(MISSING_STYLE | {"lw": 0.8}))
    )
    width_in = 0.8 * ax.get_position().width * ax.figure.get_figwidth()
    listed = "\n".join(wrap_print("、".join(names), width_in, 9)) or "—"
    ax.text(
        0.5,
        0.5,
        f"{what}:\n{listed}",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=9,
        color=MISSING_TEXT["color"],
        bbox=MISSING_BOX | {"pad": 4.0},
    )
    ax.set_xticks([])
    ax.set_yticks([])


def finish(
    fig: Figure,
    finding: Finding,
    source_ids: Sequence[str],
    notes: Sequence[str] = (),
    own_layout: bool = True,
    right_in: float = 0.25,
    axis_in: float = 0.75,
    left_in: float = 1.75,
    head_in: float = 0.0,
) -> Figure:
    """Title (the finding), notes and the source footer; margins sized in inches.

    ``axis_in`` is the room under the axes for tick labels and the axis label, ``left_in``
    the room left of them for the bank names, ``head_in`` the room above them for labels
    drawn there.
    """
    width, height = fig.get_size_inches()
    note_lines = _wrap(notes, width)
    sources = ", ".join(sorted(set(source_ids))) or "—"
    footer = footer_text(width, sources).split("\n")
    # bold 10.5 pt runs wider than plain text: wrapped as if 11.5 pt
    title = [*wrap_print(finding.zh, width, 11.5), *wrap_print(finding.en, width, 11.5)]
    bottom_in = 0.2 + LINE_IN * (len(note_lines) + len(footer))
    finding_title(fig, "\n".join(title), fontsize=10.5)
    if own_layout:
        # the plot keeps the height it was given beyond the frame; the figure grows (or
        # shrinks) to hold this title and these notes, so long notes never squeeze the bars
        top_in = 0.35 + 0.2 * len(title) + head_in
        height = top_in + axis_in + bottom_in + max(height - FRAME_IN, 1.0)
        fig.set_size_inches(width, height)
        fig.subplots_adjust(
            left=left_in / width,
            right=1 - right_in / width,
            top=1 - top_in / height,
            bottom=(axis_in + bottom_in) / height,
        )
    if note_lines:
        fig.text(
            0.01,
            (0.05 + LINE_IN * len(footer)) / height,
            "\n".join(note_lines),
            fontsize=7.5,
            va="bottom",
            ha="left",
            color=PALETTE["black"],
        )
    add_footer(fig, sources)
    return fig


def source_line(fig: Figure) -> str:
    """The footer of a figure (``"来源 Source: …"``); ``""`` when it has none."""
    return next((t.get_text() for t in fig.texts if t.get_text().startswith("来源 Source:")), "")


def save_with_record(
    fig: Figure, out_dir: str | Path, stem: str, table: pd.DataFrame | None = None
) -> dict[str, object]:
    """Save ``fig`` as PNG and SVG (:func:`wb.plots.theme.save_figure`) and return its record for
    the artifact: ``stem``, ``caption`` (the title), ``source`` (the footer line) and
    ``has_data`` (whether ``table``, the chart's table, holds any value: a brief leaves out a
    chart of nothing but 无数据)."""
    save_figure(fig, out_dir, stem)
    values = [
        c for c in ("value", "level", "growth", "connected") if table is not None and c in table
    ]
    if table is None:
        has_data = True
    else:
        has_data = any(table[c].notna().any() for c in values) if values else not table.empty
    return {
        "stem": stem,
        "caption": fig.get_suptitle(),
        "source": source_line(fig),
        "has_data": bool(has_data),
    }


#: More banks than this without a figure share one 无数据 row, named in the note under the chart.
_MISSING_ROWS = 3


def ordered(table: pd.DataFrame, value: str, *also: str) -> tuple[pd.DataFrame, list[str]]:
    """Known values sorted (largest at the top), then the banks without a figure (no ``value``
    and none of ``also``) in name order; more than :data:`_MISSING_ROWS` of them share one row
    (``其他 N 家 N others``). Returns the table and the names of the banks in that shared row."""
    empty = table[[value, *also]].isna().all(axis=1)
    known = table[~empty].sort_values(value, na_position="first")
    missing = table[empty].sort_values("bank_id", ascending=False)
    if len(missing) <= _MISSING_ROWS:
        return pd.concat([missing, known], ignore_index=True), []
    n = len(missing)
    blank = {c: np.nan if pd.api.types.is_numeric_dtype(table[c]) else "" for c in table.columns}
    shared = blank | {
        "bank_id": "",
        "bank_name": f"其他{n}家 {n} others",
        "note": "",
        "source_ids": (),
    }
    names = missing["bank_name"].iloc[::-1].tolist()
    return pd.concat([pd.DataFrame([shared]), known], ignore_index=True), names


def none_note(period: str, names: Sequence[str]) -> list[str]:
    """The note naming the banks of the shared 无数据 row."""
    if not names:
        return []
    return [f"无数据 No figure for {period} ({len(names)}): " + "、".join(names)]


def bars(
    ax: Axes,
    table: pd.DataFrame,
    value: str,
    qualifier: str,
    method: str,
    kind: str,
    scale: float = 100.0,
) -> None:
    """Horizontal bars, one per bank; derived values hatched; missing as a hatched band."""
    y = np.arange(len(table))
    values = table[value].to_numpy(dtype=float) * scale
    known = ~np.isnan(values)
    labels: list[str] = []
    span = max(np.nanmax(np.abs(values)) if known.any() else 1.0, 1e-9)
    colours = [PALETTE["vermillion"] if v < 0 else PALETTE["blue"] for v in np.nan_to_num(values)]
    for yi, v, c, m in zip(
        y[known], values[known], np.array(colours)[known], table.loc[known, method], strict=True
    ):
        derived = m == "derived"
        ax.barh(
            yi,
            v,
            color="white" if derived else c,
            edgecolor=c,
            hatch=DERIVED_HATCH if derived else None,
            lw=1.0,
            height=0.65,
        )
    for yi, row in zip(y, table.itertuples(), strict=True):
        v = getattr(row, value)
        if np.isnan(v):
            ax.axhspan(yi - 0.3, yi + 0.3, **MISSING_STYLE)
            no_base = "base ≤ 0" in str(getattr(row, "note", ""))
            text = "基数≤0, 无百分比 base ≤ 0, no % (see note)" if no_base else MISSING
            ax.text(0, yi, f" {text}", ha="left", bbox=MISSING_BOX, **MISSING_TEXT)
            continue
        label = display_value(v, getattr(row, qualifier) or "exact", kind)
        if tags := bar_tags(row, table):
            label += f" [{tags}]"
        labels.append(label)
        x = v * scale
        ax.text(
            x + np.sign(x or 1) * span * 0.02,
            yi,
            label,
            va="center",
            ha="left" if x >= 0 else "right",
            fontsize=8,
        )
    ax.set_yticks(y, table["bank_name"])
    ax.axvline(0, color=PALETTE["black"], lw=0.8)
    lo = min(0.0, np.nanmin(values) if known.any() else 0.0)
    hi = max(0.0, np.nanmax(values) if known.any() else 1.0)
    # room beside the bars for their labels (8 pt), sized from the longest label, in inches of
    # an axes ~10% narrower than matplotlib's default place for it (the final margins differ)
    axis_in = 0.9 * ax.get_position().width * ax.figure.get_figwidth()
    label_in = 0.15 + max(map(text_columns, labels), default=0) * 8 / (7.5 * FOOTER_CHARS_PER_INCH)
    left_in, right_in = (label_in if lo < 0 else 0.0), label_in
    share = min((left_in + right_in) / axis_in, 0.7)  # the bars keep at least 30% of the axis
    extent = (hi - lo or 1.0) / (1 - share)  # the x range the bars and labels need together
    total_in = left_in + right_in or 1.0
    ax.set_xlim(lo - extent * share * left_in / total_in, hi + extent * share * right_in / total_in)
    ax.set_ylim(-0.6, len(table) - 0.4)
    ax.grid(axis="x", color="#e6e6e6", lw=0.6)
    ax.set_axisbelow(True)


#: How a bar names its basis when a chart holds figures of more than one.
BASIS_LABELS = {
    "pre_tax": "税前 pre-tax",
    "vendor_operating_profit": "营业利润列 vendor op. profit",
    "net": "净利润 net",
    "unstated": "口径未明 basis unstated",
    "monthly_average": "月日均 monthly avg",
    "period_end": "期末 period-end",
}
UNVERIFIED_TAG = "未核实 unverified"


def bar_tags(row: object, table: pd.DataFrame) -> str:
    """A bar's tags: its basis when the chart mixes bases, and 'unverified'."""
    tags = []
    if "basis" in table:
        bases = set(table.loc[table["basis"].astype(bool), "basis"])
        if len(bases) > 1 and getattr(row, "basis", ""):
            tags.append(BASIS_LABELS.get(row.basis, row.basis))
    if getattr(row, "status", "") == "unverified":
        tags.append(UNVERIFIED_TAG)
    return "; ".join(tags)


def excluded_notes(
    data: Panel, period: str, metric_names: Sequence[str], banks: Sequence[str]
) -> list[str]:
    """One note per bank whose cell holds only excluded (suspect) figures: what and why."""
    notes = []
    names = data.bank_names()
    for bank in banks:
        for metric in metric_names:
            rows = data.excluded(bank, period, metric)
            notes += [
                f"{names[bank]}: {metric} {period} excluded (suspect): {r.status_reason} "
                f"({r.source_id})"
                for r in rows.itertuples()
            ]
    return notes


def method_legend(ax: Axes) -> None:
    handles = [
        Patch(facecolor=PALETTE["blue"], label="报告值 quoted"),
        Patch(
            facecolor="white",
            edgecolor=PALETTE["blue"],
            hatch=DERIVED_HATCH,
            label="推算 derived from two levels",
        ),
        Patch(**(MISSING_STYLE | {"lw": 0.5}), label=MISSING),
    ]
    legend_above(ax, handles)


def legend_above(ax: Axes, handles: list[Patch]) -> None:
    """The legend above the plot area, in one row: inside it, it covered the labels of the
    longest bars."""
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=len(handles),
        fontsize=7.5,
        frameon=False,
        borderaxespad=0.2,
    )


def selection_notes(table: pd.DataFrame) -> list[str]:
    return [f"{r.bank_name}: {r.note}" for r in table.itertuples() if r.note]
