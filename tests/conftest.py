"""Shared fixtures: small simulated exports with a known truth; single-threaded BLAS."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pandas as pd
import pytest

from wb.uplift.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def small_export() -> pd.DataFrame:
    """A valid 200-RM × 12-month export (simulated)."""
    frame, _ = simulate(SimulationConfig(n_rms=200, n_months=12, seed=7))
    return frame


@pytest.fixture
def tiny_csv(tmp_path, small_export):
    """The first 30 rows of the small export as a UTF-8 CSV; returns its path."""
    path = tmp_path / "tiny.csv"
    small_export.head(30).to_csv(path, index=False)
    return path


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (pytest-xdist's own hook)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip Spark without Java; group and order the tests for two workers (``make test``)."""
    skip_spark_without_java(items)
    group_for_workers(items)


def skip_spark_without_java(items: list[pytest.Item]) -> None:
    """Tests marked ``spark`` start a local Spark, which needs Java: without it they are
    skipped with the reason (``make install`` installs openjdk-17), not failed."""
    spark = [item for item in items if item.get_closest_marker("spark")]
    if not spark:
        return
    from wb.warehouse.source import java_found

    if java_found():
        return
    skip = pytest.mark.skip(
        reason="needs Java 17+ for a local Spark: no `java` on the PATH and no JAVA_HOME "
        "(`make install` installs openjdk-17)"
    )
    for item in spark:
        item.add_marker(skip)


def group_for_workers(items: list[pytest.Item]) -> None:
    """Under ``pytest -n 2 --dist loadgroup`` (the Makefile), one worker runs a whole group:

    * every ``spark`` test in one group, so one JVM starts and one worker holds its memory;
    * the tests of a file that share a module- or class-scoped fixture in one group, so the
      fixture is computed once, not once per worker;
    * any other test alone, wherever a worker is free.

    The groups are then ordered so the longest start first (``spark``, then groups holding a
    ``slow`` test, then the rest; otherwise as collected), and a worker is not left alone with
    a long test at the end. Without xdist the marks do nothing and only the order changes."""
    unit: dict[str, str] = {}
    for item in items:
        if item.get_closest_marker("xdist_group"):
            name = item.get_closest_marker("xdist_group").args[0]
        elif item.get_closest_marker("spark"):
            name = "spark"
        elif _shares_a_fixture(item):
            name = item.nodeid.split("::")[0]
        else:
            unit[item.nodeid] = item.nodeid
            continue
        item.add_marker(pytest.mark.xdist_group(name))
        unit[item.nodeid] = name
    rank: dict[str, int] = {}
    for item in items:
        first = 0 if unit[item.nodeid] == "spark" else 1 if item.get_closest_marker("slow") else 2
        rank[unit[item.nodeid]] = min(first, rank.get(unit[item.nodeid], 2))
    start = {}
    for i, item in enumerate(items):
        start.setdefault(unit[item.nodeid], i)
    items.sort(key=lambda item: (rank[unit[item.nodeid]], start[unit[item.nodeid]]))


def _shares_a_fixture(item: pytest.Item) -> bool:
    """Whether ``item`` uses a module- or class-scoped fixture (a session-scoped one is
    computed once per worker whatever the grouping)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        defs[-1].scope in ("module", "class") for defs in info.name2fixturedefs.values() if defs
    )
