"""The add-quality funnel: what a quota-induced add is, beside adds made without a quota.

Adds → certified to a customer → still connected after 90 days → an existing customer of the
bank, each as a share of one add with its 95% interval, for the marginal quota-induced add
(FE-2SLS) and for adds in RM-months without a quota (:mod:`wb.uplift.quality`). The
acquire → activate → add-value chain a bank runs its customer base by, measured on the adds a
quota produces.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from wb.plots.common import finish, print_figure
from wb.plots.theme import PALETTE, theme_context
from wb.uplift.quality import AddQuality

#: The funnel's steps: label, the count behind it, and whether the step is its complement.
STEPS = (
    ("新增 added", None, False),
    ("实名认证 certified\n(≤30 days)", "wecom_certified_adds", False),
    ("90天仍在 still connected\nafter 90 days", "adds_removed_90d", True),
    ("已是本行客户\nexisting customer", "adds_existing_customer", False),
)


def _step(result: AddQuality, count: str | None, complement: bool, kind: str) -> tuple:
    """(share, low, high) of one step for ``kind`` ``"quota"`` or ``"no_quota"``."""
    if count is None:
        return 1.0, 1.0, 1.0
    s = next(s for s in result.shares if s.count == count)
    share, low, high = (
        (s.share, s.ci_low, s.ci_high)
        if kind == "quota"
        else (s.no_quota_share, s.no_quota_ci_low, s.no_quota_ci_high)
    )
    return (1 - share, 1 - high, 1 - low) if complement else (share, low, high)


def add_quality_funnel(result: AddQuality, *, source: str, simulated: bool) -> Figure:
    """Grouped bars per funnel step (% of one add, 95% CI) for the two kinds of add."""
    kinds = (
        ("no_quota", "无配额月份的新增 adds without a quota", PALETTE["blue"]),
        ("quota", "配额带来的新增 quota-induced adds", PALETTE["vermillion"]),
    )
    removed = next(s for s in result.shares if s.count == "adds_removed_30d")
    ring = next(s for s in result.shares if s.count == "adds_shared_3plus")
    with theme_context():
        fig, (ax,) = print_figure(1, 2.9)
        x = np.arange(len(STEPS))
        for i, (kind, label, colour) in enumerate(kinds):
            values = [_step(result, c, comp, kind) for _, c, comp in STEPS]
            share = np.array([v[0] for v in values]) * 100
            err = np.array([[v[0] - v[1], v[2] - v[0]] for v in values]).T * 100
            pos = x + (i - 0.5) * 0.38
            ax.bar(pos, share, width=0.36, color=colour, label=label)
            ax.errorbar(pos, share, yerr=err, fmt="none", ecolor=PALETTE["black"], lw=0.9)
            for p, v, above in zip(pos, share, err[1], strict=True):  # above the interval
                ax.text(p, v + above + 1.5, f"{v:.0f}%", ha="center", fontsize=8)
        ax.set_xticks(x, [s[0] for s in STEPS], fontsize=8.5)
        ax.set_ylim(0, 112)
        ax.set_ylabel("占新增的比例\nshare of adds (%)")
        ax.grid(axis="y", color="#e6e6e6", lw=0.6)
        ax.set_axisbelow(True)
        finish(
            fig,
            title=(
                f"配额带来的新增中 {removed.share:.0%} 在30天内被删除、{ring.share:.0%} 是多名客户"
                f"经理共享的联系人 (无配额: {removed.no_quota_share:.0%}、"
                f"{ring.no_quota_share:.0%})\n"
                f"Of quota-induced adds {removed.share:.0%} are removed within 30 days and "
                f"{ring.share:.0%} are ring contacts (without a quota: "
                f"{removed.no_quota_share:.0%}, {ring.no_quota_share:.0%})"
            ),
            source=f"{source}; quota-induced adds: FE-2SLS with RM and month effects",
            simulated=simulated,
            key=[ax],
            ncol=2,
        )
        return fig
