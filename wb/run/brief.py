"""The PDF brief: run artifacts → ``brief.html`` (a wb-owned Jinja2 template) → ``brief.pdf``.

The brief is written for a reader who reads nothing else: title, period and date, three
findings with numbers, the bank comparison charts, the uplift verdict and forest plot (marked
as simulated when the export came from ``wb simulate``), what the data cannot say, the sources
and a methods note. It is filled from the artifacts notebooks write (never from notebook
cells), so no code can reach it. A section whose notebook was not part of the run shows "not
run in this brief".

This module renders and checks it: the template filled (:func:`render_html`), the PDF written
(:func:`write_pdf`), its fonts, title and printed figures checked (:func:`check_pdf`,
:func:`check_figures`). What it shows is assembled by :mod:`wb.run.brief_context` from the
sections of :mod:`wb.run.brief_sections`.

Rendering is offline: WeasyPrint may read ``file:`` URLs inside the run folder and ``data:``
URLs, nothing else; any other reference stops the render (exit 6). Output is byte-identical
for identical inputs and ``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wb.door.privacy import redact
from wb.errors import ExportError
from wb.plots.theme import (
    CJK_FAMILY,
    MIN_FONT_PT,
    PAGE_MARGIN_MM,
    PAGE_WIDTH_MM,
    PNG_DPI,
    SMALLEST_FONT_KEY,
)
from wb.run.brief_context import Context, build_context, load_artifact, load_customer_uplift


def render_html(ctx: Context) -> str:
    """Fill the brief template (autoescaped; artifact text cannot inject markup)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("wb.run", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("brief.html.j2").render(
        ctx=ctx, cjk=CJK_FAMILY, margin_mm=PAGE_MARGIN_MM
    )


#: The base URL the PDF is rendered under. WeasyPrint names images by a hash of their URL, so
#: a fixed base (mapped to the real folder by the fetcher) keeps the PDF byte-identical
#: whichever folder it was rendered in.
BASE_URL = "file:///wb-run/"


def _fetcher(root: Path):
    """A WeasyPrint URL fetcher that reads only ``data:`` and files inside ``root``.

    The scheme is compared case-insensitively (``FILE:`` is ``file:``), and the check covers
    every fetch, including the images a ``data:`` SVG document refers to. A refused URL raises
    :class:`~weasyprint.urls.FatalURLFetchingError` and is kept in ``refused``: WeasyPrint
    swallows every error while drawing an SVG, so :func:`write_pdf` checks that list too."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class OfflineFetcher(URLFetcher):
        refused: list[str]

        def _refuse(self, why: str) -> FatalURLFetchingError:
            self.refused.append(why)
            return FatalURLFetchingError(why)

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme != "file":
                raise self._refuse(
                    f"{redact(url)}: only data: URLs and files inside the run folder are read"
                )
            if url.lower().startswith(BASE_URL):
                relative = url2pathname(url[len(BASE_URL) :].split("?")[0])
                target = (root / relative).resolve()
            else:
                target = Path(url2pathname(parts.path)).resolve()
            if parts.netloc or not target.is_relative_to(root):
                raise self._refuse(f"{redact(url)}: a file outside the run folder")
            return super().fetch(target.as_uri(), headers)

    fetcher = OfflineFetcher(allowed_protocols={"file", "data"}, fail_on_errors=True)
    fetcher.refused = []
    return fetcher


def write_pdf(html: str, folder: Path, target: Path) -> Path:
    """Render ``html`` (relative URLs resolve in ``folder``) to ``target`` with WeasyPrint.

    Raises :class:`ExportError` (exit 6), leaving no PDF, when the HTML or any document it
    embeds (a ``data:`` SVG) references anything but ``data:`` or files inside ``folder``: the
    render never touches the network nor reads outside the run folder.
    """
    import weasyprint
    from weasyprint.urls import FatalURLFetchingError

    fetcher = _fetcher(folder.resolve())
    try:
        weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf(target)
    except FatalURLFetchingError as exc:  # a BaseException: `except Exception` misses it
        cause = exc.__cause__ or exc
        raise ExportError(f"brief refused a resource (offline render): {cause}") from exc
    if fetcher.refused:
        target.unlink(missing_ok=True)
        raise ExportError(f"brief refused a resource (offline render): {fetcher.refused[0]}")
    return target


def _tool(name: str, *args: str) -> str:
    if shutil.which(name) is None:
        raise ExportError(f"{name} not found; install poppler-utils (make install does this)")
    done = subprocess.run([name, *args], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise ExportError(f"{name} failed on the brief: {done.stderr.strip()[:200]}")
    return done.stdout


def embedded_fonts(pdf: Path) -> dict[str, bool]:
    """Font name → embedded?, as ``pdffonts`` lists them."""
    lines = _tool("pdffonts", str(pdf)).splitlines()
    if len(lines) < 2:
        return {}
    starts, pos = [], 0
    for dashes in lines[1].split(" "):
        starts.append(pos)
        pos += len(dashes) + 1
    emb = slice(starts[3], starts[4])
    return {line[: starts[1]].strip(): line[emb].strip() == "yes" for line in lines[2:]}


@dataclass(frozen=True)
class PrintedFigure:
    """How one figure of the brief prints: its file, page, printed width (mm) and smallest
    font at that width (points)."""

    src: str
    page: int
    width_mm: float
    smallest_font_pt: float


def printed_figures(pdf: Path, html: str, folder: Path) -> list[PrintedFigure]:
    """Measure every figure of the brief in the PDF: ``pdfimages -list`` gives each image's
    pixels and printed resolution, the PNG (``folder``-relative ``src`` in ``html``) its
    smallest font as drawn (:data:`~wb.plots.theme.SMALLEST_FONT_KEY`) at :data:`PNG_DPI`;
    printed font = drawn font × printed width / drawn width."""
    from PIL import Image

    rows = [line.split() for line in _tool("pdfimages", "-list", str(pdf)).splitlines()[2:]]
    images = [r for r in rows if len(r) > 13 and r[2] == "image"]
    measured = []
    for src in re.findall(r'<figure>\s*<img src="([^"]+)"', html):
        with Image.open(folder / src) as png:
            (width_px, height_px), drawn_pt = png.size, float(png.text.get(SMALLEST_FONT_KEY, 0))
        match = next((r for r in images if (int(r[3]), int(r[4])) == (width_px, height_px)), None)
        if match is None:
            raise ExportError(f"{pdf.name}: figure {Path(src).name} is not in the PDF")
        images.remove(match)
        printed_in = width_px / float(match[12])
        scale = printed_in / (width_px / PNG_DPI)
        measured.append(PrintedFigure(src, int(match[0]), printed_in * 25.4, drawn_pt * scale))
    return measured


def check_figures(figures: list[PrintedFigure], pdf_name: str) -> None:
    """Every figure prints at the text width (±2%) with no font under
    :data:`~wb.plots.theme.MIN_FONT_PT`; raises :class:`ExportError` (exit 6) otherwise."""
    text_mm = PAGE_WIDTH_MM - 2 * PAGE_MARGIN_MM
    for fig in figures:
        name = Path(fig.src).name
        if abs(fig.width_mm - text_mm) > 0.02 * text_mm:
            raise ExportError(
                f"{pdf_name}: {name} prints {fig.width_mm:.0f} mm wide; the text is {text_mm} mm"
            )
        if fig.smallest_font_pt < MIN_FONT_PT - 0.05:
            raise ExportError(
                f"{pdf_name}: {name} prints text at {fig.smallest_font_pt:.1f} pt on page "
                f"{fig.page}; the least legible on paper is {MIN_FONT_PT:g} pt"
            )


def check_pdf(pdf: Path, title: str) -> None:
    """Check the PDF a reader gets: Noto Sans CJK SC embedded, every font embedded, the title
    in its text. Raises :class:`ExportError` (exit 6) otherwise."""
    fonts = embedded_fonts(pdf)
    if not any("notosanscjksc" in name.lower().replace("-", "") for name in fonts):
        raise ExportError(f"{pdf.name}: Noto Sans CJK SC is not embedded (Chinese would not show)")
    loose = [name for name, embedded in fonts.items() if not embedded]
    if loose:
        raise ExportError(f"{pdf.name}: fonts not embedded: {', '.join(loose)}")
    text = " ".join(_tool("pdftotext", str(pdf), "-").split())
    if " ".join(title.split()) not in text:
        raise ExportError(f"{pdf.name}: the title {title!r} is not in the PDF text")


def build(
    params: Any,
    folder: Path,
    artifacts_dir: Path,
    simulated: set[str],
    source_date_epoch: int,
    customer_uplift: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``brief.html`` and ``brief.pdf`` into ``folder`` and check the PDF.

    Every section named in the params must have written its artifact and figures into
    ``artifacts_dir`` (else :class:`ExportError`); so must the customer-level uplift in
    ``customer_uplift`` (a folder inside ``artifacts_dir``) when given.
    """
    sections = [nb.section for nb in params.notebooks]
    artifacts = {s: load_artifact(s, artifacts_dir) for s in sections}
    customer = load_customer_uplift(customer_uplift, artifacts_dir) if customer_uplift else None
    ctx = build_context(params, artifacts, simulated, source_date_epoch, customer)
    if ctx.logo is not None and ctx.logo != params.brief.logo:  # a local logo: copy it in
        shutil.copyfile(params.brief.logo, folder / ctx.logo)
    ctx.assets = artifacts_dir.relative_to(folder).as_posix()
    html = render_html(ctx)
    html_path = folder / "brief.html"
    html_path.write_text(html, encoding="utf-8")
    pdf = write_pdf(html, folder, folder / "brief.pdf")
    check_pdf(pdf, params.brief.title)
    check_figures(printed_figures(pdf, html, folder), pdf.name)
    return html_path, pdf
