"""Look back over run folders: ``wb runs list`` and ``wb runs compare A B``.

Both read only what runs left behind (``manifest.json`` and the artifacts), never notebooks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wb.errors import InputError
from wb.run import manifest
from wb.run.brief_sections import SECTION_FILES
from wb.run.folders import ARTIFACTS_DIR, FAILED, LATEST
from wb.uplift.result import MODELS


@dataclass(frozen=True)
class RunInfo:
    """One row of ``wb runs list``."""

    run_id: str
    period: str
    status: str
    duration_s: float | None
    started: str
    folder: Path
    latest: bool


def list_runs(out: Path) -> list[RunInfo]:
    """Every run folder under ``out`` (promoted and failed), oldest first."""
    latest = (out / LATEST).resolve() if (out / LATEST).is_symlink() else None
    folders = [p for p in out.glob("*") if p.is_dir() and not p.is_symlink()]
    folders += list((out / FAILED).glob("*")) if (out / FAILED).is_dir() else []
    rows = []
    for folder in folders:
        record = manifest.read(folder)
        if record is None or folder.name == FAILED:
            continue
        rows.append(
            RunInfo(
                run_id=record.get("run_id", folder.name),
                period=record.get("period", "?"),
                status=record.get("status", "?"),
                duration_s=record.get("duration_s"),
                started=record.get("started") or "",
                folder=folder,
                latest=folder.resolve() == latest,
            )
        )
    return sorted(rows, key=lambda r: (r.started, r.run_id))


def format_list(rows: list[RunInfo]) -> str:
    """A fixed-width table: id, period, status, duration (``*`` marks ``latest``)."""
    lines = [f"  {'run id':<44} {'period':<10} {'status':<12} {'duration':>9}"]
    for r in rows:
        took = "—" if r.duration_s is None else f"{r.duration_s:.1f} s"
        mark = "*" if r.latest else " "
        lines.append(f"{mark} {r.run_id:<44} {r.period:<10} {r.status:<12} {took:>9}")
    return "\n".join(lines)


def find(out: Path, ref: str) -> Path:
    """A run folder by id (promoted or failed), ``latest``, or a path."""
    for candidate in (out / ref, out / FAILED / ref, Path(ref)):
        if candidate.is_dir() and manifest.read(candidate) is not None:
            return candidate.resolve()
    raise InputError(f"no run '{ref}' under {out} (see 'wb runs list')")


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def key_numbers(folder: Path) -> dict[str, str]:
    """The numbers a reader of the brief sees, by name, as displayed."""
    arts = folder / ARTIFACTS_DIR
    out: dict[str, str] = {}
    bank = _read(arts / SECTION_FILES["bank_comparison"])
    for finding in bank.get("findings", []):
        for n in finding.get("numbers", []):
            name = f"bank · {n.get('bank_id')} {n.get('metric')} {n.get('period')}"
            value = n.get("value")
            out[name] = "—" if value is None else f"{value:,.6g} ({n.get('qualifier', 'exact')})"
    uplift = _read(arts / SECTION_FILES["uplift"])
    for key, model in MODELS.items():
        est = uplift.get("estimates", {}).get(key)
        if est:
            out[f"uplift · {model.label} (yuan/add)"] = (
                f"{est['coef']:,.0f} [{est['ci_low']:,.0f}, {est['ci_high']:,.0f}]"
            )
    if "verdict" in uplift:
        out["uplift · verdict"] = uplift["verdict"].get("code", "?")
    if "n_obs" in uplift:
        out["uplift · RM-months"] = f"{uplift['n_obs']:,}"
    return out


def compare(a: Path, b: Path) -> list[str]:
    """Lines saying which inputs and which key numbers differ between two run folders."""
    ma, mb = manifest.read(a) or {}, manifest.read(b) or {}
    lines = []
    parts_a, parts_b = ma.get("key_parts", {}), mb.get("key_parts", {})
    changed = [k for k in sorted(set(parts_a) | set(parts_b)) if parts_a.get(k) != parts_b.get(k)]
    lines.append(f"inputs changed: {', '.join(changed) if changed else 'none'}")
    na, nb = key_numbers(a), key_numbers(b)
    diffs = [
        f"  {name}: {na.get(name, '—')} → {nb.get(name, '—')}"
        for name in sorted(set(na) | set(nb))
        if na.get(name) != nb.get(name)
    ]
    lines.append(f"key numbers changed: {len(diffs)} of {len(set(na) | set(nb))}")
    return lines + diffs
