"""What the brief shows (:class:`Context`), assembled from the params and the artifacts the
run's notebooks wrote: each artifact read and checked against its schema, its figures on disk,
the sections filled (:mod:`wb.run.brief_sections`), the findings chosen, the logo placed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wb.banks import comparison
from wb.banks.finding import COVERAGE
from wb.errors import ExportError, InputError
from wb.plots.theme import SIMULATED_LABEL
from wb.run.brief_sections import (
    SECTION_FILES,
    UPLIFT_FIGURES,
    CustomerUplift,
    Figure,
    bank_section,
    cited_ids,
    sources_section,
    uplift_section,
)
from wb.uplift.schema import validate_document


def load_customer_uplift(folder: Path, artifacts_dir: Path) -> CustomerUplift:
    """Read and check the customer-level uplift a run wrote into ``folder`` (inside
    ``artifacts_dir``); raise :class:`ExportError` if its document or paths figure is unusable."""
    from wb.plots.customer_uplift import PATHS_STEM
    from wb.warehouse.uplift_result import load

    try:
        doc = load(folder)
    except InputError as exc:
        raise ExportError(str(exc)) from exc
    missing = [
        f"{PATHS_STEM}.{ext}"
        for ext in ("png", "svg")
        if not (folder / f"{PATHS_STEM}.{ext}").is_file()
    ]
    if missing:
        raise ExportError(f"customer uplift: expected figures not written: {', '.join(missing)}")
    figure = (folder / f"{PATHS_STEM}.png").relative_to(artifacts_dir).as_posix()
    return CustomerUplift(doc, figure)


@dataclass
class Context:
    """Everything the template shows."""

    title: str
    subtitle: str | None
    organisation: str | None
    period: str
    date: str
    created: str
    logo: str | None
    findings: list[dict[str, Any]] = field(default_factory=list)
    bank: dict[str, Any] | None = None
    uplift: dict[str, Any] | None = None
    limits: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    any_simulated: bool = False
    assets: str = "artifacts"
    simulated_label: str = SIMULATED_LABEL


def figure_stems(section: str, artifact: dict[str, Any]) -> list[str]:
    """Stems of the figures a section's notebook must have written (PNG and SVG each)."""
    if section == "uplift":
        return [f["stem"] for f in artifact.get("figures", [])] or list(UPLIFT_FIGURES)
    return [f["stem"] for f in artifact.get("figures", [])]


def load_artifact(section: str, folder: Path) -> dict[str, Any]:
    """Read and check the artifact of one section; raise :class:`ExportError` if unusable."""
    path = folder / SECTION_FILES[section]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ExportError(f"{path.name} was not written by the {section} notebook") from exc
    except ValueError as exc:
        raise ExportError(f"{path.name}: not valid JSON ({exc})") from exc
    if section == "uplift":
        validate_document(data, path.name)
    else:  # the committed schema bank_comparison.json is written against
        comparison.DOCUMENT.check(data, path.name)
    missing = [
        f"{stem}.{ext}"
        for stem in figure_stems(section, data)
        for ext in ("png", "svg")
        if not (folder / f"{stem}.{ext}").is_file()
    ]
    if missing:
        raise ExportError(f"{section}: expected figures not written: {', '.join(missing)}")
    return data


def _figure_of(text_en: str, figures: list[Figure]) -> int | None:
    """The number of the figure whose title is this finding (its English sentence), if any."""
    flat = " ".join(text_en.split())
    return next((f.number for f in figures if flat in " ".join(f.caption.split())), None)


#: The name a logo file gets in the run folder (with its suffix): the renderer reads only
#: files inside the run folder, and the logo's own file name stays out of the brief.
LOGO_STEM = "logo"


def logo_src(logo: str | None) -> str | None:
    """Where the brief's ``<img>`` points: a local logo (an absolute path, from the params) by
    its copy in the run folder (:data:`LOGO_STEM`), a URL as given (the renderer decides)."""
    if logo is None or not logo.startswith("/"):
        return logo
    return LOGO_STEM + Path(logo).suffix.lower()


def build_context(
    params: Any,
    artifacts: dict[str, dict[str, Any]],
    simulated: set[str],
    source_date_epoch: int,
    customer_uplift: CustomerUplift | None = None,
) -> Context:
    """Assemble what the template shows from the params and the artifacts of the run.

    Parameters
    ----------
    params : wb.run.params.RunParams
        The resolved params (title, period, brief options).
    artifacts : dict
        Section name → artifact data, for the sections that ran.
    simulated : set of str
        Sections whose input the params call simulated. A section whose artifact says its data
        are simulated (``data.simulated``: the file carried the ``wb simulate`` stamp), and the
        uplift section when its customer-level document does, are simulated too.
    source_date_epoch : int
        The brief's date, seconds since 1970 (UTC).
    customer_uplift : CustomerUplift, optional
        The customer-level uplift of the uplift section's warehouse data, shown under its add
        quality.
    """
    day = datetime.fromtimestamp(source_date_epoch, UTC)
    brief = params.brief
    simulated = simulated | {s for s, a in artifacts.items() if a.get("data", {}).get("simulated")}
    if customer_uplift is not None and customer_uplift.doc["simulated"]:
        simulated = simulated | {"uplift"}
    ctx = Context(
        title=brief.title,
        subtitle=brief.subtitle,
        organisation=brief.organisation,
        period=params.period,
        date=f"{day.year}年{day.month}月{day.day}日",
        created=day.strftime("%Y-%m-%dT%H:%M:%SZ"),
        logo=logo_src(brief.logo),
        any_simulated=bool(simulated & set(artifacts)),
    )
    number = 1
    if "bank_comparison" in artifacts:
        ctx.bank = bank_section(artifacts["bank_comparison"], number, brief.bank_figures)
        number += len(ctx.bank["figures"])
        ctx.limits += ctx.bank["model"].get("limits", [])
    if "uplift" in artifacts:
        ctx.uplift = uplift_section(
            artifacts["uplift"], number, "uplift" in simulated, customer_uplift
        )
    found = ctx.bank["model"]["findings"] if ctx.bank else []
    # data coverage says what is known, not what happened: a footnote, not a finding
    bank_findings = [
        {
            "text": f["zh"],
            "en": f["en"],
            "simulated": False,
            "figure": _figure_of(f["en"], ctx.bank["figures"]),
        }
        for f in found
        if f.get("kind") != COVERAGE
    ]
    in_box = 2 if ctx.uplift else 3
    ctx.findings = bank_findings[:in_box]
    if ctx.uplift:
        verdict = {
            "text": ctx.uplift["verdict"],
            "en": ctx.uplift["verdict_en"],
            "simulated": ctx.uplift["simulated"],
            "figure": ctx.uplift["figure"].number,
        }
        ctx.findings.append(verdict)
    if ctx.bank:
        # a finding that already titles a figure in the brief is not repeated in words
        ctx.bank["more"] = [f for f in bank_findings[in_box:] if f["figure"] is None]
        ctx.bank["coverage"] = [
            {"text": f["zh"], "en": f["en"]} for f in found if f.get("kind") == COVERAGE
        ]
        shown = [found, ctx.bank["news"]]
        ctx.sources = sources_section(cited_ids(shown), ctx.bank["model"])
    return ctx
