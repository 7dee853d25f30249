"""Figures of the bank comparison: peer bars, AUM and WeCom reach, and the charts a notebook or run
draws (:class:`BankCharts`, :data:`CHARTS`; the coverage map and trends are in
:mod:`wb.plots.bank_periods`, the frame they share in :mod:`wb.plots.bank_frame`).

Every function takes the :class:`~wb.banks.panel.Panel` as ``data``, draws one figure in the house
style (:func:`wb.plots.theme.theme_context`) and returns it. Titles are the finding in words
(:mod:`wb.banks.comparison`); axes carry units; the note under a chart names the alternatives the
selection rule did not use; the footer lists the source ids. Missing values are drawn as
missing (a hatched grey band labelled 无数据 no data), never as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from wb.banks import comparison, metrics
from wb.banks.display import display_value
from wb.banks.finding import Finding, Findings
from wb.banks.newscheck import NewsCheck
from wb.banks.panel import Panel, period_end, period_order, unknown_name
from wb.door.writers import write_workbook
from wb.plots.bank_frame import (
    DERIVED_HATCH,
    FRAME_IN,
    MISSING,
    MISSING_BOX,
    MISSING_STYLE,
    MISSING_TEXT,
    ROW_IN,
    bar_tags,
    bars,
    excluded_notes,
    finish,
    legend_above,
    method_legend,
    new_axes,
    no_figure,
    none_note,
    ordered,
    save_with_record,
    selection_notes,
)
from wb.plots.bank_periods import DEFAULT_PERIODS, plot_coverage, plot_trends
from wb.plots.theme import PALETTE, PRINT_WIDTH_IN, theme_context

__all__ = [
    "CHARTS",
    "CHART_NAMES",
    "BankCharts",
    "plot_retail_aum",
    "plot_retail_income_yoy",
    "plot_retail_profit_yoy",
    "plot_retail_share",
    "plot_wecom_reach",
]


def _yoy_figure(
    data: Panel,
    metric: str,
    label: str,
    finding: Finding,
    period: str,
    banks: list[str] | None,
    ax: Axes | None,
) -> Figure:
    raw = metrics.yoy_table(data, period, metric, banks)
    table, none = ordered(raw, "value")
    notes = (
        selection_notes(table)
        + none_note(period, none)
        + excluded_notes(data, period, (metric, f"{metric}_yoy"), raw["bank_id"].tolist())
    )
    with theme_context():
        fig, ax_ = new_axes(ax, len(table))
        bars(ax_, table, "value", "qualifier", "method", "change")
        ax_.set_xlabel(label)
        method_legend(ax_)
        return finish(fig, finding, metrics.source_ids_of(table), notes, ax is None)


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
        fig, ax_ = new_axes(ax, len(order))
        for offset, of in ((0.19, "income"), (-0.19, "profit")):
            part = table[table["of"] == of].set_index("bank_id").loc[order]
            for yi, row in enumerate(part.itertuples()):
                y = yi + offset
                if np.isnan(row.value):
                    ax_.axhspan(y - 0.16, y + 0.16, **MISSING_STYLE)
                    ax_.text(0.5, y, MISSING, bbox=MISSING_BOX, **MISSING_TEXT)
                    continue
                derived = row.method == "derived"
                ax_.barh(
                    y,
                    row.value * 100,
                    height=0.36,
                    color="white" if derived else colours[of],
                    edgecolor=colours[of],
                    hatch=DERIVED_HATCH if derived else None,
                )
                tags = bar_tags(row, table[table["of"] == of])
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
                hatch=DERIVED_HATCH,
                label="推算 derived",
            )
        )
        ax_.legend(handles=handles, loc="lower right", fontsize=7.5, frameon=True)
        notes = selection_notes(
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
        return finish(fig, finding, metrics.source_ids_of(table), notes, ax is None)


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
    table, none = ordered(raw, "level", "growth")
    table = table.assign(level_method="quoted", growth_source=table["growth_method"])
    finding = comparison.aum_finding(data, period, banks)
    with theme_context():
        if ax is None:
            fig, (left, right) = plt.subplots(
                1,
                2,
                figsize=(PRINT_WIDTH_IN, FRAME_IN + ROW_IN * max(len(table), 3)),
                sharey=True,
                gridspec_kw={"width_ratios": [1.15, 1], "wspace": 0.35},
            )
        else:
            left, right = ax
            fig = left.figure
        bars(left, table, "level", "level_qualifier", "level_method", "level", scale=1e-12)
        left.set_xlabel(f"零售AUM Retail AUM, end of {period}\n(万亿元 trillion yuan)")
        bars(right, table, "growth", "growth_qualifier", "growth_method", "change")
        right.set_xlabel("较上年末增长\nGrowth since previous year-end (%)")
        right.tick_params(labelleft=False)
        method_legend(right)
        bases = sorted(set(table["level_basis"]) - {""})
        notes = [
            "AUM definitions differ by bank: " + "; ".join(b.removeprefix("CNY, ") for b in bases),
            *selection_notes(table),
            *none_note(period, none),
            *excluded_notes(
                data, period, ("retail_aum", "retail_aum_growth_ytd"), raw["bank_id"].tolist()
            ),
        ]
        return finish(fig, finding, metrics.source_ids_of(table), notes, ax is None, axis_in=0.9)


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
        fig, ax_ = new_axes(ax, 2 * len(table) + 1)
        ax_.set_xlabel("企微连接客户 WeCom customers connected (万人 10,000 persons)")
        notes = [
            f"无全行企微数据 No bank-wide WeCom figure ({len(absent)}): " + "、".join(absent),
            "Branch-level figures (e.g. ICBC Dongying branch) are not bank-wide and not shown.",
        ]
        if table.empty:
            no_figure(ax_, "无全行企微数据 No bank-wide WeCom figure", absent)
            return finish(fig, finding, [], notes, ax is None)
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
        legend_above(ax_, handles)
        return finish(fig, finding, metrics.source_ids_of(table), notes, ax is None)


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

    def write(self, found: Findings, news: NewsCheck) -> tuple[Path, Path]:
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
