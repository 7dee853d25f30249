"""Drawing pieces shared by the figure modules."""

from __future__ import annotations

import matplotlib.pyplot as plt


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
