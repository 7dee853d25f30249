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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
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
