"""Exceptions that map to the exit codes of the contract (CONTRACT.md §2).

Every command exits 0 on success, 1 on a bug, 2 on invalid input, arguments or params,
3 when a notebook cell raised, 4 on a timeout, 5 when the kernel died, 6 when an export
failed and 75 when another run holds the lock.
"""

from __future__ import annotations


class WbError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = 1


class InputError(WbError):
    """Invalid input file, arguments or params (exit 2)."""

    exit_code = 2


class NotBuiltError(WbError):
    """A command that is registered but not built yet (exit 1)."""

    exit_code = 1


class ExportError(WbError):
    """Figures, fonts or PDF checks failed (exit 6)."""

    exit_code = 6
