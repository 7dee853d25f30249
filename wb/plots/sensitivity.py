"""Sensitivity plot of the pre-trends: the robust 95% interval of the average post-adoption
effect on AUM change against M, drawn from :class:`wb.uplift.sensitivity.TrendSensitivity`.

Two panels, one above the other, each on its own scale: relative magnitudes (M̄, multiples of the largest pre-adoption month-to-month
change) and smoothness (M, 万元 per month²), each with the breakdown value marked and the
finding in the title (computed from the result), units labelled and the data source under the
chart, marked simulated when it is.
"""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from wb.plots.common import finish, print_figure
from wb.plots.theme import PALETTE, signed, theme_context
from wb.uplift.sensitivity import TrendSensitivity
from wb.uplift.verdict import trend_reading

_WAN = 1e4  # yuan per 万元
_PANELS = {
    "relative_magnitudes": (
        "相对幅度 Relative magnitudes",
        "M̄: post-adoption change ÷ largest pre-adoption change",
        1.0,
        "rm_breakdown",
    ),
    "smoothness": (
        "平滑度 Smoothness",
        "M: bend of the trend gap (万元 per month²)",
        _WAN,
        "sd_breakdown",
    ),
}


def sensitivity_figure(found: TrendSensitivity, *, source: str, simulated: bool) -> Figure:
    """The robust 95% interval (and identified set where it is not empty) of the average
    post-adoption effect, 万元 of monthly AUM change per RM-month, against M per restriction."""
    with theme_context():
        fig, axes = print_figure(2, 2.6)
        for ax, (restriction, look) in zip(axes, _PANELS.items(), strict=True):
            _panel(ax, found, restriction, *look)
            ax.set_ylabel("万元 monthly AUM\nchange per RM")
        first, last = found.post_times[0], found.post_times[-1]
        finish(
            fig,
            title=trend_reading(found.to_json(), unit="万元").split(". ")[0],
            source=f"{source}; Callaway–Sant'Anna, universal base (event time −1 = 0); average "
            f"of event times {first}…{last}; pre-trend p = {found.pretrend_p:.2f}",
            simulated=simulated,
            key=axes,
        )
    return fig


def _panel(
    ax: Axes, found: TrendSensitivity, restriction: str, title: str, xlabel: str, x_scale: float,
    breakdown_key: str,
) -> None:  # fmt: skip
    rows = [b for b in found.bounds if b.restriction == restriction]
    m = [b.m / x_scale for b in rows]
    ax.fill_between(
        m, [b.ci_low / _WAN for b in rows], [b.ci_high / _WAN for b in rows],
        color=PALETTE["sky"], alpha=0.45, lw=0, label="robust 95% interval",
    )  # fmt: skip
    known = [(x, b) for x, b in zip(m, rows, strict=True) if math.isfinite(b.lb)]
    if known:
        ax.vlines(
            [x for x, _ in known], [b.lb / _WAN for _, b in known], [b.ub / _WAN for _, b in known],
            color=PALETTE["blue"], lw=3, label="identified set",
        )  # fmt: skip
    ax.axhline(0, color=PALETTE["black"], lw=0.8)
    breakdown = getattr(found, breakdown_key)
    if 0 < breakdown < math.inf:
        ax.axvline(
            breakdown / x_scale, color=PALETTE["vermillion"], ls="--", lw=1.2,
            label="breakdown: the smallest M whose 95% interval reaches 0",
        )  # fmt: skip
        title += f" · breakdown {breakdown / x_scale:,.2g}"
    ax.set_title(title, fontsize=10, fontweight="normal")
    ax.set_xlabel(xlabel)
    ax.yaxis.set_major_formatter(signed)
