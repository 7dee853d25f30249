"""Figures of the bank comparison: peer bars, AUM, WeCom reach and the coverage map.

Every function takes the :class:`~wb.banks.panel.Panel` as ``data``, draws one figure in the house
style (:func:`wb.plots.theme.theme_context`) and returns it. Titles are the finding in words
(:mod:`wb.banks.comparison`); axes carry units; the note under a chart names the alternatives the
selection rule did not use; the footer lists the source ids. Missing values are drawn as
missing (a hatched grey band labelled 无数据 no data), never as zero.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from wb.banks import comparison, metrics
from wb.banks.newscheck import NewsCheck
from wb.banks.panel import Panel, display_value, period_end, period_order, unknown_name
from wb.door.io import write_workbook
from wb.plots.common import finding_title
from wb.plots.theme import (
    FOOTER_CHARS_PER_INCH,
    PALETTE,
    PRINT_WIDTH_IN,
    add_footer,
    footer_text,
    save_figure,
    text_columns,
    theme_context,
    wrap_print,
)

__all__ = [
    "CHARTS",
    "CHART_NAMES",
    "DEFAULT_PERIODS",
    "BankCharts",
    "plot_coverage",
    "plot_retail_aum",
    "plot_retail_income_yoy",
    "plot_retail_profit_yoy",
    "plot_retail_share",
    "plot_trends",
    "plot_wecom_reach",
    "save_with_record",
    "source_line",
]

#: Periods of the coverage map.
DEFAULT_PERIODS = ["FY2023", "H1 2024", "FY2024", "H1 2025"]
_MISSING = "无数据 no data"
_LINE_IN = 0.14  # height of one 7.5 pt text line, inches
_ROW_IN = 0.27  # height of one bank's bar, inches
_FRAME_IN = 1.9  # what a new figure holds beside its plot: title, legend, axis labels, notes
_MISSING_STYLE = {"facecolor": "none", "edgecolor": "#c8c8c8", "hatch": "//", "lw": 0}
_MISSING_TEXT = {"fontsize": 7.5, "color": "#555555", "va": "center"}
_MISSING_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
_DERIVED_HATCH = "///"


def _wrap(lines: Sequence[str], width_in: float) -> list[str]:
    """Notes wrapped to a figure ``width_in`` inches wide (7.5 pt text)."""
    return [w for line in lines for w in wrap_print(line, width_in)]


def _new_axes(ax: Axes | None, n_rows: int) -> tuple[Figure, Axes]:
    """The caller's axes, or a new figure drawn at the printed width with a row per bank."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=(PRINT_WIDTH_IN, _FRAME_IN + _ROW_IN * max(n_rows, 3)))
    return fig, ax


def _no_figure(ax: Axes, what: str, names: Sequence[str]) -> None:
    """A chart with nothing to draw: a hatched panel across the axes naming the banks that
    have no figure (``what`` says which figure), in place of bars."""
    ax.add_patch(
        plt.Rectangle((0, 0), 1, 1, transform=ax.transAxes, **(_MISSING_STYLE | {"lw": 0.8}))
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
        color=_MISSING_TEXT["color"],
        bbox=_MISSING_BOX | {"pad": 4.0},
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _finish(
    fig: Figure,
    finding: comparison.Finding,
    source_ids: Sequence[str],
    notes: Sequence[str] = (),
    own_layout: bool = True,
    right_in: float = 0.25,
    axis_in: float = 0.75,
    left_in: float = 1.75,
) -> Figure:
    """Title (the finding), notes and the source footer; margins sized in inches.

    ``axis_in`` is the room under the axes for tick labels and the axis label, ``left_in``
    the room left of them for the bank names.
    """
    width, height = fig.get_size_inches()
    note_lines = _wrap(notes, width)
    sources = ", ".join(sorted(set(source_ids))) or "—"
    footer = footer_text(width, sources).split("\n")
    # bold 10.5 pt runs wider than plain text: wrapped as if 11.5 pt
    title = [*wrap_print(finding.zh, width, 11.5), *wrap_print(finding.en, width, 11.5)]
    bottom_in = 0.2 + _LINE_IN * (len(note_lines) + len(footer))
    finding_title(fig, "\n".join(title), fontsize=10.5)
    if own_layout:
        # the plot keeps the height it was given beyond the frame; the figure grows (or
        # shrinks) to hold this title and these notes, so long notes never squeeze the bars
        top_in = 0.35 + 0.2 * len(title)
        height = top_in + axis_in + bottom_in + max(height - _FRAME_IN, 1.0)
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
            (0.05 + _LINE_IN * len(footer)) / height,
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


def _ordered(table: pd.DataFrame, value: str, *also: str) -> tuple[pd.DataFrame, list[str]]:
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


def _none_note(period: str, names: Sequence[str]) -> list[str]:
    """The note naming the banks of the shared 无数据 row."""
    if not names:
        return []
    return [f"无数据 No figure for {period} ({len(names)}): " + "、".join(names)]


def _bars(
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
            hatch=_DERIVED_HATCH if derived else None,
            lw=1.0,
            height=0.65,
        )
    for yi, row in zip(y, table.itertuples(), strict=True):
        v = getattr(row, value)
        if np.isnan(v):
            ax.axhspan(yi - 0.3, yi + 0.3, **_MISSING_STYLE)
            no_base = "base ≤ 0" in str(getattr(row, "note", ""))
            text = "基数≤0, 无百分比 base ≤ 0, no % (see note)" if no_base else _MISSING
            ax.text(0, yi, f" {text}", ha="left", bbox=_MISSING_BOX, **_MISSING_TEXT)
            continue
        label = display_value(v, getattr(row, qualifier) or "exact", kind)
        if tags := _tags(row, table):
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


def _tags(row: object, table: pd.DataFrame) -> str:
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


def _method_legend(ax: Axes) -> None:
    handles = [
        Patch(facecolor=PALETTE["blue"], label="报告值 quoted"),
        Patch(
            facecolor="white",
            edgecolor=PALETTE["blue"],
            hatch=_DERIVED_HATCH,
            label="推算 derived from two levels",
        ),
        Patch(**(_MISSING_STYLE | {"lw": 0.5}), label=_MISSING),
    ]
    _legend_above(ax, handles)


def _legend_above(ax: Axes, handles: list[Patch]) -> None:
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


def _notes(table: pd.DataFrame) -> list[str]:
    return [f"{r.bank_name}: {r.note}" for r in table.itertuples() if r.note]


def _yoy_figure(
    data: Panel,
    metric: str,
    label: str,
    finding: comparison.Finding,
    period: str,
    banks: list[str] | None,
    ax: Axes | None,
) -> Figure:
    raw = metrics.yoy_table(data, period, metric, banks)
    table, none = _ordered(raw, "value")
    notes = (
        _notes(table)
        + _none_note(period, none)
        + excluded_notes(data, period, (metric, f"{metric}_yoy"), raw["bank_id"].tolist())
    )
    with theme_context():
        fig, ax_ = _new_axes(ax, len(table))
        _bars(ax_, table, "value", "qualifier", "method", "change")
        ax_.set_xlabel(label)
        _method_legend(ax_)
        return _finish(fig, finding, metrics.source_ids_of(table), notes, ax is None)


def plot_retail_income_yoy(
    data: Panel, *, period: str = "H1 2025", banks: list[str] | None = None, ax: Axes | None = None
) -> Figure:
    """Retail operating income, change on a year earlier (%), one bar per bank.

    Derived changes (two levels) are hatched; quoted ones solid; banks without a figure are
    shown as 无数据 no data.
    """
    finding = comparison.income_finding(data, period, banks)
    label = f"零售营业收入同比 Retail operating income YoY, {period} (%)"
    return _yoy_figure(data, "retail_operating_income", label, finding, period, banks, ax)


def plot_retail_profit_yoy(
    data: Panel, *, period: str = "H1 2025", banks: list[str] | None = None, ax: Axes | None = None
) -> Figure:
    """Retail segment profit, change on a year earlier (%), one bar per bank.

    A change from a loss (base ≤ 0) has no percent; the note says what the levels were.
    """
    finding = comparison.profit_finding(data, period, banks)
    label = f"零售利润同比 Retail profit YoY, {period} (%)"
    return _yoy_figure(data, "retail_profit", label, finding, period, banks, ax)


def plot_retail_share(
    data: Panel, *, period: str = "H1 2025", banks: list[str] | None = None, ax: Axes | None = None
) -> Figure:
    """Retail share of the bank's operating income and of its profit (%), paired bars per bank."""
    table = metrics.share_table(data, period, banks)
    wide = table.pivot(index="bank_id", columns="of", values="value")
    order = wide.sort_values(["income", "profit"], na_position="first").index.tolist()
    finding = comparison.share_finding(data, period, banks)
    colours = {"income": PALETTE["blue"], "profit": PALETTE["orange"]}
    labels = {"income": "占营业收入 of operating income", "profit": "占利润 of profit"}
    with theme_context():
        fig, ax_ = _new_axes(ax, len(order))
        for offset, of in ((0.19, "income"), (-0.19, "profit")):
            part = table[table["of"] == of].set_index("bank_id").loc[order]
            for yi, row in enumerate(part.itertuples()):
                y = yi + offset
                if np.isnan(row.value):
                    ax_.axhspan(y - 0.16, y + 0.16, **_MISSING_STYLE)
                    ax_.text(0.5, y, _MISSING, bbox=_MISSING_BOX, **_MISSING_TEXT)
                    continue
                derived = row.method == "derived"
                ax_.barh(
                    y,
                    row.value * 100,
                    height=0.36,
                    color="white" if derived else colours[of],
                    edgecolor=colours[of],
                    hatch=_DERIVED_HATCH if derived else None,
                )
                tags = _tags(row, table[table["of"] == of])
                ax_.text(
                    row.value * 100 + 0.8,
                    y,
                    display_value(row.value, row.qualifier, "share")
                    + (f" [{tags}]" if tags else ""),
                    va="center",
                    fontsize=7.5,
                )
        names = data.bank_names()
        ax_.set_yticks(range(len(order)), [names[b] for b in order])
        ax_.set_xlim(0, 85)
        ax_.set_ylim(-0.6, len(order) - 0.4)
        ax_.set_xlabel(f"零售占比 Retail share of the bank's total, {period} (%)")
        handles = [Patch(facecolor=colours[k], label=labels[k]) for k in ("income", "profit")]
        handles.append(
            Patch(
                facecolor="white",
                edgecolor=PALETTE["grey"],
                hatch=_DERIVED_HATCH,
                label="推算 derived",
            )
        )
        ax_.legend(handles=handles, loc="lower right", fontsize=7.5, frameon=True)
        notes = _notes(
            table[table["note"].str.len() > 0].assign(
                bank_name=lambda t: t["bank_name"] + " (" + t["of"] + ")"
            )
        )
        notes.append(
            "Profit shares are of profit before tax where the basis is known (tagged otherwise); "
            "shares of net profit (Ping An, CCB FY2021) are a metric of their own and not drawn "
            "here; derived shares divide pre-tax retail profit by the bank's profit before tax."
        )
        notes += excluded_notes(data, period, ("retail_income_share", "retail_profit_share"), order)
        return _finish(fig, finding, metrics.source_ids_of(table), notes, ax is None)


def plot_retail_aum(
    data: Panel,
    *,
    period: str = "H1 2025",
    banks: list[str] | None = None,
    ax: Sequence[Axes] | None = None,
) -> Figure:
    """Retail AUM level (万亿元, left) and growth since the previous year-end (%, right).

    ``ax``, when given, is a pair of axes sharing nothing. Definitions differ by bank (the
    ``basis`` of each level); the note says so.
    """
    raw = metrics.aum_table(data, period, banks)
    table, none = _ordered(raw, "level", "growth")
    table = table.assign(level_method="quoted", growth_source=table["growth_method"])
    finding = comparison.aum_finding(data, period, banks)
    with theme_context():
        if ax is None:
            fig, (left, right) = plt.subplots(
                1,
                2,
                figsize=(PRINT_WIDTH_IN, _FRAME_IN + _ROW_IN * max(len(table), 3)),
                sharey=True,
                gridspec_kw={"width_ratios": [1.15, 1], "wspace": 0.35},
            )
        else:
            left, right = ax
            fig = left.figure
        _bars(left, table, "level", "level_qualifier", "level_method", "level", scale=1e-12)
        left.set_xlabel(f"零售AUM Retail AUM, end of {period}\n(万亿元 trillion yuan)")
        _bars(right, table, "growth", "growth_qualifier", "growth_method", "change")
        right.set_xlabel("较上年末增长\nGrowth since previous year-end (%)")
        right.tick_params(labelleft=False)
        _method_legend(right)
        bases = sorted(set(table["level_basis"]) - {""})
        notes = [
            "AUM definitions differ by bank: " + "; ".join(b.removeprefix("CNY, ") for b in bases),
            *_notes(table),
            *_none_note(period, none),
            *excluded_notes(
                data, period, ("retail_aum", "retail_aum_growth_ytd"), raw["bank_id"].tolist()
            ),
        ]
        return _finish(fig, finding, metrics.source_ids_of(table), notes, ax is None, axis_in=0.9)


def plot_wecom_reach(
    data: Panel,
    *,
    period: str | None = None,
    banks: list[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """WeCom (企业微信) customers connected per bank (万人) as known by the end of ``period``
    (the latest figures when ``None``), labelled with date, share and certification rate;
    banks without a bank-wide figure are named in the note (and across the chart when none of
    the banks chosen has one)."""
    table = metrics.wecom_reach(data, banks, period_end(period) if period else None)
    finding = comparison.wecom_finding(data, period, banks)
    names = data.bank_names()
    drawn = set(table.get("bank_id", []))
    absent = [names[b] for b in data.resolve_banks(banks) or data.banks() if b not in drawn]
    with theme_context():
        fig, ax_ = _new_axes(ax, 2 * len(table) + 1)
        ax_.set_xlabel("企微连接客户 WeCom customers connected (万人 10,000 persons)")
        notes = [
            f"无全行企微数据 No bank-wide WeCom figure ({len(absent)}): " + "、".join(absent),
            "Branch-level figures (e.g. ICBC Dongying branch) are not bank-wide and not shown.",
        ]
        if table.empty:
            _no_figure(ax_, "无全行企微数据 No bank-wide WeCom figure", absent)
            return _finish(fig, finding, [], notes, ax is None)
        table = table.sort_values("connected").reset_index(drop=True)
        for yi, row in table.iterrows():
            low = row["connected_confidence"] == "low"
            ax_.barh(
                yi, row["connected"] / 1e4, height=0.6, color=PALETTE["orange" if low else "green"]
            )
            parts = [
                display_value(
                    row["connected"], row["connected_qualifier"], "count", status=row["status"]
                ),
                f"截至 as of {row['connected_period']}",
            ]
            if np.isnan(row["share"]):
                parts.append("零售客户数无数据 retail customers n/a")
            else:
                far = " ⚠ dates >1 year apart" if row["far_apart"] else ""
                parts.append(
                    f"占零售客户 {display_value(row['share'], 'exact', 'share')} of {row['customers_period']} customers{far}"
                )
            if not np.isnan(row["certification_rate"]):
                parts.append(
                    f"认证率 certified {display_value(row['certification_rate'], row['certification_qualifier'], 'share')}"
                )
            label = " · ".join(parts[:2]) + "\n" + " · ".join(parts[2:])
            ax_.text(row["connected"] / 1e4 + 20, yi, label, va="center", fontsize=8)
        ax_.set_yticks(range(len(table)), table["bank_name"])
        ax_.set_xlim(0, 3200)
        ax_.set_ylim(-0.6, len(table) - 0.4)
        handles = [
            Patch(facecolor=PALETTE["green"], label="medium confidence"),
            Patch(facecolor=PALETTE["orange"], label="low confidence"),
        ]
        _legend_above(ax_, handles)
        return _finish(fig, finding, metrics.source_ids_of(table), notes, ax is None)


_GROUP_LABELS = {
    "retail_income": "零售营收 income",
    "retail_profit": "零售利润 profit",
    "retail_share": "零售占比 share",
    "retail_aum": "零售AUM",
    "retail_customers": "零售客户 customers",
    "wecom": "企微 WeCom",
}
_STATE_MARKS = {"excluded (suspect)": "×", "direction only": "↕"}
_CONF_COLOURS = {"high": PALETTE["blue"], "medium": PALETTE["sky"], "low": PALETTE["yellow"]}


def plot_coverage(
    data: Panel,
    *,
    periods: list[str] | None = None,
    banks: list[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Coverage map: bank × metric group × period; colour = best confidence, hatched = missing."""
    periods = periods or DEFAULT_PERIODS
    table = metrics.coverage(data, periods, banks=banks)
    finding = comparison.coverage_finding(data, periods, banks)
    column_keys = list(dict.fromkeys(zip(table["group"], table["period"], strict=True)))
    column_keys.sort(key=lambda k: (k[1] == "any date", k[1] != "any date" and periods.index(k[1])))
    bank_order = sorted(table["bank_id"].unique(), reverse=True)
    names = data.bank_names()
    with theme_context():
        fig, ax_ = _new_axes(ax, len(bank_order))
        if ax is None:
            fig.set_size_inches(PRINT_WIDTH_IN, 2.6 + _ROW_IN * len(bank_order) + 1.2)
        cells = table.set_index(["bank_id", "group", "period"])
        for yi, bank in enumerate(bank_order):
            for xi, (group, period) in enumerate(column_keys):
                cell = cells.loc[(bank, group, period)]
                if cell["n_rows"] == 0:
                    ax_.add_patch(plt.Rectangle((xi - 0.45, yi - 0.45), 0.9, 0.9, **_MISSING_STYLE))
                    mark = _STATE_MARKS.get(cell["state"])
                    if mark:
                        ax_.text(
                            xi,
                            yi,
                            mark,
                            ha="center",
                            va="center",
                            fontsize=7.5,
                            color=PALETTE["vermillion" if mark == "×" else "black"],
                        )
                    continue
                ax_.add_patch(
                    plt.Rectangle(
                        (xi - 0.45, yi - 0.45),
                        0.9,
                        0.9,
                        color=_CONF_COLOURS[cell["best_confidence"]],
                    )
                )
                text = str(cell["n_rows"]) + ("*" if cell["n_unverified"] else "")
                ax_.text(xi, yi, text, ha="center", va="center", fontsize=7.5)
        ax_.set_xlim(-0.6, len(column_keys) - 0.4)
        ax_.set_ylim(-0.6, len(bank_order) - 0.4)
        ax_.set_yticks(range(len(bank_order)), [names[b] for b in bank_order])
        ax_.set_xticks(
            range(len(column_keys)),
            [f"{_GROUP_LABELS[g]}\n{p}" for g, p in column_keys],
            rotation=90,
            fontsize=7.5,
        )
        for xi, ((_, before), (_, after)) in enumerate(itertools.pairwise(column_keys)):
            if before != after:
                ax_.axvline(xi + 0.5, color=PALETTE["black"], lw=0.6)
        ax_.set_xlabel("指标 · 期间 Metric group · period")
        ax_.tick_params(length=0)
        for side in ("left", "bottom"):
            ax_.spines[side].set_visible(False)
        handles = [Patch(facecolor=c, label=f"{k} (n rows)") for k, c in _CONF_COLOURS.items()]
        handles.append(Patch(**(_MISSING_STYLE | {"lw": 0.5}), label=_MISSING))
        handles += [
            Line2D(
                [], [], ls="", marker="$×$", color=PALETTE["vermillion"], label="excluded (suspect)"
            ),
            Line2D([], [], ls="", marker="$↕$", color=PALETTE["black"], label="direction only"),
        ]
        ax_.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7.5,
            title="最高可信度 confidence",
            title_fontsize=7.5,
        )
        suspect = table[table["n_excluded"] > 0]
        notes = [
            "Cells count usable panel rows (levels, quoted changes and shares; * = some unverified); "
            "WeCom figures are dated points, so any date counts.",
            *(
                f"{'× ' if r.state == 'excluded (suspect)' else ''}{names[r.bank_id]} "
                f"{_GROUP_LABELS[r.group]} {r.period}: {r.n_excluded} suspect row(s) excluded "
                "(kept in the panel for the record, never charted)"
                for r in suspect.itertuples()
            ),
        ]
        ids = [
            f"all {data.frame['source_id'].nunique()} sources of the panel (see the source table)"
        ]
        return _finish(fig, finding, ids, notes, ax is None, right_in=1.6, axis_in=1.55)


_TREND_COLUMNS = 4  # small multiples per row: at the printed width each panel is ~1.4 inches
_TREND_PANEL_IN = 1.35  # height of one panel, inches


def plot_trends(
    data: Panel,
    *,
    kind: str = "H1",
    banks: list[str] | None = None,
    min_points: int = 2,
    until: int | None = None,
) -> Figure:
    """Small multiples, one column per bank: retail operating income (亿元, top) and retail's
    share of operating income (%, below) over the years, half-years with half-years
    (``kind="H1"``) or full years with full years (``"FY"``).

    Banks with fewer than ``min_points`` years in both series are left out (named in the
    note). A year without a figure is a gap: lines join consecutive years only. Derived shares
    are hollow markers; unverified figures are marked with an open square and named in the note.
    ``until`` (a year) leaves out later years, so a brief for H1 2024 shows nothing after it.
    """
    table = metrics.trend_table(data, kind, banks, until)
    finding = comparison.trend_finding(data, kind, banks, until)
    counts = table.groupby(["bank_id", "series"]).size().unstack(fill_value=0)
    shown = [b for b in counts.index if counts.loc[b].max() >= min_points]
    names = data.bank_names()
    left_out = sorted(set(data.resolve_banks(banks) or data.banks()) - set(shown))
    years = list(range(table["year"].min(), table["year"].max() + 1)) if len(table) else [0]
    unverified = table[table["status"] == "unverified"]
    notes = [
        f"{'上半年 First halves' if kind == 'H1' else '全年 Full years'} only; a year "
        "without a figure is a gap (lines join consecutive years only); hollow circle = share "
        "derived from two levels; open square = unverified.",
        *(
            f"{names[r.bank_id]} {r.period} {r.series}: {r.note}"
            for r in unverified.drop_duplicates(["bank_id", "period"]).itertuples()
        ),
        f"Fewer than {min_points} years: " + "、".join(names[b] for b in left_out)
        if left_out
        else "",
    ]
    sources = metrics.source_ids_of(table[table["bank_id"].isin(shown)]) if shown else []
    if not shown:
        with theme_context():
            fig, ax_ = plt.subplots(figsize=(PRINT_WIDTH_IN, 3.0))
            ax_.set_xlabel(f"{kind} 20xx")
            what = f"{min_points}年以上数据不足 Fewer than {min_points} years of {kind} figures"
            _no_figure(ax_, what, [names[b] for b in left_out])
            return _finish(fig, finding, sources, [n for n in notes if n], axis_in=0.55)
    n_cols = max(1, min(_TREND_COLUMNS, len(shown)))
    n_groups = max(1, -(-len(shown) // n_cols))
    with theme_context():
        fig, axes = plt.subplots(
            2 * n_groups,
            n_cols,
            figsize=(PRINT_WIDTH_IN, _TREND_PANEL_IN * 2 * n_groups + _FRAME_IN),
            squeeze=False,
            sharex=True,
        )
        for i in range(n_groups * n_cols):
            top, bottom = (
                axes[2 * (i // n_cols), i % n_cols],
                axes[2 * (i // n_cols) + 1, i % n_cols],
            )
            if i >= len(shown):
                top.set_visible(False)
                bottom.set_visible(False)
                continue
            bank = shown[i]
            for ax_, series, scale, colour in (
                (top, "retail_operating_income", 1e-8, PALETTE["blue"]),
                (bottom, "retail_income_share", 100.0, PALETTE["orange"]),
            ):
                rows = table[(table["bank_id"] == bank) & (table["series"] == series)]
                by_year = dict(zip(rows["year"], rows["value"] * scale, strict=True))
                # consecutive years only: a missing year breaks the line (never interpolated)
                for a, b in itertools.pairwise(years):
                    if a in by_year and b in by_year and b == a + 1:
                        ax_.plot([a, b], [by_year[a], by_year[b]], color=colour, lw=1.6)
                for r in rows.itertuples():
                    hollow = r.method == "derived"
                    ax_.plot(
                        r.year,
                        r.value * scale,
                        marker="s" if r.status == "unverified" else "o",
                        ms=5,
                        color=colour,
                        mfc="white" if hollow or r.status == "unverified" else colour,
                    )
                ax_.grid(axis="y", color="#e6e6e6", lw=0.6)
                ax_.set_xlim(years[0] - 0.5, years[-1] + 0.5)
                top_value = max(by_year.values(), default=1.0)
                ax_.set_ylim(0, 80 if series == "retail_income_share" else top_value * 1.2)
            top.set_title(names[bank], fontsize=9)
            if i % n_cols == 0:
                top.set_ylabel("零售营收 income\n(亿元 100m yuan)", fontsize=8)
                bottom.set_ylabel("占营收 share (%)", fontsize=8)
            step = 1 if len(years) <= 6 else 2  # two-digit years at 7.5 pt: ~6 fit a panel
            bottom.set_xticks(
                years[::step], [f"{y % 100:02d}" for y in years[::step]], fontsize=7.5
            )
            if i + n_cols >= len(shown):  # no panel below: the year labels show here
                bottom.tick_params(labelbottom=True)
                bottom.set_xlabel(f"{kind} 20xx", fontsize=8)
        fig.subplots_adjust(hspace=0.45, wspace=0.4)
        return _finish(
            fig,
            finding,
            sources,
            [n for n in notes if n],
            own_layout=True,
            axis_in=0.55,
            left_in=0.85,
        )


#: Chart key → what the chart shows, in words (Chinese, English), for a reader.
CHART_NAMES: dict[str, tuple[str, str]] = {
    "income": ("零售营收同比", "retail income, change on a year earlier"),
    "profit": ("零售利润同比", "retail profit, change on a year earlier"),
    "share": ("零售占比", "retail's share of income and profit"),
    "aum": ("零售AUM", "retail AUM and its growth"),
    "wecom": ("企业微信触达", "WeCom reach"),
    "trends": ("历年走势", "trends over the years"),
    "coverage": ("数据覆盖", "data coverage"),
}

#: Chart key → the function that draws it; the figure's stem is ``bank_<key>``.
CHARTS: dict[str, Callable[..., Figure]] = {
    "income": plot_retail_income_yoy,
    "profit": plot_retail_profit_yoy,
    "share": plot_retail_share,
    "aum": plot_retail_aum,
    "wecom": plot_wecom_reach,
    "trends": plot_trends,
    "coverage": plot_coverage,
}


@dataclass
class BankCharts:
    """The bank charts of one notebook session or run: draws the chosen ones for ``period``
    and ``banks``, saves each (PNG + SVG) into ``out_dir`` with its record, and writes the
    artifact and the workbook of the charts drawn.

    ``metrics`` names the charts to draw (keys of :data:`CHARTS`; ``None`` draws all); a chart
    not chosen is skipped, an unknown name is an error listing the valid ones.
    """

    panel: Panel
    period: str
    banks: list[str] | None = None
    metrics: list[str] | None = None
    out_dir: str | Path = "figures"
    saved: list[dict[str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.banks = self.panel.resolve_banks(self.banks)
        for key in self.metrics or ():
            if key not in CHARTS:
                raise unknown_name("chart", key, list(CHARTS))

    @cached_property
    def periods(self) -> list[str]:
        """The coverage map's periods: the defaults and the period compared, in order."""
        return sorted({*DEFAULT_PERIODS, self.period}, key=period_order)

    @cached_property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The table behind each chart, by stem (:func:`wb.banks.comparison.chart_tables`)."""
        return comparison.chart_tables(self.panel, self.period, self.periods, self.banks)

    def arguments(self, key: str) -> dict[str, object]:
        """The keyword arguments chart ``key`` is drawn with, besides the panel and banks."""
        if key in ("income", "profit", "share", "aum", "wecom"):
            return {"period": self.period}
        if key == "trends":
            until = comparison.period_year(self.period)
            return {"kind": comparison.trend_kind(self.period), "until": until}
        if key == "coverage":
            return {"periods": self.periods}
        return {}

    def draw(self, *keys: str) -> None:
        """Draw and save the charts ``keys`` that were chosen, in order (they show inline)."""
        for key in keys:
            if key not in CHARTS:
                raise unknown_name("chart", key, list(CHARTS))
            if self.metrics is not None and key not in self.metrics:
                continue
            fig = CHARTS[key](self.panel, banks=self.banks, **self.arguments(key))
            stem = f"bank_{key}"
            self.saved.append(save_with_record(fig, self.out_dir, stem, self.tables[stem]))

    def write(self, found: comparison.Findings, news: NewsCheck) -> tuple[Path, Path]:
        """Write ``bank_comparison.json`` (checked against its schema) and the workbook of
        the charts drawn; return both paths."""
        artifact = comparison.comparison_artifact(self.panel, self.period, found, news, self.saved)
        path = comparison.write_artifact(artifact, self.out_dir)
        drawn = {record["stem"] for record in self.saved}
        book = write_workbook(
            {stem: table for stem, table in self.tables.items() if stem in drawn},
            Path(self.out_dir) / comparison.WORKBOOK_NAME,
        )
        return path, book
