"""Bank charts across periods: the coverage map (which figure each bank published, for which
period, with what confidence) and the small-multiple trends of each metric over the years.
Missing values are drawn as missing, never as zero (:mod:`wb.plots.bank_frame`).
"""

from __future__ import annotations

import itertools

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from wb.banks import comparison, metrics
from wb.banks.panel import Panel
from wb.plots.bank_frame import (
    FRAME_IN,
    MISSING,
    MISSING_STYLE,
    ROW_IN,
    finish,
    new_axes,
    no_figure,
)
from wb.plots.theme import PALETTE, PRINT_WIDTH_IN, theme_context

#: Periods of the coverage map.
DEFAULT_PERIODS = ["FY2023", "H1 2024", "FY2024", "H1 2025"]

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
        fig, ax_ = new_axes(ax, len(bank_order))
        if ax is None:
            fig.set_size_inches(PRINT_WIDTH_IN, 2.6 + ROW_IN * len(bank_order) + 1.2)
        keys = zip(table["bank_id"], table["group"], table["period"], strict=True)
        cells = dict(zip(keys, table.to_dict("records"), strict=True))
        for yi, bank in enumerate(bank_order):
            for xi, (group, period) in enumerate(column_keys):
                cell = cells[(bank, group, period)]
                if cell["n_rows"] == 0:
                    ax_.add_patch(plt.Rectangle((xi - 0.45, yi - 0.45), 0.9, 0.9, **MISSING_STYLE))
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
        # one line a column (the metric), the period once above its columns: two-line labels
        # turned on their side ran into their neighbours
        ax_.set_xticks(
            range(len(column_keys)),
            [_GROUP_LABELS[g] for g, _ in column_keys],
            rotation=90,
            fontsize=7.5,
        )
        spans: dict[str, list[int]] = {}
        for xi, (_, period) in enumerate(column_keys):
            spans.setdefault(period, []).append(xi)
        for xi, ((_, before), (_, after)) in enumerate(itertools.pairwise(column_keys)):
            if before != after:
                ax_.axvline(xi + 0.5, color=PALETTE["black"], lw=0.6)
        top = ax_.secondary_xaxis("top")
        top.set_xticks(
            [(cols[0] + cols[-1]) / 2 for cols in spans.values()], list(spans), fontsize=7.5
        )
        top.tick_params(length=0, pad=2)
        top.spines["top"].set_visible(False)
        ax_.set_xlabel("指标 · 期间 Metric group · period")
        ax_.tick_params(length=0)
        for side in ("left", "bottom"):
            ax_.spines[side].set_visible(False)
        handles = [Patch(facecolor=c, label=f"{k} (n rows)") for k, c in _CONF_COLOURS.items()]
        handles.append(Patch(**(MISSING_STYLE | {"lw": 0.5}), label=MISSING))
        # a "$…$" marker is drawn as math text; the theme draws text literally (``$×$``)
        with mpl.rc_context({"text.parse_math": True}):
            handles += [
                Line2D([], [], ls="", marker="$×$", color=PALETTE["vermillion"],
                       label="excluded (suspect)"),
                Line2D([], [], ls="", marker="$↕$", color=PALETTE["black"],
                       label="direction only"),
            ]  # fmt: skip
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
        return finish(fig, finding, ids, notes, ax is None, right_in=1.6, axis_in=1.3, head_in=0.15)


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
            no_figure(ax_, what, [names[b] for b in left_out])
            return finish(fig, finding, sources, [n for n in notes if n], axis_in=0.55)
    n_cols = max(1, min(_TREND_COLUMNS, len(shown)))
    n_groups = max(1, -(-len(shown) // n_cols))
    with theme_context():
        fig, axes = plt.subplots(
            2 * n_groups,
            n_cols,
            figsize=(PRINT_WIDTH_IN, _TREND_PANEL_IN * 2 * n_groups + FRAME_IN),
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
        return finish(
            fig,
            finding,
            sources,
            [n for n in notes if n],
            own_layout=True,
            axis_in=0.55,
            left_in=0.85,
        )
