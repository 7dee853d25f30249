"""Progress of long steps on stderr (the warehouse build and validation, the customer and the
RM-level uplift analyses): a bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO


class Progress:
    """Counts named steps; records each step's wall time in seconds (``timings``).

    On a terminal a tqdm bar shows the step running; otherwise each step prints one line when
    it starts and one with its time when it ends, so logs of scheduled runs stay readable.
    ``quiet`` prints nothing (timings are still kept).
    """

    def __init__(
        self, total: int, *, label: str = "warehouse", stream: TextIO | None = None, quiet=False
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.quiet = quiet
        self.timings: dict[str, float] = {}
        self._bar = None
        if not quiet and _isatty(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc=label, file=self.stream, leave=False, dynamic_ncols=True
            )

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as step ``name`` and report it."""
        start = time.perf_counter()
        if self._bar is not None:
            self._bar.set_description(f"{self.label}: {name}")
        elif not self.quiet:
            print(f"{self.label}: {name} ...", file=self.stream, flush=True)
        yield
        seconds = time.perf_counter() - start
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)
        if self._bar is not None:
            self._bar.update(1)
        elif not self.quiet:
            print(f"{self.label}: {name}: {seconds:.1f} s", file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar (plain mode has nothing to close)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
