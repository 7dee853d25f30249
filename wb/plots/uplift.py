"""Figures of the quota-uplift analysis, drawn from an :class:`~wb.uplift.UpliftResult`.

Every function takes the result (its tidy tables), returns a Figure, states the finding in its
title, labels units (元 / 万元 per add) and writes the data source under the chart, marked
simulated when it is.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from wb.plots.common import PER_ADD_AXIS, finish, interval, print_figure, zero_and_truth
from wb.plots.theme import PALETTE, signed, theme_context
from wb.stats.cluster import z_quantile
from wb.uplift.result import MODELS, OUTCOME, UpliftResult

#: Half-width of a 95% normal interval in standard errors (the bins' error bars).
Z95 = z_quantile()

_COLOURS = {
    "naive_ols": PALETTE["vermillion"],
    "twfe": PALETTE["orange"],
    "iv_quota": PALETTE["blue"],
}


def data_source(result: UpliftResult) -> str:
    kind = "simulated RM × month export (wb simulate)" if result.simulated else result.data_label
    return (
        f"{kind}; {result.n_obs:,} RM-months, {result.n_rms:,} RMs, {result.n_branches:,} "
        f"branches, {result.first_month}–{result.last_month}; 95% CI, SE clustered by branch"
    )


def _finding(result: UpliftResult) -> str:
    iv = result.estimate_of("iv_quota")
    naive = result.estimate_of("naive_ols")
    verdict = {
        "no_detectable_uplift": "no detectable uplift",
        "positive_uplift": "AUM rises",
        "negative_uplift": "AUM falls",
    }[result.verdict.code]
    if result.verdict.cannot_tell:
        verdict = "cannot tell (too few branches)"
    return (
        f"Dashboard sees {naive.coef:+,.0f} 元 per add; a quota-induced add: "
        f"{iv.coef:+,.0f} 元 — {verdict}"
    )


def forest(result: UpliftResult) -> Figure:
    """The three contract estimates with their 95% intervals, yuan of monthly AUM per add."""
    with theme_context():
        fig, (ax,) = print_figure(1, 2.7)
        models = list(MODELS)[::-1]
        for i, model in enumerate(models):
            e = result.estimate_of(model)
            interval(ax, i, e.coef, e.ci_low, e.ci_high, _COLOURS[model])
        zero_and_truth(ax, (result.simulated_truth or {}).get("beta_quota_cny_per_add"))
        ax.set_yticks(
            range(len(models)), [f"{MODELS[m].label}\n({MODELS[m].reading})" for m in models]
        )
        ax.set_ylim(-0.6, len(models) - 0.3)
        ax.set_xlabel(PER_ADD_AXIS)
        ax.xaxis.set_major_formatter(signed)
        finish(
            fig,
            title=_finding(result),
            source=data_source(result),
            simulated=result.simulated,
            key=[ax],
        )
    return fig


#: The y axis of the panels in 万元 of monthly AUM change.
_AUM_WAN = "月度AUM变化\nAUM change (万元 10k yuan)"


def binned_scatter(result: UpliftResult) -> Figure:
    """Pooled binned scatter of AUM change on adds above the within-RM one (RM and month FE)."""
    with theme_context():
        fig, axes = print_figure(2, 2.7)
        naive, twfe = result.estimate_of("naive_ols"), result.estimate_of("twfe")
        panels = (
            ("pooled", "所有RM混合 Pooled (what a dashboard sees)", naive, "新增数 adds / month"),
            (
                "within",
                "同一RM内 Within RM (RM and month effects removed)",
                twfe,
                "新增数偏离 adds vs the RM's own average (adds / month)",
            ),
        )
        for axis, (kind, title, est, xlabel) in zip(axes, panels, strict=True):
            b = result.bins[result.bins["kind"] == kind]
            axis.errorbar(
                b["x_mean"],
                b["y_mean"] / 1e4,
                yerr=Z95 * b["y_se"] / 1e4,
                fmt="o",
                color=PALETTE["blue"],
                ecolor=PALETTE["sky"],
                capsize=2,
                label="分箱均值 bin mean, 95% CI",
            )
            x = np.linspace(b["x_mean"].min(), b["x_mean"].max(), 2)
            centre_x, centre_y = (
                np.average(b["x_mean"], weights=b["n"]),
                np.average(b["y_mean"], weights=b["n"]),
            )
            axis.plot(
                x,
                (centre_y + est.coef * (x - centre_x)) / 1e4,
                color=_COLOURS[est.model],
                label=f"{MODELS[est.model].label} slope",
            )
            axis.axhline(0, color=PALETTE["grey"], lw=0.8, ls="--")
            axis.set_title(
                f"{title}: slope {est.coef:+,.0f} 元/add", fontsize=10, fontweight="normal"
            )
            axis.set_xlabel(xlabel)
            axis.set_ylabel(_AUM_WAN)
        finish(
            fig,
            title=(
                f"Adds and AUM move together across RMs ({naive.coef:+,.0f} 元/add) but "
                f"much less within an RM ({twfe.coef:+,.0f})"
            ),
            source=data_source(result) + "; 20 equal-count bins, bars = 95% CI of the bin mean",
            simulated=result.simulated,
            key=axes,
        )
    return fig


def by_quota(result: UpliftResult) -> Figure:
    """Adds, certified adds and AUM change in months with and without a quota in force."""
    with theme_context():
        fig, (left, right) = print_figure(1, 3.0, 2, gridspec_kw={"width_ratios": [1.4, 1]})
        t = result.by_quota
        width = 0.38
        for j, (flag, label, colour) in enumerate(
            (
                (False, "无考核 no quota", PALETTE["grey"]),
                (True, "有考核 quota in force", PALETTE["blue"]),
            )
        ):
            rows = t[t["quota_in_force"] == flag].set_index("variable")
            counts = rows.loc[["wecom_adds", "wecom_certified_adds"]]
            xs = np.arange(2) + (j - 0.5) * width
            left.bar(
                xs,
                counts["mean"],
                width,
                yerr=Z95 * counts["se"],
                color=colour,
                label=label,
                capsize=3,
            )
            for x, v, se in zip(xs, counts["mean"], counts["se"], strict=True):
                left.annotate(  # above the interval, never over it
                    f"{v:.1f}",
                    (x, v + Z95 * se),
                    xytext=(0, 4),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8.5,
                )
            aum = rows.loc[OUTCOME]
            right.bar(
                j, aum["mean"] / 1e4, 0.6, yerr=Z95 * aum["se"] / 1e4, color=colour, capsize=3
            )
        left.set_xticks(range(2), ["新增 adds", "实名认证 certified adds"])
        left.set_ylabel("每RM每月 per RM-month")
        left.margins(y=0.12)
        right.set_xticks(range(2), ["无考核\nno quota", "有考核\nquota"])
        right.set_ylabel(_AUM_WAN)
        right.axhline(0, color=PALETTE["grey"], lw=0.8)
        fs, rf = result.first_stage, result.reduced_form
        right.set_title(
            f"FE estimate: {rf.coef / 1e4:+,.1f} 万元\n[{rf.ci_low / 1e4:+,.1f}, "
            f"{rf.ci_high / 1e4:+,.1f}]",
            fontsize=9.5,
            fontweight="normal",
        )
        left.set_title(
            f"FE estimate: {fs.coef:+.1f} adds\n[{fs.ci_low:+.1f}, {fs.ci_high:+.1f}]",
            fontsize=9.5,
            fontweight="normal",
        )
        cert_share = _certified_share(t)
        finish(
            fig,
            title=(
                f"Quotas add {fs.coef:.0f} adds a month (certified: {cert_share[True]:.0%} "
                f"vs {cert_share[False]:.0%}); AUM change per quota month "
                f"{rf.coef / 1e4:+,.1f} 万元"
            ),
            source=data_source(result) + "; bars: raw means with 95% CI; FE estimate: RM and "
            "month fixed effects",
            simulated=result.simulated,
            key=[left],
        )
    return fig


def _certified_share(table) -> dict[bool, float]:
    means = table.set_index(["variable", "quota_in_force"])["mean"]
    return {
        flag: means[("wecom_certified_adds", flag)] / means[("wecom_adds", flag)]
        for flag in (False, True)
    }


#: Figure stems written by ``wb uplift`` and the function drawing each.
FIGURES = {
    "uplift_forest": forest,
    "uplift_binscatter": binned_scatter,
    "uplift_by_quota": by_quota,
}
