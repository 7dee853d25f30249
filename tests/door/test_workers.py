"""Work shared between this process and forked workers (wb.door.workers) and the designs and
figures of ``wb uplift`` run that way: the same outputs for any number of workers."""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections.abc import Callable

import pytest

from wb.door.workers import run_all
from wb.errors import InputError
from wb.run import uplift_outputs
from wb.uplift import designs
from wb.uplift.sample import prepare
from wb.uplift.simulate import SimulationConfig, simulate


def _one_each(body):
    """Two pieces that wait for each other (so this process and the worker take one each);
    the one in the worker then returns ``body()``, the one here its process id."""
    both = multiprocessing.get_context("fork").Barrier(2, timeout=60)
    parent = os.getpid()

    def piece():
        both.wait()
        return body() if os.getpid() != parent else parent

    return {"first": piece, "second": piece}


def test_results_come_back_in_order_and_from_both_processes():
    results = run_all(_one_each(os.getpid), workers=2)
    assert list(results) == ["first", "second"]
    assert os.getpid() in results.values() and len(set(results.values())) == 2
    work = {f"piece {i}": (lambda i=i: i * i) for i in range(6)}
    assert (
        run_all(work, workers=2)
        == run_all(work, workers=1)
        == {f"piece {i}": i * i for i in range(6)}
    )


def test_an_error_in_a_worker_is_raised_here_with_its_traceback():
    def broken() -> None:
        raise KeyError("no such column: branch_id")

    with pytest.raises(KeyError, match="branch_id") as caught:
        run_all(_one_each(broken), workers=2)
    assert any("in a worker process" in n and "broken" in n for n in caught.value.__notes__)


def test_a_worker_that_dies_is_named():
    with pytest.raises(RuntimeError, match=r"worker process \(pid \d+\) ended.*exit code 9"):
        run_all(_one_each(lambda: os._exit(9)), workers=2)


def test_a_worker_writes_nothing_and_its_warnings_reach_the_parent(capfd):
    def noisy() -> str:
        print("from the worker")
        warnings.warn("a note from a worker", UserWarning, stacklevel=1)
        return "worker"

    with pytest.warns(UserWarning, match="a note from a worker"):
        assert "worker" in run_all(_one_each(noisy), workers=2).values()
    assert "from the worker" not in capfd.readouterr().out


def _steered(here: str, first: Callable[[], None], second: Callable[[], None]) -> dict:
    """Four pieces for two processes: two that steer, then ``first`` and ``second``, with
    ``first`` run by this process when ``here`` is "first" and by the worker otherwise (the
    steering piece of the other process waits until ``first`` has started). ``first`` and
    ``second`` start together (a barrier), so each runs even when the other raises."""
    ctx = multiprocessing.get_context("fork")
    both, started = ctx.Barrier(2, timeout=60), ctx.Barrier(2, timeout=60)
    first_taken = ctx.Event()
    parent = os.getpid()

    def steer() -> None:
        both.wait()
        if (os.getpid() == parent) != (here == "first"):
            assert first_taken.wait(timeout=60)

    def run(body: Callable[[], None], is_first: bool) -> None:
        if is_first:
            first_taken.set()
        assert (os.getpid() == parent) == ((here == "first") == is_first)
        started.wait()
        body()

    return {
        "steer a": steer,
        "steer b": steer,
        "first": lambda: run(first, True),
        "second": lambda: run(second, False),
    }


@pytest.mark.parametrize("here", ["first", "second"])
@pytest.mark.parametrize("raises_first", ["first", "second"])
def test_the_first_piece_s_error_is_raised_however_the_race_falls(here, raises_first):
    """The first piece finds a user's mistake (InputError, exit 2), the second meets a bug on
    the same input (ZeroDivisionError); forced: which process runs each and which raises
    first. The first piece's error wins every time, as in one process."""
    raised = multiprocessing.get_context("fork").Event()

    def mistake() -> None:
        if raises_first == "second":
            assert raised.wait(timeout=60)
        raised.set()
        raise InputError("no variation in adds")

    def bug() -> None:
        if raises_first == "first":
            assert raised.wait(timeout=60)
        raised.set()
        raise ZeroDivisionError("float division by zero")

    with pytest.raises(InputError, match="no variation in adds"):
        run_all(_steered(here, mistake, bug), workers=2)


def test_a_later_piece_still_running_is_stopped_not_awaited():
    """Once the first piece has raised here, the worker's later piece cannot change the
    outcome: it is stopped, not waited for."""
    never = multiprocessing.get_context("fork").Event()

    def mistake() -> None:
        raise InputError("no variation in adds")

    start = time.perf_counter()
    with pytest.raises(InputError):
        run_all(_steered("first", mistake, lambda: never.wait(timeout=60)), workers=2)
    assert time.perf_counter() - start < 30


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        run_all({"a": lambda: 1}, workers=0)


@pytest.mark.slow
def test_designs_and_figures_are_the_same_for_one_or_two_workers(tmp_path):
    """Every number, note and figure file of ``wb uplift``, run in one process and in two."""
    frame, _ = simulate(SimulationConfig(n_rms=400, n_months=24, seed=3))
    data = tmp_path / "export.parquet"
    frame.to_parquet(data)
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        analysis = uplift_outputs.analyse(data, out, workers=workers, quiet=True)
        outputs[workers] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        assert analysis.designs.notes == outputs.get("notes", analysis.designs.notes)
        outputs["notes"] = analysis.designs.notes
    assert outputs[1].keys() == outputs[2].keys() and len(outputs[1]) >= 13
    assert outputs[1] == outputs[2]


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_design_notes_keep_their_order_whichever_worker_ran_what():
    """A design that cannot run leaves its note in the documented order, not in the order
    the workers finished."""
    frame, _ = simulate(SimulationConfig(n_rms=120, n_months=12, seed=4))
    frame["quota_target"] = 0  # no quota anywhere: the event studies, Wald-DiD, bunching fail
    sample = prepare(frame)
    one = designs.estimate_designs(frame, sample, workers=1)
    two = designs.estimate_designs(frame, sample, workers=2)
    assert one.notes == two.notes
    first_words = [
        "event study and Wald-DiD",
        "bunching",
        "certified split",
        "outcome family",
        "robustness",
        "IV-WAS",
        "dynamic effects of quota changes",
    ]
    assert [n.split(" not estimated")[0] for n in two.notes] == first_words
    assert list(one.timings_s) == list(two.timings_s)
