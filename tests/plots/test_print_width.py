"""Every figure wb draws is legible on paper at the brief's text width (178 mm): no wider, no
text under the smallest font, no tick labels or other texts on top of each other, no key over
the data, only the colour-blind-safe palette (and greys), a title, an axis label on every
panel, and the simulated mark on simulated data.

The figures are drawn from small simulated results (an RM x month export and a customer-level
warehouse) and the bank panel; ``test_every_figure_function_is_checked`` keeps the list whole.
"""

from __future__ import annotations

import importlib
import inspect
import io
import itertools
import pkgutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image

import wb.plots
from wb.plots import bank_periods, banks, customer_uplift, designs, quality, uplift
from wb.plots.bunching import bunching_figure
from wb.plots.dynamic import dynamic_figure
from wb.plots.event_study import event_study_figure
from wb.plots.sensitivity import sensitivity_figure
from wb.plots.theme import (
    MIN_FONT_PT,
    PALETTE,
    PNG_DPI,
    PRINT_WIDTH_IN,
    SAVE_RC,
    SIMULATED_LABEL,
    smallest_font_pt,
)

ROOT = Path(__file__).resolve().parents[2]
#: Saved images may run this much past the text width (``bbox_inches="tight"`` pads 0.1 in).
SLACK = 1.02


@pytest.fixture(scope="module")
def drawings(tmp_path_factory) -> dict[str, tuple[Callable[[], Figure], bool]]:
    """Figure function name → (a call drawing it, whether its data are simulated)."""
    from wb.banks.panel import Panel
    from wb.run import uplift_outputs
    from wb.uplift.simulate import SimulationConfig, write
    from wb.warehouse import build, simulate
    from wb.warehouse import uplift as customer
    from wb.warehouse.source import EngineOptions

    folder = tmp_path_factory.mktemp("figures")
    export = folder / "s.parquet"
    write(SimulationConfig(n_rms=600, n_months=24, seed=1, beta_quota=0), export)
    analysis = uplift_outputs.analyse(export, quiet=True)
    result, found = analysis.result, analysis.designs
    look = {"source": uplift.data_source(result), "simulated": result.simulated}
    simulate.write(simulate.CustomerSimulationConfig(n_rms=120), folder / "wh")
    options = EngineOptions(engine="duckdb")
    built = build.build(folder / "wh", folder / "build", options)
    adds = uplift_outputs.analyse(built.rm_month, quick=True, quality=built.add_quality, quiet=True)
    bound = customer.estimate(folder / "wh", options)
    panel = Panel.load(ROOT / "data" / "bank_panel.csv")
    drawn = {
        "forest": partial(uplift.forest, result),
        "binned_scatter": partial(uplift.binned_scatter, result),
        "by_quota": partial(uplift.by_quota, result),
        "event_study_figure": partial(event_study_figure, found.event_studies, **look),
        "bunching_figure": partial(bunching_figure, found.bunching, **look),
        "dynamic_figure": partial(dynamic_figure, found.dynamic_effects, **look),
        "sensitivity_figure": partial(sensitivity_figure, found.trend_sensitivity, **look),
        "designs_forest": partial(designs.designs_forest, analysis.to_json(), **look),
        "add_quality_funnel": partial(
            quality.add_quality_funnel,
            adds.add_quality,
            source=uplift.data_source(adds.result),
            simulated=adds.result.simulated,
        ),
        "paths_and_tiers": partial(customer_uplift.paths_and_tiers, bound),
        "event_paths": partial(customer_uplift.event_paths, bound),
    }
    assert result.simulated and adds.result.simulated and bound.simulated
    drawings = {name: (draw, True) for name, draw in drawn.items()}
    for name in ("plot_retail_income_yoy", "plot_retail_profit_yoy", "plot_retail_share"):
        drawings[name] = (partial(getattr(banks, name), panel), False)
    drawings["plot_retail_aum"] = (partial(banks.plot_retail_aum, panel), False)
    drawings["plot_wecom_reach"] = (partial(banks.plot_wecom_reach, panel), False)
    drawings["plot_trends"] = (partial(bank_periods.plot_trends, panel), False)
    drawings["plot_coverage"] = (partial(bank_periods.plot_coverage, panel), False)
    return drawings


def figure_functions() -> set[str]:
    """The public functions of ``wb.plots`` that draw a new figure (annotated ``-> Figure``,
    not taking one)."""
    found = set()
    for info in pkgutil.iter_modules(wb.plots.__path__):
        module = importlib.import_module(f"wb.plots.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            signature = inspect.signature(function)
            if (
                function.__module__ == module.__name__
                and not name.startswith("_")
                and signature.return_annotation == "Figure"
                and "fig" not in signature.parameters
            ):
                found.add(name)
    return found


# ------------------------------------------------------------------ what a reader stumbles on


def _drawn_texts(fig: Figure) -> list[Text]:
    """The texts a reader sees: visible, non-empty, and for tick labels only those of ticks
    inside the axis' view (matplotlib keeps a few beyond it, undrawn)."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - span <= tick.get_loc() <= high + span:
                    hidden.update((tick.label1, tick.label2))
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t not in hidden and t.get_alpha() != 0
    ]


def _shrunk(box: Bbox, px: float = 1.0) -> Bbox:
    return Bbox.from_extents(box.x0 + px, box.y0 + px, box.x1 - px, box.y1 - px)


def overlapping_texts(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of texts drawn on top of each other (tick labels, titles, labels, notes)."""
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), _shrunk(t.get_window_extent(renderer))) for t in _drawn_texts(fig)]
    return [
        (a, b)
        for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
        if box_a.overlaps(box_b)
    ]


def _dense(points: np.ndarray, closed: bool = False) -> np.ndarray:
    """Points along the segments between ``points`` (display pixels), 20 per segment."""
    if closed:
        points = np.vstack([points, points[:1]])
    if len(points) < 2:
        return points
    steps = np.linspace(0, 1, 20)[:, None]
    return np.vstack([a + (b - a) * steps for a, b in itertools.pairwise(points)])


def data_points(ax: plt.Axes) -> np.ndarray:
    """Pixels of what ``ax`` plots: its lines (and reference lines), interval bars, band
    outlines and bars."""
    found = [np.empty((0, 2))]
    for line in ax.get_lines():
        xy = line.get_transform().transform(line.get_xydata())
        found.append(_dense(xy) if line.get_linestyle() not in ("None", "") else xy)
    for collection in ax.collections:
        transform = collection.get_transform()
        if isinstance(collection, LineCollection):
            found += [_dense(transform.transform(seg)) for seg in collection.get_segments()]
        elif isinstance(collection, PolyCollection):
            found += [transform.transform(p.vertices) for p in collection.get_paths()]
    for container in ax.containers:
        if isinstance(container, BarContainer):
            for bar in container.patches:
                corners = bar.get_transform().transform(bar.get_path().vertices)
                found.append(_dense(corners, closed=True))
    points = np.vstack(found)
    return points[np.isfinite(points).all(axis=1)]


def covered_data(fig: Figure) -> list[str]:
    """The keys (legends) drawn over a plotted point, line, interval or bar."""
    renderer = fig.canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    covered = []
    for legend in legends:
        box = _shrunk(legend.get_window_extent(renderer), 2.0)
        for ax in fig.axes:
            if box.count_contains(data_points(ax)):
                covered.append(" / ".join(t.get_text() for t in legend.get_texts()))
    return covered


def _neutral_or_palette(colour: object) -> bool:
    r, g, b, a = mcolors.to_rgba(colour)
    if a == 0 or (r == g == b):
        return True
    return mcolors.to_hex((r, g, b)) in {c.lower() for c in PALETTE.values()}


def off_palette_colours(fig: Figure) -> set[str]:
    """Colours of plotted marks outside the Okabe–Ito palette and greys."""
    colours = []
    for ax in fig.axes:
        for line in ax.get_lines():  # the colours drawn: a line's, its markers' edge and fill
            if line.get_linestyle() not in ("None", ""):
                colours.append(line.get_color())
            if line.get_marker() not in ("None", "", " ", None):
                colours.append(line.get_markeredgecolor())
                if line._marker.is_filled():
                    colours.append(line.get_markerfacecolor())
        for patch in ax.patches:
            colours += [patch.get_facecolor(), patch.get_edgecolor()]
        for collection in ax.collections:
            colours += list(collection.get_facecolors()) + list(collection.get_edgecolors())
    colours += [t.get_color() for t in _drawn_texts(fig)]
    return {mcolors.to_hex(c, keep_alpha=False) for c in colours if not _neutral_or_palette(c)}


def _labelled(ax: plt.Axes, fig: Figure) -> bool:
    """An axis label on ``ax``, or (small multiples) on a panel of its row or column."""
    if ax.get_xlabel() or ax.get_ylabel():
        return True
    spec = ax.get_subplotspec()
    if spec is None:
        return False
    for other in fig.axes:
        theirs = other.get_subplotspec()
        if theirs is None or theirs.get_gridspec() is not spec.get_gridspec():
            continue
        if theirs.colspan == spec.colspan and other.get_xlabel():
            return True
        if theirs.rowspan == spec.rowspan and other.get_ylabel():
            return True
    return False


def print_problems(fig: Figure, saved_width_in: float, simulated: bool) -> list[str]:
    """Everything that keeps ``fig`` from printing legibly at the text width."""
    problems = []
    if fig.get_figwidth() > PRINT_WIDTH_IN + 1e-6:
        problems.append(f"drawn {fig.get_figwidth() * 25.4:.0f} mm wide")
    if saved_width_in > PRINT_WIDTH_IN * SLACK:
        problems.append(f"saved {saved_width_in * 25.4:.0f} mm wide (text runs past the edge)")
    if (smallest := smallest_font_pt(fig)) < MIN_FONT_PT:
        problems.append(f"text at {smallest:.1f} pt")
    if overlapping := overlapping_texts(fig):
        problems.append(f"texts on top of each other: {overlapping[:3]}")
    if covered := covered_data(fig):
        problems.append(f"key over the data: {covered}")
    if colours := off_palette_colours(fig):
        problems.append(f"colours outside the palette: {sorted(colours)}")
    if not (fig.get_suptitle() or any(ax.get_title(loc="left") for ax in fig.axes)):
        problems.append("no title")
    if unlabelled := [i for i, ax in enumerate(fig.axes) if not _labelled(ax, fig)]:
        problems.append(f"panels without an axis label: {unlabelled}")
    footer = fig.texts[-1].get_text() if fig.texts else ""
    if simulated and SIMULATED_LABEL not in " ".join(t.get_text() for t in fig.texts):
        problems.append(f"simulated data not marked: {footer[:60]!r}")
    return problems


# ------------------------------------------------------------------ the tests


def test_every_figure_function_is_checked(drawings):
    assert set(drawings) == figure_functions()


def _params() -> list:
    """Every figure function; the bank charts (checked for width and font in the quick tier by
    test_bank_plots) in the full suite only."""
    return [
        pytest.param(name, marks=pytest.mark.slow) if name.startswith("plot_") else name
        for name in sorted(figure_functions())
    ]


def saved_width_in(fig: Figure) -> float:
    """The width of ``fig`` saved as :func:`~wb.plots.theme.save_figure` saves its PNG (cropped
    to what is drawn, at :data:`PNG_DPI`), inches."""
    buffer = io.BytesIO()
    with matplotlib.rc_context(SAVE_RC):
        fig.savefig(buffer, format="png", bbox_inches="tight")
    with Image.open(buffer) as png:
        return png.size[0] / PNG_DPI


@pytest.mark.parametrize("name", _params())
def test_every_figure_prints_legibly_at_the_text_width(name, drawings):
    draw, simulated = drawings[name]
    fig = draw()
    try:
        assert print_problems(fig, saved_width_in(fig), simulated) == [], name
    finally:
        plt.close(fig)


def test_the_checks_catch_what_a_reader_stumbles_on():
    """The checks above fail on a figure with each fault: too wide, 6 pt text, tick labels
    crowded together, a key over the data, a colour outside the palette, no simulated mark."""
    from wb.plots.theme import add_footer, theme_context

    with theme_context():
        fig, ax = plt.subplots(figsize=(10, 3))
        ax.plot(range(40), range(40), color="#ff00ff", label="a line under its key")
        ax.legend(loc="center")
        ax.set_xticks(range(40), [f"label {i}" for i in range(40)])
        ax.set_xlabel("x (units)")
        ax.set_title("finding", loc="left")
        ax.text(0, 30, "tiny", fontsize=6)
        add_footer(fig, "fixture")
    problems = " | ".join(print_problems(fig, 10.0, simulated=True))
    plt.close(fig)
    for fault in (
        "drawn 254 mm wide",
        "saved 254 mm",
        "text at 6.0 pt",
        "texts on top of each other",
        "key over the data",
        "#ff00ff",
        "simulated data not marked",
    ):
        assert fault in problems
