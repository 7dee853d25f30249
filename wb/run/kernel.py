"""The kernel runner of ``wb run``: one notebook executed with papermill in a named kernel
(per-cell timeout, one retry only when the kernel fails to start), its output copied into
``run.log`` with each line capped, its failures mapped to the exit codes of README.md."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from wb.errors import CellError, KernelError, RunTimeoutError
from wb.run.notebook_parameters import read_notebook
from wb.run.params import NotebookSpec, RunParams

#: Longest line of kernel output copied into ``run.log``; the rest of the line is cut.
MAX_LOG_LINE = 10_000

Say = Callable[[str], None]


#: Longest path of a kernel's Unix socket (the system's limit is 107 bytes): a private folder
#: deeper than this keeps TCP.
MAX_SOCKET_PATH = 100


class KnownParameters(logging.Filter):
    """Drops papermill's "Passed unknown parameter" warnings. Papermill's reading of a
    parameters cell skips annotations with ``|`` (``data_path: str | None = None``) and takes
    each such parameter for unknown, so ``run.log`` said so of parameters the notebook does
    declare; wb checks every parameter it passes against the cell before any kernel starts
    (:func:`wb.run.params.load`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


@contextlib.contextmanager
def known_parameters() -> Iterator[None]:
    """Papermill's log without its :class:`KnownParameters` warnings, for the block."""
    known = KnownParameters()
    logging.getLogger("papermill").addFilter(known)
    try:
        yield
    finally:
        logging.getLogger("papermill").removeFilter(known)


def kernel_manager_class() -> type:
    """The kernel manager of a run's notebooks: jupyter_client's, except that it does not
    interrupt a kernel it is about to shut down.

    jupyter_client sends SIGINT before the shutdown request. A notebook that finished is
    idle, and when the signal lands while the kernel handles a message (about one run in
    five), ipykernel writes "ERROR | KeyboardInterrupt caught in kernel" into ``run.log``: an
    error line in the log of a good run. The shutdown request, then SIGTERM and SIGKILL after
    jupyter_client's wait, stop a kernel that is still busy without it."""
    from jupyter_client import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return RunKernelManager


def kernel_config(private: Path) -> Any:
    """The settings (a traitlets ``Config``) of the notebook client and its kernel manager
    for a notebook of a run: the manager of :func:`kernel_manager_class`, and a kernel that
    talks to wb over Unix sockets (``ipc``) in ``private``, the run's own temporary folder,
    not over TCP ports on 127.0.0.1 that any local user can reach (a TCP kernel also writes a
    warning about unencrypted traffic into ``run.log`` for every notebook). Without ``ip``
    jupyter_client would put the sockets in the notebook's working folder, the run's
    ``artifacts/``."""
    from traitlets.config import Config

    config = Config({"NotebookClient": {"kernel_manager_class": kernel_manager_class()}})
    prefix = private / "kernel"
    if len(os.fsencode(prefix)) + len("-65535") <= MAX_SOCKET_PATH:
        config.KernelManager = Config({"transport": "ipc", "ip": str(prefix)})
    return config


def preflight(params: RunParams) -> None:
    """Check the kernel and the CJK font before any folder is made."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    from wb.plots.theme import ensure_cjk_font

    try:
        KernelSpecManager().get_kernel_spec(params.kernel)
    except NoSuchKernel as exc:
        raise KernelError(
            f"kernel '{params.kernel}' is not installed; 'make install' registers 'wb'"
        ) from exc
    ensure_cjk_font()


class CappedLog:
    """A text sink for kernel output that cuts each line after ``max_line`` characters, saying
    how many it cut: a notebook printing a 50 MB cell does not copy it into ``run.log``."""

    def __init__(self, sink: IO[str], max_line: int = MAX_LOG_LINE) -> None:
        self.sink = sink
        self.max_line = max_line
        self.column = 0
        self.cut = 0

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            body = piece.rstrip("\r\n")
            room = max(self.max_line - self.column, 0)
            self.sink.write(body[:room])
            self.column += min(len(body), room)
            self.cut += max(len(body) - room, 0)
            if body != piece:
                if self.cut:
                    self.sink.write(f" … ({self.cut:,} characters cut)")
                self.sink.write("\n")
                self.column = self.cut = 0
        return len(text)

    def flush(self) -> None:
        self.sink.flush()


@contextlib.contextmanager
def stderr_to(log: IO[str]) -> Iterator[None]:
    """Send fd 2 (kernel noise, papermill warnings) to the run log for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def running_cell(path: Path) -> int | None:
    """Position (1-based) of the cell running when execution stopped (papermill metadata);
    ``None`` when no cell started."""
    import nbformat

    if not path.is_file():
        return None
    nb = nbformat.read(path, as_version=4)
    started = [
        i for i, c in enumerate(nb.cells, 1) if c.metadata.get("papermill", {}).get("start_time")
    ]
    return started[-1] if started else None


def as_ipynb(nb: NotebookSpec, folder: Path) -> Path:
    """The notebook of ``nb``'s percent script, written as ``.ipynb`` for papermill into
    ``folder``, the run's private temporary folder (nothing is written beside the script)."""
    import nbformat

    path = folder / f"{nb.name}.ipynb"
    nbformat.write(read_notebook(nb.path), path)
    return path


def execute(
    nb: NotebookSpec,
    values: dict[str, Any],
    params: RunParams,
    folders: tuple[Path, Path, Path],
    log: IO[str],
    say: Say,
) -> int:
    """Run the notebook of ``nb`` with the parameters ``values`` in the kernel of ``params``;
    return the number of attempts. ``folders``: the private folder for its ``.ipynb`` copy,
    the folder its executed copy goes to and its working folder. Failures are contract
    errors: a cell that raised (exit 3), a cell timeout (exit 4), a kernel that is missing,
    died or would not start (exit 5; one retry when it never ran a cell)."""
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    private, executed, cwd = folders
    output = executed / f"{nb.name}.ipynb"
    source = as_ipynb(nb, private)
    attempt = 0
    while True:
        attempt += 1
        try:
            with stderr_to(log), known_parameters():
                papermill.execute_notebook(
                    str(source),
                    str(output),
                    parameters=values,
                    kernel_name=params.kernel,
                    language="python",
                    progress_bar=False,
                    start_timeout=params.start_timeout_s,
                    execution_timeout=params.cell_timeout_s,
                    stdout_file=CappedLog(log),
                    stderr_file=CappedLog(log),
                    cwd=str(cwd),
                    config=kernel_config(private),
                )
            return attempt
        except PapermillExecutionError as exc:
            raise CellError(
                f"notebook {nb.path.name}, cell {exc.cell_index + 1} (In [{exc.exec_count}]) "
                f"raised\n{exc.ename}: {one_line(exc.evalue)}"
            ) from exc
        except CellTimeoutError as exc:
            raise RunTimeoutError(
                f"notebook {nb.path.name}, cell {running_cell(output)} timed out\n"
                f"no result after cell_timeout_s={params.cell_timeout_s} s"
            ) from exc
        except NoSuchKernel as exc:
            raise KernelError(
                f"notebook {nb.path.name}: kernel '{params.kernel}' not found\n"
                "run 'make install' to register the 'wb' kernel"
            ) from exc
        except (RuntimeError, TimeoutError) as exc:  # DeadKernelError is a RuntimeError
            if attempt == 1 and running_cell(output) is None:  # the kernel never ran a cell
                say(f"{nb.name}: kernel did not start ({exc}); retrying once")
                continue
            raise KernelError(
                f"notebook {nb.path.name}, cell {running_cell(output)}: the kernel died "
                f"or would not start\n{type(exc).__name__}: {one_line(str(exc))} "
                "(out of memory? see run.log)"
            ) from exc


def one_line(text: str) -> str:
    """``text`` on one line, cut to 200 characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= 200 else line[:197] + "..."
