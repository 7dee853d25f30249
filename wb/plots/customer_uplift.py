"""The figures of the customer-level uplift (``wb warehouse uplift``), drawn from a
:class:`~wb.warehouse.uplift_result.CustomerUpliftResult`: the event-time paths of the two kinds of
binding with their 95% intervals, above the effect by AUM tier (``customer_uplift``), and the
paths alone, sized for the brief (``customer_uplift_paths``). Units: yuan of AUM per bound
customer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from wb.plots.common import BEHIND, finish, print_figure
from wb.plots.theme import PALETTE, save_figure, signed, theme_context
from wb.warehouse.imputation import Estimate
from wb.warehouse.uplift_result import KINDS, CustomerUpliftResult

STEM = "customer_uplift"
#: The paths alone, for the brief.
PATHS_STEM = "customer_uplift_paths"
COLOURS = {"no_quota": PALETTE["blue"], "quota_month": PALETTE["orange"]}
#: Each kind drawn a little apart on the shared axis, so the two intervals do not overlap.
OFFSETS = {"no_quota": -0.09, "quota_month": 0.09}
TRUTH_LABELS = {"no_quota": "no quota", "quota_month": "quota month"}
LABELS = {
    "no_quota": "无指标月绑定 bound, no quota in force",
    "quota_month": "指标月绑定 bound in a quota month",
}


def _yuan(x: float | None) -> float:
    """A yuan amount, or NaN for none (a gap in a line)."""
    return np.nan if x is None else x


def data_source(result: CustomerUpliftResult) -> str:
    """The footer's source line: data, size, design and inference."""
    n = result.counts
    what = f"{result.source} (wb simulate --level customer)" if result.simulated else result.source
    window = result.months.as_dict()
    span = "" if window is None else f", months {window['from'] or '…'}–{window['to'] or '…'}"
    return (
        f"{what}; {n['customers']:,} customers, {n['bound_used']:,} bound, "
        f"{n['branches']:,} branches{span}; imputation event study ({result.design.model} model),"
        f" customer and branch x month effects; 95% CI clustered by branch"
    )


def finding(result: CustomerUpliftResult) -> str:
    """One sentence with the two kinds' effects (yuan of AUM per bound customer)."""
    post = result.design.post
    parts = []
    for kind, words in (("no_quota", "without a quota"), ("quota_month", "in a quota month")):
        est = result.att(kind)
        if est.coef is None:
            parts.append(f"{words}: n/a")
        else:
            parts.append(f"{words} {est.coef:+,.0f} 元")
    return (
        f"A customer's AUM after a WeCom binding (months 0–{post}): bound {parts[0]}, "
        f"bound {parts[1]}, per customer"
    )


def _truth_path(result: CustomerUpliftResult, kind: str, months: list[int]) -> list[float] | None:
    if not result.truth:
        return None
    key = "change_by_event_month" if result.design.model == "trends" else "level_by_event_month"
    values = result.truth.get(key, {}).get(kind)
    if not values:
        return None
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    path = np.cumsum(v) if result.design.model == "trends" else v
    return [path[e] if 0 <= e < len(path) else (0.0 if e < 0 else np.nan) for e in months]


def _tier_limits(estimates: list[Estimate]) -> tuple[float, float]:
    """x-limits (yuan) that show every tier's point and the typical interval; intervals far
    wider than the median (a thin private-banking tier) are clipped, marked by arrows."""
    if not estimates:
        return -1_000.0, 1_000.0
    half = np.array([np.inf if e.ci_low is None else (e.ci_high - e.ci_low) / 2 for e in estimates])
    finite = half[np.isfinite(half)]
    typical = float(np.median(finite)) if finite.size else 0.0
    keep = half <= 4 * typical if typical > 0 else np.ones(len(estimates), dtype=bool)
    if not keep.any():
        keep[:] = True
    lows = [_yuan(e.ci_low if e.ci_low is not None else e.coef) for e, k in zip(estimates, keep,
            strict=True) if k]  # fmt: skip
    highs = [_yuan(e.ci_high if e.ci_high is not None else e.coef) for e, k in zip(estimates, keep,
             strict=True) if k]  # fmt: skip
    lo, hi = min(0.0, min(lows)), max(0.0, max(highs))
    pad = max(0.25 * (hi - lo), 1_000.0)
    return lo - pad, hi + pad


def _draw_paths(ax: plt.Axes, result: CustomerUpliftResult) -> None:
    """AUM relative to the month before binding by months since binding, per kind, with 95%
    bands (yuan per bound customer) and, when simulated, the true paths dotted."""
    for kind in KINDS:
        path = [(ev, est) for ev, est in result.kinds[kind].path if est.coef is not None]
        if not path:
            continue
        x = np.array([ev for ev, _ in path], dtype=float)
        coef = np.array([_yuan(e.coef) for _, e in path])
        low = np.array([_yuan(e.ci_low if e.ci_low is not None else e.coef) for _, e in path])
        high = np.array([_yuan(e.ci_high if e.ci_high is not None else e.coef) for _, e in path])
        colour = COLOURS[kind]
        ax.fill_between(x + OFFSETS[kind], low, high, color=colour, alpha=0.18, lw=0)
        ax.plot(x + OFFSETS[kind], coef, "o-", color=colour, ms=4.5, lw=1.8, label=LABELS[kind])
        truth = _truth_path(result, kind, [int(v) for v in x])
        if truth is not None:
            ax.plot(x, truth, ls=":", color=colour, lw=1.5,
                    label=f"真实值 simulated truth, {TRUTH_LABELS[kind]}")  # fmt: skip
    ax.axhline(0, color=PALETTE["grey"], lw=1, ls="--")
    ax.axvline(-0.5, color=PALETTE["grey"], lw=1)
    ax.text(-0.45, ax.get_ylim()[1], " 绑定 binding", va="top", fontsize=8, color=PALETTE["grey"])
    ax.yaxis.set_major_formatter(signed)
    ax.set_xlabel("绑定后月数 months since binding (0 = binding month)")
    ax.set_ylabel("AUM变化 vs 绑定前一月\n(元 yuan per bound customer)")


def event_paths(result: CustomerUpliftResult) -> Figure:
    """The event-time paths of the two kinds of binding alone, with 95% bands (yuan of AUM
    per bound customer): the brief's figure, drawn at the printed width."""
    with theme_context():
        fig, (ax,) = print_figure(1, 3.0)
        _draw_paths(ax, result)
        _finish(fig, result, [ax])
    return fig


def _finish(fig: Figure, result: CustomerUpliftResult, key: list[plt.Axes]) -> None:
    finish(
        fig,
        title=finding(result),
        source=data_source(result),
        simulated=result.simulated,
        key=key,
        ncol=2,
    )


def paths_and_tiers(result: CustomerUpliftResult) -> Figure:
    """Top: AUM relative to the month before binding by months since binding, per kind, with
    95% bands. Below: the window-average effect per AUM tier and kind (yuan per bound
    customer)."""
    with theme_context():
        fig, (top, bottom) = print_figure(2, 2.9)
        _draw_paths(top, result)
        top.set_title("事件时间路径 Event-time path, 95% CI", fontsize=10)
        _draw_tiers(bottom, result)
        _finish(fig, result, [top])
    return fig


def _draw_tiers(ax: plt.Axes, result: CustomerUpliftResult) -> None:
    """The window-average effect per AUM tier and kind with 95% intervals (yuan per bound
    customer), each labelled with its value and customers; a tier without an estimate says so."""
    labels = list(result.design.tiers.labels)
    points = [
        (j, kind, by_kind[kind])
        for kind in KINDS
        for j, by_kind in enumerate(result.tiers)
        if by_kind[kind].att.coef is not None
    ]
    lo_lim, hi_lim = _tier_limits([g.att for _, _, g in points])
    for j, kind, group in points:
        est = group.att
        y = j + OFFSETS[kind] * 2
        c = _yuan(est.coef)
        lo = _yuan(est.ci_low if est.ci_low is not None else est.coef)
        hi = _yuan(est.ci_high if est.ci_high is not None else est.coef)
        shown_lo, shown_hi = max(lo, lo_lim), min(hi, hi_lim)
        ax.plot([shown_lo, shown_hi], [y, y], color=COLOURS[kind], lw=1.6)
        for edge, clipped in ((shown_lo, lo < lo_lim), (shown_hi, hi > hi_lim)):
            ax.plot([edge], [y], marker="<" if edge == shown_lo and clipped else
                    (">" if clipped else "|"), color=COLOURS[kind], ms=6)  # fmt: skip
        if lo_lim <= c <= hi_lim:
            ax.plot([c], [y], "o", color=COLOURS[kind], ms=5)
        text = f"{c:+,.0f}  (n={group.n_customers:,})"
        if not lo_lim <= c <= hi_lim:
            text += " off scale"
        # the label beside the interval's end, on the side with more room
        right = shown_hi <= (lo_lim + hi_lim) / 2 or shown_lo - lo_lim < hi_lim - shown_hi
        ax.annotate(text, (shown_hi if right else shown_lo, y), xytext=(6 if right else -6, 0),
                    textcoords="offset points", ha="left" if right else "right", va="center",
                    fontsize=7.5, color=COLOURS[kind], bbox=BEHIND)  # fmt: skip
    estimated = {j for j, _, _ in points}
    for j, by_kind in enumerate(result.tiers):
        if j not in estimated:
            n = sum(group.n_customers for group in by_kind.values())
            why = (
                "无绑定客户 no bound customer in this tier"
                if n == 0
                else f"无估计 no estimate (n={n:,})"
            )
            ax.text(0.5, j, why, va="center", ha="center", fontsize=8, color=PALETTE["grey"],
                    transform=ax.get_yaxis_transform(), bbox=BEHIND)  # fmt: skip
    ax.set_xlim(lo_lim, hi_lim)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.axvline(0, color=PALETTE["grey"], lw=1, ls="--")
    ax.set_yticks(range(len(labels)), [f"{lab}元" for lab in labels])
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.xaxis.set_major_formatter(signed)
    ax.set_xlabel(f"平均效应 months 0–{result.design.post} (元 yuan per bound customer)")
    ax.set_title("按绑定前AUM分层 By AUM tier the month before binding", fontsize=10)


def save(result: CustomerUpliftResult, folder: Path | str) -> Iterable[Path]:
    """Draw both figures and save ``customer_uplift`` and ``customer_uplift_paths`` (PNG and
    SVG each) into ``folder``."""
    paths = []
    for stem, draw in ((STEM, paths_and_tiers), (PATHS_STEM, event_paths)):
        fig = draw(result)
        try:
            paths += save_figure(fig, folder, stem)
        finally:
            plt.close(fig)
    return paths
