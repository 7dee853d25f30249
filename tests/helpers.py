"""The one way tests start the ``wb`` command line.

* :func:`wb_in_process` calls :func:`wb.cli.main` in this process: the same exit code, stdout
  and stderr as the command, without the second or more a new Python spends importing. For
  exit codes and messages of arguments and inputs.
* :func:`wb` starts ``python -m wb.cli`` in a new process: for what only a process shows
  (environment variables read at start-up, signals, file descriptors, a whole run end to end).

Both return a :class:`subprocess.CompletedProcess` (``returncode``, ``stdout``, ``stderr``).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings

import pytest

from wb.cli import main


def wb(
    *args: str,
    env: dict | None = None,
    timeout: float = 600,
    cwd: str | os.PathLike | None = None,
    unset: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``wb ARGS`` in a new process, ``env`` added to this process's environment and the
    variables ``unset`` removed from it, in ``cwd`` (default: this process's working folder)."""
    environment = {k: v for k, v in os.environ.items() if k not in unset} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "wb.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=cwd,
    )


def wb_in_process(
    *args: str, env: dict | None = None, cwd: str | os.PathLike | None = None
) -> subprocess.CompletedProcess:
    """``wb ARGS`` run by :func:`wb.cli.main` in this process; what it prints is captured and
    the warning hook it installs is put back. ``env`` is added to the environment and ``cwd``
    made the working folder for the call only (for settings wb reads when a command runs, such
    as the size limits; one read at start-up needs :func:`wb`)."""
    out, err = io.StringIO(), io.StringIO()
    shown = warnings.showwarning
    try:
        with (
            pytest.MonkeyPatch.context() as patch,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            if cwd is not None:
                patch.chdir(cwd)
            main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # main always exits; reaching here would be a bug in it
        code = -1
    finally:
        warnings.showwarning = shown
    return subprocess.CompletedProcess(["wb", *args], code, out.getvalue(), err.getvalue())


def local_spark(catalog):
    """A local[2] Spark session whose catalog lives in ``catalog`` (a new folder). A session
    an earlier test started (the warehouse dir is fixed when a session starts) is stopped
    first, so no table of another test's catalog folder is in the way."""
    from wb.warehouse.spark import spark_session

    conf = {"spark.sql.warehouse.dir": str(catalog)}
    session = spark_session("local[2]", conf=conf)
    if session.conf.get("spark.sql.warehouse.dir").removeprefix("file:") != str(catalog):
        session.stop()
        session = spark_session("local[2]", conf=conf)
    return session
