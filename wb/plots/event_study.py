"""Event-study figure of the staggered quota rollout, drawn from :class:`wb.uplift.event_study.EventStudy`.

Three panels (monthly AUM change in 万元, WeCom adds, certified adds), both estimators
overlaid with 95% intervals, the finding in the title (computed from the estimates), units
labelled and the data source under the chart, marked simulated when it is.
"""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from wb.plots.common import finish, print_figure
from wb.plots.theme import PALETTE, signed, theme_context
from wb.uplift.event_study import ESTIMATORS, OUTCOMES, EventStudy

#: Outcome → (y-axis label, divisor to the plotted unit, unit for text).
_AXES = {
    "aum_change_cny": ("万元 10k yuan\nper RM-month", 1e4, "万元"),
    "wecom_adds": ("新增数 adds\nper RM-month", 1.0, "adds"),
    "wecom_certified_adds": ("认证新增数 certified\nper RM-month", 1.0, "adds"),
}
_TITLES = {
    "aum_change_cny": "每月AUM变化 Monthly AUM change",
    "wecom_adds": "企微新增 WeCom adds",
    "wecom_certified_adds": "实名认证新增 Certified adds",
}
_STYLE = {
    "callaway_santanna": ("Callaway–Sant'Anna", "CS", PALETTE["blue"], "o", -0.17),
    "imputation": ("Borusyak–Jaravel–Spiess 插补 imputation", "BJS", PALETTE["orange"], "s", 0.17),
}
_NOTE = (
    "CS: not-yet-treated controls, pre-periods vs the "
    "month before; BJS: pre-periods are lead coefficients (reference −1 = 0)"
)


def event_study_figure(
    studies: dict[str, dict[str, EventStudy]], *, source: str, simulated: bool
) -> Figure:
    """Event studies of AUM change, adds and certified adds, −12…+12 months around the first
    quota month, by each estimator in ``studies[outcome][estimator]``.

    ``studies`` needs ``aum_change_cny`` and ``wecom_adds`` (the title reads them); the
    finding is read from the BJS imputation estimates when present.
    """
    outcomes = [o for o in OUTCOMES if o in studies]
    with theme_context():
        fig, axes = print_figure(len(outcomes), 2.3, sharex=True)
        for ax, outcome in zip(axes, outcomes, strict=True):
            _panel(ax, outcome, studies[outcome])
        axes[-1].set_xlabel("考核后月数 months since quota start")
        finish(
            fig,
            title=_finding(studies),
            source=f"{source}; {_NOTE}",
            simulated=simulated,
            key=axes[:1],
        )
    return fig


def _panel(ax: Axes, outcome: str, by_estimator: dict[str, EventStudy]) -> None:
    label, scale, unit = _AXES[outcome]
    atts = []
    for estimator in (e for e in ESTIMATORS if e in by_estimator):
        study = by_estimator[estimator]
        name, short, colour, marker, offset = _STYLE[estimator]
        _series(ax, study, scale, name, colour, marker, offset)
        atts.append(f"{short} {study.att / scale:+,.1f}")
    ax.axvline(-0.5, color=PALETTE["grey"], lw=1, ls="--", label="考核开始 quota starts")
    ax.axhline(0, color=PALETTE["black"], lw=0.8)
    ax.set_title(
        f"{_TITLES[outcome]} · ATT {unit}: " + " · ".join(atts), fontsize=10, fontweight="normal"
    )
    ax.set_ylabel(label)
    ax.xaxis.set_tick_params(labelbottom=True)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(signed)


def _series(
    ax: Axes,
    study: EventStudy,
    scale: float,
    name: str,
    colour: str,
    marker: str,
    offset: float,
) -> None:
    """One estimator's coefficients with 95% bars; a reference point is drawn hollow."""
    estimated = [p for p in study.points if math.isfinite(p.se)]
    x = [p.event_time + offset for p in estimated]
    y = [p.coef / scale for p in estimated]
    err = [
        [(p.coef - p.ci_low) / scale for p in estimated],
        [(p.ci_high - p.coef) / scale for p in estimated],
    ]
    ax.errorbar(x, y, yerr=err, fmt=marker, color=colour, ms=4, lw=1.1, capsize=0, label=name)
    for p in study.points:
        if not math.isfinite(p.se):
            ax.plot(p.event_time + offset, p.coef / scale, marker, mfc="white", color=colour, ms=4)


def _finding(studies: dict[str, dict[str, EventStudy]]) -> str:
    """The title: the jump in adds at adoption and what AUM change does."""
    head = (
        "imputation" if "imputation" in studies["wecom_adds"] else next(iter(studies["wecom_adds"]))
    )
    adds = studies["wecom_adds"][head]
    aum = studies["aum_change_cny"][head]
    low, high, att = aum.att_ci_low / 1e4, aum.att_ci_high / 1e4, aum.att / 1e4
    if low <= 0 <= high:
        what = f"AUM change stays flat ({att:+,.1f} 万元, 95% CI {low:+,.1f} to {high:+,.1f})"
    else:
        verb = "falls" if att < 0 else "rises"
        what = (
            f"monthly AUM change {verb} by {abs(att):,.1f} 万元 per RM "
            f"(95% CI {low:+,.1f} to {high:+,.1f})"
        )
    return f"Quota adds jump by {adds.att:+.0f} a month at adoption; {what}"
