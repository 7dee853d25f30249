"""SIGINT (Ctrl-C) and SIGTERM as exceptions, so a command stops where it is and its ``finally``
clauses remove what it staged: exit 130 or 143 (128 + the signal's number, README.md).

:func:`signals_raise` is the one handler both uses stand on: ``wb run`` turns the
:class:`Signalled` it raises into a failed run folder (:mod:`wb.run.runner`); the commands that
write one output folder stop with :class:`~wb.errors.RunInterrupted` (:func:`interruptible`,
:func:`wb.door.atomic.staged_dir`).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from wb.errors import RunInterrupted

CAUGHT = (signal.SIGINT, signal.SIGTERM)


class Signalled(BaseException):
    """SIGINT or SIGTERM arrived inside :func:`signals_raise`. A ``BaseException`` (as
    ``KeyboardInterrupt``), so no ``except Exception`` in papermill, nbclient or an engine's
    client swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def signals_raise() -> Iterator[list[int]]:
    """Inside the block the first SIGINT or SIGTERM raises :class:`Signalled`; later ones are
    ignored while the block unwinds (records its failure, removes its staging folders).

    Yields the list of signal numbers received: an engine that checks for signals itself
    (DuckDB stops its query) may raise its own exception in place of :class:`Signalled`.
    Handlers are restored after; outside the main thread nothing is installed.
    """
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        for s in CAUGHT:
            signal.signal(s, signal.SIG_IGN)
        received.append(signum)
        raise Signalled(signum)

    try:
        saved = {s: signal.signal(s, handler) for s in CAUGHT}
    except ValueError:  # not the main thread
        yield received
        return
    try:
        yield received
    finally:
        for s, previous in saved.items():
            signal.signal(s, previous)


@contextlib.contextmanager
def interruptible(what: str) -> Iterator[None]:
    """SIGINT or SIGTERM during the block stop it with :class:`~wb.errors.RunInterrupted`
    ("``what`` interrupted by SIGTERM; nothing written"): exit 130 or 143. The engine's own
    interrupt (an exception raised after the signal arrived) counts as the signal that caused
    it; a ``KeyboardInterrupt`` raised otherwise counts as SIGINT."""
    with signals_raise() as received:
        try:
            yield
        except (Signalled, KeyboardInterrupt, Exception) as exc:
            if not received and not isinstance(exc, KeyboardInterrupt):
                raise
            signum = received[0] if received else signal.SIGINT
            name = signal.Signals(signum).name
            raise RunInterrupted(f"{what} interrupted by {name}; nothing written", signum) from exc
