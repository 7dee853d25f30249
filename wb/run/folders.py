"""A run's folders: the out folder that holds the run folders, ``latest``, ``failed/`` and
``.lock``; the lock; staging folders of killed runs; promotion; one mode for every file.

Layout of ``<out>/`` (docs/operations.md): ``<run_id>/`` per finished run, ``latest`` a symlink
to the newest, ``failed/<run_id>/`` per failed run, ``.staging-<run_id>/`` while one runs and
``.lock``, held with ``flock`` by the run in progress.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from wb.door.atomic import dir_mode, file_mode, writable_dir
from wb.errors import InputError, LockedError
from wb.run import manifest

LOCK = ".lock"
LATEST = "latest"
FAILED = "failed"
STAGING = ".staging-"
ARTIFACTS_DIR = "artifacts"

Say = Callable[[str], None]


def check_out(out: Path) -> Path:
    """The run folders' parent, checked before anything runs: a writable folder (not ``/``,
    not a file) whose ``latest`` is absent or a symlink. Raises :class:`InputError` (exit 2)."""
    writable_dir(out)
    latest = out / LATEST
    if latest.exists() and not latest.is_symlink():
        raise InputError(
            f"--out {out}: '{LATEST}' there is a real folder or file; wb keeps a symlink to the "
            "newest run there: move it away and run again"
        )
    return out


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``flock`` on ``<out>/.lock`` for the block; raise :class:`LockedError` if held."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / LOCK).open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockedError(f"another wb run holds {out / LOCK}; try again later") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def salvage_stale(out: Path, say: Say) -> None:
    """Move staging folders left by killed runs (we hold the lock) to ``<out>/failed/``."""
    for stale in sorted(out.glob(f"{STAGING}*")):
        run_id = stale.name.removeprefix(STAGING)
        record = manifest.read(stale) or {"run_id": run_id}
        record.update(status="interrupted", exit_code=None)
        manifest.write_json(record, stale / manifest.MANIFEST)
        target = free_name(out / FAILED, run_id)
        target.parent.mkdir(exist_ok=True)
        os.rename(stale, target)
        say(f"moved the staging folder of an interrupted run to {target}")


def free_name(parent: Path, name: str) -> Path:
    """``parent/name``, or ``parent/name-2``, ... whichever does not exist."""
    candidate, n = parent / name, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = parent / f"{name}-{n}"
    return candidate


def up_to_date(out: Path, key: str) -> Path | None:
    """The ``latest`` run folder when it was made with the same key, else ``None``."""
    latest = out / LATEST
    record = manifest.read(latest) if latest.is_dir() else None
    if record and record.get("status") == "ok" and record.get("run_key") == key:
        return latest.resolve()
    return None


def promote(staging: Path, out: Path, run_id: str) -> Path:
    """Rename the staging folder to ``<out>/<run_id>`` and point ``latest`` at it, atomically."""
    final = out / run_id
    os.rename(staging, final)
    tmp = out / f".{LATEST}-{run_id}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(run_id, tmp)
    os.replace(tmp, out / LATEST)
    return final


def normalise_modes(folder: Path) -> None:
    """Give every file and folder under ``folder`` (and itself) wb's one mode, whichever tool
    wrote it (papermill, WeasyPrint, a notebook's own writer)."""
    for path in (folder, *folder.rglob("*")):
        if not path.is_symlink():
            path.chmod(dir_mode() if path.is_dir() else file_mode())
