"""Atomic writes: a file is written to a temporary file in its folder, then renamed over the
target; an output folder is written into a hidden sibling, then swapped in
(:func:`staged_dir`, the one home of ``--out`` folders: ``wb warehouse build``, ``wb warehouse
uplift``, ``wb simulate --level customer``).

An interrupted write leaves the previous file or folder (or none), never a half-written one. Every
file ``wb`` writes gets one mode (:func:`file_mode`): readable by the group that runs the
schedule, never writable by others. JSON is written strict: a NaN or an infinity is refused,
never written as the non-standard ``NaN``/``Infinity`` tokens.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wb.door.interrupts import interruptible
from wb.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of every file ``wb`` writes: 0666 less the umask, group-readable, not world-writable."""
    return (0o666 & ~_umask() | 0o040) & ~0o002


def dir_mode() -> int:
    """Mode of every folder ``wb`` makes: 0777 less the umask, group-readable and -searchable,
    not world-writable."""
    return (0o777 & ~_umask() | 0o050) & ~0o002


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The file gets :func:`file_mode`, not mkstemp's 0600. On an exception the temporary file is
    removed and ``target`` is untouched.
    """
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def replace_dir(staging: Path, target: Path) -> None:
    """Rename the folder ``staging`` onto ``target`` (siblings, so the rename is atomic). An
    earlier ``target`` is moved aside first and removed after; if the rename fails it is put
    back, so ``target`` is always the old folder or the new one, never a mix."""
    if not target.exists():
        os.replace(staging, target)
        return
    trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, trash)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(trash, target)
        raise
    shutil.rmtree(trash, ignore_errors=True)


def check_out(target: str | os.PathLike[str], marker: str, kind: str) -> Path:
    """``target`` as a path when an output folder of ``kind`` (e.g. ``"build"``) may be
    written there: missing, an empty folder or an earlier ``kind`` (a folder holding
    ``marker``), and not under a file; its parent folder is created. Else raise
    :class:`InputError` (exit 2) and write nothing."""
    path = Path(target)
    if path.exists() and not (
        path.is_dir() and ((path / marker).is_file() or not any(path.iterdir()))
    ):
        raise InputError(f"--out {path}: exists and is not an earlier {kind}; choose a new folder")
    above = next((p for p in path.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise InputError(f"--out {path}: a folder under a file; choose a folder path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {path}: cannot create its parent folder ({exc.strerror})") from exc
    return path


@contextlib.contextmanager
def sibling_dir(target: Path, stage: str) -> Iterator[Path]:
    """Yield a new empty hidden folder beside ``target`` (``.<name>.<stage>-<pid>-<random>``),
    removed with its contents however the block ends."""
    folder = target.parent / f".{target.name}.{stage}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def staged_dir(
    target: str | os.PathLike[str], marker: str, kind: str, stage: str = "staging"
) -> Iterator[Path]:
    """Yield a new empty folder beside ``target`` to write a whole output folder of ``kind``
    into; when the block ends without an exception, rename it onto ``target``
    (:func:`replace_dir`), else keep the earlier ``target``. The staging folder
    (:func:`sibling_dir`) is removed however the block ends; SIGINT or SIGTERM during the
    block stop it with :class:`~wb.errors.RunInterrupted`, exit 130 or 143
    (:func:`wb.door.interrupts.interruptible`).

    ``target`` is checked first (:func:`check_out`): missing, empty or an earlier ``kind``
    holding ``marker``; anything else raises :class:`InputError` (exit 2), nothing written.
    """
    path = check_out(target, marker, kind)
    with sibling_dir(path, stage) as staging, interruptible(f"the {kind}"):
        yield staging
        replace_dir(staging, path)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text to ``target`` atomically; return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def json_text(data: Any, *, sort_keys: bool = False) -> str:
    """Strict JSON text (UTF-8 characters kept, two-space indent, final newline).

    Raises :class:`ValueError` naming the first non-finite number's place: every number ``wb``
    writes must be finite (a quantity it cannot estimate is ``null`` with a reason).
    """
    try:
        return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=sort_keys, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"not finite: {_first_non_finite(data) or '?'} ({exc})") from exc


def _first_non_finite(node: Any, where: str = "") -> str | None:
    """The dotted place of the first NaN or infinity in ``node``, else ``None``."""
    if isinstance(node, float):
        return None if math.isfinite(node) else (where or "(top level)")
    if isinstance(node, dict):
        pairs = node.items()
    elif isinstance(node, list | tuple):
        pairs = enumerate(node)
    else:
        return None
    for key, value in pairs:
        if found := _first_non_finite(value, f"{where}.{key}" if where else str(key)):
            return found
    return None


def write_json(data: Any, target: str | os.PathLike[str], *, sort_keys: bool = False) -> Path:
    """Write ``data`` as strict JSON (:func:`json_text`) to ``target`` atomically."""
    return write_text(target, json_text(data, sort_keys=sort_keys) + "\n")


def writable_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Check that ``path`` is, or can become, a folder ``wb`` may write into; make nothing.

    Raises :class:`InputError` (exit 2) for a filesystem root, a file, or a folder that cannot
    be written (read-only, permission denied): the nearest existing folder on the way gets a
    probe file, removed at once.
    """
    p = Path(path)
    resolved = p.resolve()
    if resolved == Path(resolved.anchor):
        raise InputError(f"{option} {p}: the filesystem root; give a folder of its own")
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{option} {p}: {existing} exists and is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".wb-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{option} {p}: cannot write there ({exc.strerror or exc})") from exc
    return p


def writable_file(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Make sure ``path`` can be written as a file (not a folder; its folder writable)."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {p}: is a folder; give a file name")
    writable_dir(p.parent, option=f"{option} {p}: its folder")
    return p
