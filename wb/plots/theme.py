"""House style for every figure: colour-blind-safe palette, CJK font, unit formatters, footers.

The theme is applied inside :func:`theme_context` and never leaks into the caller's global
matplotlib state. Text is drawn literally (``text.parse_math`` off, in the theme and while
saving): a bank name such as ``$…$`` from the data is text, never mathtext that can fail.
Chinese labels render with Noto Sans CJK SC (Debian ``fonts-noto-cjk``); Latin text stays in
DejaVu Sans, and matplotlib falls back per glyph between the two.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.figure import Figure

from wb.door.atomic import atomic_path
from wb.errors import ExportError

CJK_FAMILY = "Noto Sans CJK SC"
FONT_FAMILY = ["DejaVu Sans", CJK_FAMILY]

#: Okabe–Ito palette (Okabe & Ito 2008), distinguishable with the common colour-vision deficiencies.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#8C8C8C",
}
CYCLE = [PALETTE[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple", "black")]

#: Marks every figure and page made from simulated data.
SIMULATED_LABEL = "模拟数据 · SIMULATED DATA"

RC = {
    "font.family": FONT_FAMILY,
    "axes.unicode_minus": False,
    "axes.prop_cycle": mpl.cycler(color=CYCLE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "svg.hashsalt": "wb",
    "svg.fonttype": "path",
    "text.parse_math": False,
    "text.usetex": False,
}
#: What saving needs of the theme: labels made while drawing (ticks) stay literal text too.
SAVE_RC = {"svg.hashsalt": "wb", "text.parse_math": False, "text.usetex": False}


def ensure_cjk_font() -> str:
    """Return the path of the CJK font, rebuilding matplotlib's font cache once if needed.

    Raises :class:`~wb.errors.ExportError` (exit 6) with an install hint when the font is absent.
    """
    try:
        return font_manager.findfont(CJK_FAMILY, fallback_to_default=False)
    except ValueError:
        pass
    # A cache built before fonts-noto-cjk was installed hides the font: rebuild it.
    font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)
    try:
        return font_manager.findfont(CJK_FAMILY, fallback_to_default=False)
    except ValueError as exc:
        raise ExportError(
            f"font '{CJK_FAMILY}' not found; install it with 'apt-get install fonts-noto-cjk' "
            "(make install does this as root)"
        ) from exc


@contextlib.contextmanager
def theme_context() -> Iterator[None]:
    """Apply the house style to figures created inside the block; restore rcParams after."""
    ensure_cjk_font()
    interactive = mpl.is_interactive()
    try:
        with mpl.rc_context(RC):
            yield
            # a backend chosen inside the block (Jupyter's inline one) may switch interactive
            # mode on; rc_context would switch it back off and the session's figures stop
            # showing, so the state after the block wins
            interactive = mpl.is_interactive()
    finally:
        mpl.interactive(interactive)


def yi(value_cny: float) -> float:
    """Convert yuan to 亿元 (1e8 yuan)."""
    return value_cny / 1e8


def fmt_yuan(value_cny: float) -> str:
    """Format a yuan amount for a label: 亿元 above 1e8, 万元 above 1e4, else yuan."""
    a = abs(value_cny)
    if a >= 1e8:
        return f"{value_cny / 1e8:,.1f} 亿元"
    if a >= 1e4:
        return f"{value_cny / 1e4:,.1f} 万元"
    return f"{value_cny:,.0f} 元"


def fmt_pct(fraction: float, digits: int = 1, signed: bool = False) -> str:
    """Format a fraction (0.1234) as a percent string ('12.3%')."""
    sign = "+" if signed else ""
    return f"{fraction * 100:{sign}.{digits}f}%"


#: Characters of 7.5 pt footer text per inch of figure width, a little under the measured mean
#: so that a line never outruns the figure. Wrapping here, once, replaces matplotlib's
#: ``wrap=True``, which measured the footer word by word at every draw (~3 s of 10 s of
#: figure saving in ``wb uplift`` at full scale).
FOOTER_CHARS_PER_INCH = 17


def footer_text(width_in: float, source: str, simulated: bool = False) -> str:
    """The footer as drawn under a figure ``width_in`` inches wide: ``来源 Source: …`` (after the
    simulated mark for simulated data), wrapped to the width; ids are never split."""
    text = f"来源 Source: {source}"
    if simulated:
        text = f"{SIMULATED_LABEL} · {text}"
    wrap = textwrap.TextWrapper(
        int(width_in * FOOTER_CHARS_PER_INCH), break_long_words=False, break_on_hyphens=False
    )
    return "\n".join(part for line in text.split("\n") for part in wrap.wrap(line) or [""])


def add_footer(fig: Figure, source: str, simulated: bool = False) -> None:
    """Write the source line under the chart (:func:`footer_text`); for simulated data it starts
    with the simulated mark and is drawn in the warning colour."""
    colour = PALETTE["vermillion"] if simulated else PALETTE["grey"]
    text = footer_text(fig.get_figwidth(), source, simulated)
    fig.text(0.01, 0.005, text, ha="left", va="bottom", fontsize=7.5, color=colour)


def signed(value: float, _pos: object = None) -> str:
    """Tick/label formatter: thousands separators and a sign, with a plain 0."""
    return "0" if round(value) == 0 else f"{value:+,.0f}"


def save_figure(fig: Figure, out_dir: Path | str, stem: str) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg`` in ``out_dir``, each written atomically.

    Returns the two paths. Output is byte-identical for identical figures (fixed SVG hash
    salt, no timestamps in metadata).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        target = out / f"{stem}.{ext}"
        with atomic_path(target) as tmp, mpl.rc_context(SAVE_RC):
            fig.savefig(tmp, format=ext, metadata=meta, bbox_inches="tight")
        paths.append(target)
    return paths


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check that the CJK font resolves.")
    parser.add_argument("--ensure-font", action="store_true", help="rebuild the cache if needed")
    parser.parse_args(argv)
    try:
        path = ensure_cjk_font()
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"CJK font: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
