"""Exceptions that map to the exit codes of the contract (the exit codes in README.md).

Every command exits 0 on success, 1 on a bug, 2 on invalid input, arguments or params,
3 when a notebook cell raised, 4 on a timeout, 5 when the kernel died, 6 when an export
failed, 75 when another run holds the lock, and 128 + the signal's number (130 for SIGINT,
143 for SIGTERM) when a run was interrupted.
"""

from __future__ import annotations

from typing import Self


class WbError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = 1

    def restated(self, message: str) -> Self:
        """A copy of this error that says ``message`` instead: the same type, exit code and
        attributes (a validation error's ``problems``, a signal's exit code). Its constructor
        is not called, so it works for every subclass whatever the constructor takes; raise it
        ``from`` this error to keep the original in the traceback."""
        copy = type(self).__new__(type(self), message)
        copy.__dict__.update(self.__dict__)
        return copy

    def _render_traceback_(self) -> list[str]:
        """How IPython and JupyterLab show it: one line, its kind and message, not the
        traceback through wb (``%xmode Verbose`` shows the traceback)."""
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and shell.InteractiveTB.mode == "Verbose":
            return shell.InteractiveTB.structured_traceback(type(self), self, self.__traceback__)
        return [f"{type(self).__name__}: {self}"]


class InputError(WbError):
    """Invalid input file, arguments or params (exit 2)."""

    exit_code = 2


class NotIdentified(InputError):
    """The data cannot support an estimate (exit 2 for the contract's estimates). A design
    beyond them that raises it is left out with this message as its reason, and the other
    designs still run."""


class NoNeverTreated(NotIdentified):
    """The design needs RMs never under a quota in every month it uses; a caller may fall back
    to a design without them (bunching's pre/post first stage)."""


class ExportError(WbError):
    """Figures, fonts or PDF checks failed (exit 6)."""

    exit_code = 6


class CellError(WbError):
    """A notebook cell raised (exit 3)."""

    exit_code = 3


class RunTimeoutError(WbError):
    """A notebook cell or the whole run timed out (exit 4)."""

    exit_code = 4


class KernelError(WbError):
    """The kernel died or would not start (exit 5)."""

    exit_code = 5


class LockedError(WbError):
    """Another run holds the lock on the output folder (exit 75)."""

    exit_code = 75


class RunInterrupted(WbError):
    """A run was stopped by a signal: exit 128 + its number (130 SIGINT, 143 SIGTERM)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
