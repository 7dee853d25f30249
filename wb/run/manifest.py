"""What produced a run: hashes, versions, the skip-unchanged key and ``manifest.json``.

The manifest answers "what produced this PDF?" (docs/operations.md): params and their hash, data
files with their hashes, the code version (package version, git commit, dirty flag, package
versions), start and end times, each notebook's status and duration, every output's sha256,
the ``SOURCE_DATE_EPOCH`` used and the exit code.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import wb
from wb.door import atomic

SCHEMA = "wb.manifest/1"
MANIFEST = "manifest.json"
#: Packages whose versions change what a run produces.
PACKAGES = (
    "wb",
    "papermill",
    "nbclient",
    "ipykernel",
    "numpy",
    "pandas",
    "statsmodels",
    "pyfixest",
    "matplotlib",
    "weasyprint",
    "jinja2",
    "pydantic",
)
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(files: Iterable[Path], root: Path) -> str:
    """One sha256 over several files: their paths relative to ``root`` and their bytes."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(bytes.fromhex(sha256_file(path)))
    return digest.hexdigest()


def package_source_hash() -> str:
    """sha256 of the ``wb`` package source: modules, templates and resources."""
    root = Path(wb.__file__).parent
    files = [
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    return sha256_tree(files, root)


def versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape a run (``None`` when absent)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(root: Path | None) -> dict[str, Any]:
    """The git commit of ``root`` and whether the tree has uncommitted changes (``None``: none)."""
    if root is None:
        return {"commit": None, "dirty": None}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def run_key(parts: dict[str, str]) -> str:
    """The skip-unchanged key: sha256 over named hashes (params, data, notebooks, code, lock)."""
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def outputs(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file in a run folder (but the manifest), with its size and sha256."""
    return {
        str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def write_json(data: Any, path: Path) -> Path:
    """Write strict JSON atomically, UTF-8, sorted keys (:func:`wb.door.atomic.write_json`)."""
    return atomic.write_json(data, path, sort_keys=True)


def read(folder: Path) -> dict[str, Any] | None:
    """The manifest of a run folder, or ``None`` when it has none or it is unreadable."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
