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
import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import matplotlib as mpl
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from wb.door import provenance
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

#: The brief's page: A4 width and its left and right margins, in mm (the CSS reads them here).
PAGE_WIDTH_MM = 210
PAGE_MARGIN_MM = 16
#: The width every figure is drawn at, in inches: the brief's text width (178 mm), so a
#: figure prints at 100% and its fonts at their drawn size.
PRINT_WIDTH_IN = (PAGE_WIDTH_MM - 2 * PAGE_MARGIN_MM) / 25.4
#: The smallest font a figure may print, in points (tests/plots/test_print_width.py holds every
#: figure to it; the brief checks its PDF).
MIN_FONT_PT = 7.0
#: PNG resolution, dots per inch: sharp on paper at 100%.
PNG_DPI = 200
#: The PNG text chunk that records a figure's smallest font as drawn, in points.
SMALLEST_FONT_KEY = "wb:smallest-font-pt"

#: Marks every figure and page made from simulated data.
SIMULATED_LABEL = provenance.LABEL

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
SAVE_RC = {
    "svg.hashsalt": "wb",
    "text.parse_math": False,
    "text.usetex": False,
    "savefig.dpi": PNG_DPI,
}


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


#: Characters of 7.5 pt Latin text per inch of figure width, a little under the measured mean
#: so that a line never outruns the figure; a CJK character counts as two. Wrapping here, once,
#: replaces matplotlib's ``wrap=True``, which measured the footer word by word at every draw
#: (~3 s of 10 s of figure saving in ``wb uplift`` at full scale).
FOOTER_CHARS_PER_INCH = 17
#: Pieces a line may break after: a number with its Chinese unit (``(-3.7 万元,``), a run of Latin text
#: with its trailing spaces, or one wide (CJK) character with any punctuation that must stay
#: with it (CJK text breaks between any two characters).
_PIECES = re.compile(
    r"[(\[]?[-+−]?\d[\d,.]* ?(?:万元|亿元|元|万|亿|天|个月|月|年)[^ \u2e80-\u9fff\uff00-\uffef]* *"
    r"|[^ \u2e80-\u9fff\uff00-\uffef]+[、，；：。）]* *| +|[\u2e80-\u9fff\uff00-\uffef][、，；：。）):,;.!?]*"
)


def text_columns(text: str) -> int:
    """Width of ``text`` in Latin character widths: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap_print(text: str, width_in: float, size_pt: float = 7.5) -> list[str]:
    """``text`` wrapped into lines that fit ``width_in`` inches at ``size_pt`` points (Latin
    and CJK measured apart); breaks at spaces and between Chinese characters, never inside a
    Latin word, a number or an id. Existing line breaks are kept."""
    limit = max(int(width_in * FOOTER_CHARS_PER_INCH * 7.5 / size_pt), 10)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in _PIECES.findall(paragraph):
            if line and text_columns(line + piece.rstrip()) > limit:
                lines.append(line.rstrip())
                line = ""
            line += piece
        lines.append(line.rstrip())
    return lines


def footer_text(width_in: float, source: str, simulated: bool = False) -> str:
    """The footer as drawn under a figure ``width_in`` inches wide: ``来源 Source: …`` (after the
    simulated mark for simulated data), wrapped to the width; ids are never split."""
    text = f"来源 Source: {source}"
    if simulated:
        text = f"{SIMULATED_LABEL} · {text}"
    return "\n".join(wrap_print(text, width_in))


def add_footer(fig: Figure, source: str, simulated: bool = False) -> Text:
    """Write the source line under the chart (:func:`footer_text`); for simulated data it starts
    with the simulated mark and is drawn in the warning colour."""
    colour = PALETTE["vermillion"] if simulated else PALETTE["grey"]
    text = footer_text(fig.get_figwidth(), source, simulated)
    return fig.text(0.01, 0.005, text, ha="left", va="bottom", fontsize=7.5, color=colour)


def signed(value: float, _pos: object = None) -> str:
    """Tick/label formatter: thousands separators and a sign, with a plain 0."""
    return "0" if round(value) == 0 else f"{value:+,.0f}"


def smallest_font_pt(fig: Figure, *, drawn: bool = False) -> float:
    """The smallest font size, in points, of any visible non-empty text in ``fig`` (titles,
    labels, tick labels, legends, annotations, footers) as drawn; ``drawn`` when the figure
    has been drawn since its last change (its tick labels exist), else it is laid out here."""
    if not drawn:
        fig.draw_without_rendering()  # tick labels exist once the figure is laid out
    sizes = [
        text.get_fontsize()
        for text in fig.findobj(Text)
        if text.get_visible() and text.get_text().strip() and text.get_alpha() != 0
    ]
    return float(min(sizes, default=MIN_FONT_PT))


def save_figure(fig: Figure, out_dir: Path | str, stem: str) -> list[Path]:
    """Save ``fig`` as ``stem.png`` (:data:`PNG_DPI`, its smallest font in the text chunk
    :data:`SMALLEST_FONT_KEY`) and ``stem.svg`` in ``out_dir``, each written atomically.

    Returns the two paths (PNG, SVG). Output is byte-identical for identical figures (fixed SVG
    hash salt, no timestamps in metadata). The SVG is drawn first: its drawing lays the figure
    out, so the smallest font is read without another draw.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    with mpl.rc_context(SAVE_RC):
        with atomic_path(svg) as tmp:
            fig.savefig(
                tmp, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight"
            )
        png_meta = {"Software": None, SMALLEST_FONT_KEY: f"{smallest_font_pt(fig, drawn=True):.2f}"}
        with atomic_path(png) as tmp:
            fig.savefig(tmp, format="png", metadata=png_meta, bbox_inches="tight")
    return [png, svg]


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
