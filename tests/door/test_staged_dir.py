"""One home for output folders (:func:`wb.door.atomic.staged_dir`): written beside the target,
swapped in whole, the earlier output kept on any failure, a signal included (exit 130/143),
and an ``--out`` that is a file, a foreign folder or under a file refused with exit 2."""

from __future__ import annotations

import os
import signal

import pytest

from wb.door.atomic import staged_dir
from wb.errors import InputError, RunInterrupted


def _earlier(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "done.json").write_text("old")
    return target


def _left(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir())


def test_a_finished_block_replaces_the_earlier_output(tmp_path):
    target = _earlier(tmp_path)
    with staged_dir(target, "done.json", "build") as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".out.staging-")
        (staging / "done.json").write_text("new")
    assert (target / "done.json").read_text() == "new"
    assert _left(tmp_path) == ["out"]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_block_with_its_exit_code_and_keeps_the_earlier_output(
    tmp_path, signum, code
):
    target = _earlier(tmp_path)
    before = signal.getsignal(signum)
    with (
        pytest.raises(RunInterrupted) as caught,
        staged_dir(target, "done.json", "build") as staged,
    ):
        (staged / "done.json").write_text("half")
        os.kill(os.getpid(), signum)
        pytest.fail("the signal did not stop the block")
    assert caught.value.exit_code == code
    name = signal.Signals(signum).name
    assert str(caught.value) == f"the build interrupted by {name}; nothing written"
    assert (target / "done.json").read_text() == "old"
    assert _left(tmp_path) == ["out"]
    assert signal.getsignal(signum) is before


def test_an_error_in_the_block_keeps_the_earlier_output(tmp_path):
    target = _earlier(tmp_path)
    with (
        pytest.raises(InputError, match="bad table"),
        staged_dir(target, "done.json", "build") as s,
    ):
        (s / "done.json").write_text("half")
        raise InputError("bad table")
    assert (target / "done.json").read_text() == "old"
    assert _left(tmp_path) == ["out"]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda t: t.write_text("a file"), "exists and is not an earlier build"),
        (lambda t: (t.mkdir(), (t / "notes.txt").write_text("x")), "is not an earlier build"),
        (lambda t: None, "a folder under a file"),
    ],
    ids=["a file", "a foreign folder", "under a file"],
)
def test_an_out_that_is_not_ours_is_refused_with_exit_2_and_nothing_written(tmp_path, make, says):
    target = tmp_path / "out"
    make(target)
    if says == "a folder under a file":
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / "out"
    before = _left(tmp_path)
    with pytest.raises(InputError, match=says) as caught, staged_dir(target, "done.json", "build"):
        pytest.fail("the block ran")
    assert caught.value.exit_code == 2
    assert _left(tmp_path) == before
