"""Drawing pieces shared by the figure modules, and the frame of every analysis figure: drawn
at the printed width (:data:`~wb.plots.theme.PRINT_WIDTH_IN`), its panels in rows, the finding
above them, the key under the finding, notes and the source line under the chart
(:func:`print_figure`, :func:`finish`)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text

from wb.plots.theme import PALETTE, PRINT_WIDTH_IN, add_footer, wrap_print

#: A white patch behind a label drawn over lines, so no line crosses its text.
BEHIND = {"facecolor": "white", "edgecolor": "none", "pad": 0.5}
#: The axis of every figure that shows the uplift per add (yuan of monthly AUM change).
PER_ADD_AXIS = "每新增一个企微客户的月度AUM变化\nAUM change per add (元 yuan / month)"


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
        bbox=BEHIND,
    )


def zero_and_truth(ax: plt.Axes, truth: float | None) -> None:
    """A dashed line at 0 and, for simulated data, a dotted line at the true quota effect
    (yuan per add), labelled for the figure's key (:func:`finish`)."""
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


def finding_title(fig: Figure, text: str, fontsize: float = 11.5) -> Text:
    """The figure's title, which states the finding: bold, left-aligned above every panel."""
    return fig.suptitle(text, x=0.01, ha="left", fontweight="bold", fontsize=fontsize)


#: Space around the title, the key and the footer, inches.
PAD_IN = 0.08
#: Share of the width a title or key may fill as measured on screen: text drawn at the PNG's
#: resolution runs up to ~3% wider than at the screen's.
FILL = 0.95
#: The finding's font size, points (bold; wrapped to the width as drawn, :func:`finish`).
TITLE_PT = 11


def print_figure(
    rows: int, panel_in: float, cols: int = 1, **subplots: object
) -> tuple[Figure, np.ndarray]:
    """A figure drawn at the printed width with its panels in ``rows`` rows of ``cols``, each
    row about ``panel_in`` inches high (axis labels included); :func:`finish` adds the room
    for the title, key and footer. Returns the figure and a 1-d array of its axes, row by row."""
    fig, axes = plt.subplots(
        rows, cols, figsize=(PRINT_WIDTH_IN, rows * panel_in), squeeze=False, **subplots
    )
    return fig, axes.ravel()


def _height_in(fig: Figure, artist: Text | Legend | None) -> float:
    if artist is None:
        return 0.0
    return artist.get_window_extent(fig.canvas.get_renderer()).height / fig.dpi


def _fitted_title(fig: Figure, title: str) -> Text:
    """The finding as the figure's title, wrapped so that no line runs past the right edge
    (measured as drawn: bold text runs wider than :func:`~wb.plots.theme.wrap_print` guesses)."""
    renderer = fig.canvas.get_renderer()
    width = fig.get_figwidth()
    for room in np.arange(width, 1.0, -0.25):
        top = finding_title(fig, "\n".join(wrap_print(title, room, TITLE_PT)), fontsize=TITLE_PT)
        right = top.get_window_extent(renderer).x1 / fig.dpi
        if right <= FILL * width:
            break
    return top


def _key(fig: Figure, key: Sequence[Axes], ncol: int) -> Legend | None:
    """The figure-level key of the labelled artists of the axes in ``key`` (each label once),
    in as many columns (up to ``ncol``) as fit the figure's width."""
    found: dict[str, object] = {}
    for ax in key:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, handle)
    if not found:
        return None
    labels, handles = list(found), list(found.values())
    renderer = fig.canvas.get_renderer()
    for n in range(min(ncol, len(handles)), 0, -1):
        legend = fig.legend(handles, labels, ncol=n, loc="upper left", fontsize=8.5)
        if legend.get_window_extent(renderer).x1 <= FILL * fig.bbox.width or n == 1:
            return legend
        legend.remove()
    return None


def finish(
    fig: Figure,
    *,
    title: str | None,
    source: str,
    simulated: bool,
    key: Sequence[Axes] = (),
    ncol: int = 3,
    key_below: bool = False,
    notes: Sequence[str] = (),
) -> None:
    """Frame an analysis figure for print: ``title`` (the finding; ``None`` when an axes title
    holds it) wrapped to the width above the panels; the key of the labelled artists of the
    axes in ``key`` under the title (or, with ``key_below``, under the panels), outside every
    plot, so it never covers data; ``notes`` (7.5 pt) and the source line (marked simulated
    when it is) under the chart. The figure grows by the height all of these take (inches),
    so the panels keep the height they were drawn with, laid out in what is left."""
    width = fig.get_figwidth()
    top = None if title is None else _fitted_title(fig, title)
    legend = _key(fig, key, ncol)
    note = None
    if notes:
        wrapped = [line for n in notes for line in wrap_print(n, width - 0.15)]
        note = fig.text(0.01, 0, "\n".join(wrapped), fontsize=7.5, va="bottom")
    footer = add_footer(fig, source, simulated=simulated)
    title_in, legend_in = _height_in(fig, top), _height_in(fig, legend)
    note_in, footer_in = _height_in(fig, note), _height_in(fig, footer)
    top_in = PAD_IN + title_in + PAD_IN + (0 if key_below else legend_in)
    bottom_in = PAD_IN + footer_in + PAD_IN + (note_in + PAD_IN if note else 0.0)
    legend_bottom_in = bottom_in
    if key_below:
        bottom_in += legend_in
    height = top_in + fig.get_figheight() + bottom_in
    fig.set_figheight(height)
    if top is not None:
        top.set_y(1 - PAD_IN / height)
        top.set_va("top")
    if legend is not None:
        y = (legend_bottom_in + legend_in) if key_below else (height - PAD_IN - title_in - PAD_IN)
        legend.set_bbox_to_anchor((0.005, y / height), transform=fig.transFigure)
    if note is not None:
        note.set_y((PAD_IN + footer_in + PAD_IN) / height)
    footer.set_y(PAD_IN / 2 / height)
    if top is not None:  # tight_layout would make room for the title again
        top.set_in_layout(False)
    fig.tight_layout(rect=(0, bottom_in / height, 1, 1 - top_in / height))
    if top is not None:  # saving crops the figure to what is in its layout
        top.set_in_layout(True)
