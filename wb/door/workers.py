"""Run independent pieces of work on several cores: this process and forked copies of it.

``wb uplift`` spends most of its time in designs that do not depend on each other (event
studies, bunching, robustness, ...) and in figures. Each is single-threaded numpy work that
holds the GIL, so threads do not help; :func:`run_all` forks worker processes instead. A forked
worker shares the parent's memory copy-on-write (the sample is never copied or pickled); only
each piece's result comes back, pickled through a pipe.

Pieces are taken in the order given from one shared counter, so listing the longest first
keeps the workers busy to the end. The results are the same whichever process ran a piece:
each piece must depend only on what existed before the fork (bootstraps seed their own
generators). So is a failure: the exception raised is the first raising piece's in the given
order, as in a run one piece after another. Where ``fork`` is not available (Windows, macOS's default), or ``workers`` is 1,
the pieces run one after another in this process.

A worker writes nothing to the parent's streams (a Jupyter kernel's ``sys.stdout`` belongs to
threads that do not exist in the fork): its warnings are recorded and issued again by the
parent, and an exception in a piece is raised again in the parent with the worker's traceback
as a note.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import TypeVar

_T = TypeVar("_T")
#: A failed piece: its index in the work's order and its exception.
_Failure = tuple[int, BaseException]

#: BLAS and OpenMP thread counts for ``wb``'s own processes: one each. Standard errors then
#: repeat bit for bit, and the cores go to worker processes instead of BLAS threads that
#: spin against them (one dense solve took 2 s instead of 0.08 s so on a busy 2-core machine).
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def one_blas_thread() -> None:
    """Ask for :data:`ONE_THREAD_ENV` in this process and the ones it starts (kernels, workers);
    a value already set is kept. Takes effect where BLAS is not loaded yet: call it first."""
    for name, value in ONE_THREAD_ENV.items():
        os.environ.setdefault(name, value)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def run_all(work: Mapping[str, Callable[[], _T]], workers: int | None = None) -> dict[str, _T]:
    """Call every function of ``work`` and return ``{name: result}`` in ``work``'s order.

    ``workers``: processes to use, this one included (default: :func:`usable_cores`); never
    more than there are pieces. Results must pickle.

    When pieces raise, the exception raised here is that of the first raising piece in
    ``work``'s order, as if the pieces had run one after another, whichever process ran what
    and whichever raised first: a user's mistake found by the first piece keeps its type
    (and exit code) when a later piece meets a bug on the same input at the same time. Once a
    piece has raised, no process starts another; those already running are let finish when
    an earlier piece could still raise, and stopped otherwise."""
    import multiprocessing as mp  # here: the CLI imports this module and starts in 0.1 s

    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers})")
    names = list(work)
    n = min(workers if workers is not None else usable_cores(), len(names))
    if n <= 1 or "fork" not in mp.get_all_start_methods():
        return {name: work[name]() for name in names}
    ctx = mp.get_context("fork")
    counter = ctx.Value("i", 0)
    # the first failed piece's index so far (len(names): none), and each process's running
    # piece (-1: none; slot 0 is this process)
    failed = ctx.Value("i", len(names), lock=False)  # both guarded by the counter's lock
    running = ctx.Array("i", [-1] * n, lock=False)

    def loop(slot: int) -> tuple[dict[str, _T], _Failure | None]:
        done: dict[str, _T] = {}
        while True:
            with counter.get_lock():
                i = counter.value
                counter.value += 1
                if i >= len(names) or failed.value < len(names):
                    running[slot] = -1
                    return done, None
                running[slot] = i
            try:
                done[names[i]] = work[names[i]]()
            except Exception as exc:
                with counter.get_lock():
                    failed.value = min(failed.value, i)
                    running[slot] = -1
                return done, (i, exc)

    children = []
    for slot in range(1, n):
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_worker, args=(partial(loop, slot), send), daemon=True)
        child.start()
        send.close()
        children.append((slot, child, receive))
    try:
        results, first = loop(0)
        for slot, child, receive in children:
            with counter.get_lock():  # a later piece than the first failure: moot
                moot = first is not None and running[slot] > first[0]
            if moot:
                child.terminate()
                continue
            try:
                outcome, payload, caught = receive.recv()
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"a worker process (pid {child.pid}) ended without its results "
                    f"(exit code {child.exitcode}; out of memory?)"
                ) from None
            for message in caught:
                warnings.warn_explicit(*message)
            if outcome == "raised":  # not an Exception (SystemExit, ...): at once
                raise payload
            done, failure = payload
            results.update(done)
            if failure is not None and (first is None or failure[0] < first[0]):
                first = failure
        if first is not None:
            raise first[1]
    finally:
        for _, child, receive in children:
            if child.is_alive():
                child.terminate()
            child.join()
            receive.close()
    return {name: results[name] for name in names}


def _worker(loop: Callable[[], tuple[dict, _Failure | None]], send) -> None:
    """A forked worker's body: run pieces until none are left or one raises; send back the
    results and the failure (or an exception that is not an ``Exception``) and the warnings,
    writing nothing to the inherited streams."""
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the process ends here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # the parent's filters decide
        try:
            done, failure = loop()
            if failure is not None:
                failure = (failure[0], _portable(failure[1]))
            reply = ("done", (done, failure))
        except BaseException as exc:  # re-raised in the parent
            reply = ("raised", _portable(exc))
    found = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
    send.send((*reply, found))
    send.close()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` with the worker's traceback as a note, or a RuntimeError carrying its text when
    the exception cannot be pickled."""
    import pickle
    import traceback

    text = "".join(traceback.format_exception(exc))
    try:
        exc.add_note(f"in a worker process:\n{text}")
        pickle.dumps(exc)
    except Exception:  # anything that stops it crossing the pipe
        return RuntimeError(f"a worker process raised:\n{text}")
    return exc
