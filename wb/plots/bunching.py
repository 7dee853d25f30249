"""Figure of the difference-in-bunching at the quota target, drawn from a
:class:`~wb.uplift.bunching.Bunching` result.

The distribution of monthly WeCom adds minus the RM's target in quota months is drawn as bars;
the same RMs' pre-quota months (the counterfactual) as a step line. The title states the finding
computed from the result, and the footer the data source, marked simulated when it is.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from wb.plots.common import TITLE_PT, finish, print_figure
from wb.plots.theme import PALETTE, fmt_pct, signed, theme_context, wrap_print
from wb.uplift.bunching import Bunching

_CLIP = 1.6  # the y axis stops at this multiple of the tallest bar outside the window


def bunching_figure(result: Bunching, *, source: str, simulated: bool) -> Figure:
    """Share of RM-months at each value of adds − target (adds/month), quota vs pre-quota
    months of the same RMs, with a line at the target and the excess share and its 95% CI."""
    h = result.histogram
    pre = h[h["period"] == "pre_quota"]
    quota = h[h["period"] == "quota"]
    z = quota["z"].to_numpy()
    with theme_context():
        fig, (ax,) = print_figure(1, 3.4)
        ax.bar(
            z,
            quota["share"] * 100,
            width=1.0,
            color=PALETTE["blue"],
            label="有考核月份 Quota months",
        )
        ax.step(
            z,
            pre["share"] * 100,
            where="mid",
            color=PALETTE["orange"],
            lw=1.8,
            label="同一RM考核前 Same RMs before their quota (counterfactual)",
        )
        ax.axvline(0, color=PALETTE["black"], lw=1, ls="--")
        lo, hi = result.window
        if lo < hi:
            ax.axvspan(lo - 0.5, hi + 0.5, color=PALETTE["grey"], alpha=0.2, lw=0)
        _scale(ax, result, z, quota["share"].to_numpy() * 100, pre["share"].to_numpy() * 100)
        ax.annotate(
            "← 目标 target",
            (0, 0.6),
            xycoords=("data", "axes fraction"),
            xytext=(6, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8.5,
        )
        ax.xaxis.set_major_formatter(signed)
        ax.set_xlim(z[0] - 0.5, z[-1] + 0.5)
        ax.set_xlabel("每月添加数 − 目标 Adds minus target (adds/month)")
        ax.set_ylabel("占比 Share of RM-months (%)")
        ax.set_title(
            "\n".join(wrap_print(_finding(result), fig.get_figwidth() - 1.0, TITLE_PT + 1))
        )
        finish(
            fig,
            title=None,
            source=_source(result, source, z),
            simulated=simulated,
            key=[ax],
            ncol=1,
            key_below=True,
            notes=_summary(result),
        )
    return fig


def _scale(
    ax: plt.Axes, result: Bunching, z: np.ndarray, quota: np.ndarray, pre: np.ndarray
) -> None:
    """Cap the y axis so the distribution away from the target stays readable; label the
    tallest bar with its value when the cap cuts it."""
    lo, hi = result.window
    outside = (z < lo) | (z > hi)
    top = max(quota.max(), pre.max())
    cap = _CLIP * max(quota[outside].max(), pre[outside].max())
    if top <= cap or cap == 0:
        ax.set_ylim(0, top * 1.15)
        return
    ax.set_ylim(0, cap)
    i = int(np.argmax(quota))
    ax.annotate(
        f"{quota[i]:.1f}% ↑ (off scale)",
        (z[i], cap),
        xytext=(5, -12),
        textcoords="offset points",
        ha="left",
        fontsize=8.5,
        fontweight="bold",
        color=PALETTE["blue"],
    )


def _finding(result: Bunching) -> str:
    if result.significant:
        return (
            f"{result.excess_share:.0%} of quota RM-months sit {result.where}: "
            "excess mass the quota manufactured"
        )
    return (
        f"No detectable bunching {result.where}: excess share {_pct(result.excess_share)} "
        f"(95% CI {_pct(result.ci_low)} to {_pct(result.ci_high)})"
    )


def _summary(result: Bunching) -> list[str]:
    """The estimates under the chart, one line each."""
    placebo = ", ".join(
        f"Q{p.offset:+d}: {_pct(p.excess_share, 2, signed=True)}" for p in result.placebo
    )
    return [
        f"超额聚集 Excess share {result.where}: {_pct(result.excess_share)} "
        f"(95% CI {_pct(result.ci_low)} to {_pct(result.ci_high)})",
        f"考核催生 Manufactured adds per quota RM-month: {result.manufactured_adds:.1f} "
        f"(95% CI {result.manufactured_ci_low:.1f} to {result.manufactured_ci_high:.1f})",
        f"安慰剂 Placebo thresholds (excess share): {placebo}",
    ]


def _pct(fraction: float, digits: int = 1, signed: bool = False) -> str:
    """Percent string without a negative zero ('-0.0%')."""
    return fmt_pct(round(fraction, digits + 2) + 0.0, digits, signed)


def _source(result: Bunching, source: str, z: np.ndarray) -> str:
    return (
        f"{source}; {result.n_rms:,} RMs, {result.n_quota_rm_months:,} quota vs "
        f"{result.n_pre_rm_months:,} pre-quota RM-months (reweighted to each RM's quota months); "
        f"95% CI: bootstrap over RMs, {result.n_boot} reps; "
        f"RM-months beyond {z[0]:+d} to {z[-1]:+d} not drawn"
    )
