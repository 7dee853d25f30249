"""Progress of long steps (the warehouse build and validation, the customer and the RM-level
uplift analyses): one updating line in a Jupyter notebook, a bar on a terminal, plain lines on
stderr otherwise."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from IPython.display import DisplayHandle


class Progress:
    """Counts named steps; records each step's wall time in seconds (``timings``).

    In a Jupyter kernel (no ``stream`` given) one output line shows the step running and, at
    the end, every step's time; on a terminal a tqdm bar shows the step running; otherwise each
    step prints one line when it starts and one with its time when it ends, so logs stay
    readable. ``quiet`` prints nothing (timings are still kept).
    """

    def __init__(
        self, total: int, *, label: str = "warehouse", stream: TextIO | None = None, quiet=False
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.quiet = quiet
        self.total = total
        self.timings: dict[str, float] = {}
        self._bar = None
        self._line = None if quiet or stream is not None else _notebook_line()
        if not quiet and self._line is None and _isatty(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=label, file=self.stream, leave=False, dynamic_ncols=True
            )

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step ``name`` and report it."""
        start = time.perf_counter()
        if self._line is not None:
            done = len(self.timings)
            self._line.update(
                {"text/plain": f"{self.label}: {name} … (step {done + 1} of {self.total})"},
                raw=True,
            )
        elif self._bar is not None:
            self._bar.set_description(f"{self.label}: {name}")
        elif not self.quiet:
            print(f"{self.label}: {name} ...", file=self.stream, flush=True)
        yield
        seconds = time.perf_counter() - start
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)
        if self._bar is not None:
            self._bar.update(1)
        elif not self.quiet and self._line is None:
            print(f"{self.label}: {name}: {seconds:.1f} s", file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar; in a notebook, leave the line with each step's time in seconds
        (plain mode has nothing to close)."""
        if self._line is not None:
            steps = " · ".join(f"{name} {seconds:.1f} s" for name, seconds in self.timings.items())
            total = sum(self.timings.values())
            self._line.update({"text/plain": f"{self.label}: {total:.1f} s ({steps})"}, raw=True)
            self._line = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _notebook_line() -> DisplayHandle | None:
    """An empty output line that can be updated in place, when running in a Jupyter kernel
    (IPython with a kernel: JupyterLab, papermill); else ``None``."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        return None
    from IPython.display import display

    return display({"text/plain": ""}, raw=True, display_id=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
