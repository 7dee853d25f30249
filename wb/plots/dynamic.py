"""Dynamic effects of quota changes by horizon, drawn from
:class:`wb.uplift.dynamic.DynamicEffects`.

Two panels, one above the other (monthly AUM change in 万元, WeCom adds): placebos (negative horizons) and effects
ℓ months from an RM's first quota-target change with 95% intervals, the finding in the title
(computed from the estimates), units labelled, the data source under the chart, marked
simulated when it is.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from wb.plots.common import finish, print_figure
from wb.plots.theme import PALETTE, signed, theme_context
from wb.uplift.dynamic import OUTCOMES, DynamicEffects

#: Outcome → (panel title, y-axis label, divisor to the plotted unit).
_AXES = {
    "aum_change_cny": ("每月AUM变化 Monthly AUM change", "万元 10k yuan\nper RM-month", 1e4),
    "wecom_adds": ("企微新增 WeCom adds", "新增数 adds\nper RM-month", 1.0),
}
_NOTE = (
    "DID_l (de Chaisemartin–D'Haultfœuille): each RM whose quota target changed vs RMs with "
    "the same starting target not yet changed; negative months are placebos"
)


def dynamic_figure(dynamic: DynamicEffects, *, source: str, simulated: bool) -> Figure:
    """Placebos and effects of each outcome in :data:`~wb.uplift.dynamic.OUTCOMES` by months
    from the first change of an RM's quota target (1 = the month it changes)."""
    table = dynamic.tidy()
    with theme_context():
        fig, axes = print_figure(len(OUTCOMES), 2.5, sharex=True)
        for ax, outcome in zip(axes, OUTCOMES, strict=True):
            title, label, scale = _AXES[outcome]
            rows = table[table["outcome"] == outcome].dropna(subset=["coef"])
            for kind, colour, marker in (
                ("placebo", PALETTE["grey"], "s"),
                ("effect", PALETTE["blue"], "o"),
            ):
                r = rows[rows["kind"] == kind]
                ax.errorbar(
                    r["horizon"],
                    r["coef"] / scale,
                    yerr=[(r["coef"] - r["ci_low"]) / scale, (r["ci_high"] - r["coef"]) / scale],
                    fmt=marker,
                    color=colour,
                    ms=4,
                    lw=1.1,
                    capsize=0,
                    label="安慰剂 placebo" if kind == "placebo" else "效应 effect",
                )
            ax.axvline(0.5, color=PALETTE["grey"], lw=1, ls="--")
            ax.axhline(0, color=PALETTE["black"], lw=0.8)
            ax.set_title(
                f"{title} · pre-trend p = {dynamic.pretrend_p[outcome]:.2f}",
                fontsize=10,
                fontweight="normal",
            )
            ax.set_ylabel(label)
            ax.yaxis.set_major_formatter(signed)
            ax.xaxis.set_tick_params(labelbottom=True)
        axes[-1].set_xlabel("目标首次变化后月数 months from the first target change")
        finish(
            fig,
            title=_finding(dynamic),
            source=f"{source}; {_NOTE}",
            simulated=simulated,
            key=axes[:1],
        )
    return fig


def _finding(dynamic: DynamicEffects) -> str:
    """The title: adds and AUM change in the month the target first changes."""
    t = dynamic.tidy()
    first = t[(t["kind"] == "effect") & (t["horizon"] == 1)].set_index("outcome")
    adds, aum = first.loc["wecom_adds"], first.loc["aum_change_cny"]
    low, high = aum["ci_low"] / 1e4, aum["ci_high"] / 1e4
    if not low <= 0 <= high:
        verb = "falls" if aum["coef"] < 0 else "rises"
        what = f"AUM change {verb} {abs(aum['coef']) / 1e4:,.1f} 万元"
    else:
        what = "AUM change flat"
    return (
        f"Quota target changes: adds {adds['coef']:+.0f} a month; {what} "
        f"(95% CI {low:+,.1f} to {high:+,.1f})"
    )
