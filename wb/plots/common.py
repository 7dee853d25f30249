"""Drawing pieces shared by the figure modules."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from wb.plots.theme import PALETTE

#: The axis of every figure that shows the uplift per add (yuan of monthly AUM change).
PER_ADD_AXIS = "每新增一个企微客户的月度AUM变化 AUM change per add (元 yuan / month)"


def interval(ax: plt.Axes, y: float, coef: float, low: float, high: float, color: str) -> None:
    """A point estimate with its 95% interval as a horizontal bar at height ``y``, labelled
    ``+coef [low, high]`` above (values in the axis' units, e.g. yuan per add)."""
    ax.errorbar(
        coef,
        y,
        xerr=[[coef - low], [high - coef]],
        fmt="o",
        color=color,
        capsize=4,
        markersize=7,
        lw=2,
    )
    ax.annotate(
        f"{coef:+,.0f}  [{low:+,.0f}, {high:+,.0f}]",
        (coef, y),
        xytext=(0, 9),
        textcoords="offset points",
        ha="center",
        fontsize=8.5,
    )


def zero_and_truth(ax: plt.Axes, truth: float | None, legend_loc: str) -> None:
    """A dashed line at 0 and, for simulated data, a dotted line at the true quota effect
    (yuan per add) with its legend entry."""
    ax.axvline(0, color=PALETTE["grey"], lw=1, ls="--")
    if truth is None:
        return
    ax.axvline(
        truth,
        color=PALETTE["green"],
        lw=1.5,
        ls=":",
        label=f"真实值 true quota effect ({truth:+,.0f} 元, simulated)",
    )
    ax.legend(loc=legend_loc, framealpha=0.9)


def finding_title(fig: Figure, text: str, fontsize: float = 11.5) -> None:
    """The figure's title, which states the finding: bold, left-aligned above every panel."""
    fig.suptitle(text, x=0.01, ha="left", fontweight="bold", fontsize=fontsize)
