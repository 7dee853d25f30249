"""Shared fixtures: small simulated exports with a known truth; single-threaded BLAS."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# The JVMs the tests start (local Spark, the one-machine cluster, `wb ... --engine spark` in a
# new process) work on tables of a few thousand rows, where compiling hot code costs more than
# it saves: the first JIT tier only and the serial collector take a small Spark build from
# about 19 s to 14 s. Only speed depends on them, not a result.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

import pandas as pd
import pytest

from wb.uplift.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def small_export() -> pd.DataFrame:
    """A valid 200-RM × 12-month export (simulated)."""
    frame, _ = simulate(SimulationConfig(n_rms=200, n_months=12, seed=7))
    return frame


@dataclass(frozen=True)
class WarehouseRun:
    """One finished ``wb run`` of the warehouse end-to-end params on a simulated source."""

    source: Path  #: the warehouse folder (its names and free text carry the canaries)
    params: Path  #: the params file (inside the project, extending params/ci_warehouse.yaml)
    out: Path  #: the runs folder (``--out``)
    folder: Path  #: the promoted run folder
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def warehouse_run(tmp_path_factory) -> Iterator[WarehouseRun]:
    """``wb run`` of params/ci_warehouse.yaml (the panel built from a warehouse, its
    customer-level uplift, notebooks 10, 20 and 30, the brief) on a simulated 80-RM warehouse
    whose names and free text carry the privacy canaries (tests/canary_cases.py): the one
    warehouse run the run test and the canary grep both read (about 25 s, once per session).
    Its users carry ``xdist_group("warehouse_run")`` so that one worker runs it."""
    from canary_cases import NAME, PHONE, ROOT, plant_in_names_and_free_text, run_params
    from helpers import wb

    tmp = tmp_path_factory.mktemp("warehouse_run")
    source = tmp / f"{NAME}{PHONE}" / "wh"
    made = wb("simulate", "--level", "customer", "--out", str(source), "--rms", "80", timeout=300)
    assert made.returncode == 0, made.stderr
    plant_in_names_and_free_text(source)
    params_dir = ROOT / "exports" / f"warehouse-run-{tmp.name}"
    try:
        params = run_params(params_dir, source)
        out = tmp / "runs"
        done = wb("run", str(params), "--out", str(out), timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        folder = Path(done.stdout.strip().splitlines()[-1])
        yield WarehouseRun(source, params, out, folder, done.stdout, done.stderr)
    finally:
        shutil.rmtree(params_dir, ignore_errors=True)


@dataclass(frozen=True)
class ExportRun:
    """One finished ``wb run`` of notebook 20 on a simulated RM export copied alone."""

    data: Path  #: the export the run read (its folder and file named after a customer)
    out: Path  #: the runs folder (``--out``)
    folder: Path  #: the promoted run folder
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def export_run(tmp_path_factory) -> ExportRun:
    """``wb run`` of notebook 20 alone on a small simulated RM export (50 RMs x 12 months),
    copied byte for byte without its truth file into a folder and under a file name that carry
    the privacy canaries (tests/canary_cases.py), and labelled as the scheduled run labels its
    bank's export (run_cases.INTERNAL): the one run the hostile-file-name test and the
    provenance test both read (about 15 s, once per session). Its users carry
    ``xdist_group("export_run")`` so that one worker runs it."""
    import yaml
    from canary_cases import NAME, PHONE
    from helpers import wb
    from run_cases import INTERNAL, TITLE

    from wb.uplift.simulate import write

    tmp = tmp_path_factory.mktemp("export_run")
    made, _, _ = write(SimulationConfig(n_rms=50, n_months=12, seed=1), tmp / "sim" / "s.csv")
    hostile = tmp / f"{NAME}_{PHONE}"
    hostile.mkdir()
    data = Path(shutil.copyfile(made, hostile / f"{NAME}_{PHONE}.csv"))
    project = tmp / "project"  # wb runs only notebooks under the project's notebooks/
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    notebook = Path(__file__).parents[1] / "notebooks" / "20_quota_uplift.py"
    shutil.copy(notebook, project / "notebooks")
    params = {
        "period": "H1 2025",
        "cell_timeout_s": 300,
        "brief": {"title": TITLE, "date": "2025-07-01"},
        "data": {"rm_month": {"path": str(data), "label": INTERNAL}},
        "notebooks": [
            {
                "path": "notebooks/20_quota_uplift.py",
                "section": "uplift",
                "inputs": {"data_path": "rm_month"},
            }
        ],
    }
    path = project / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    out = tmp / "runs"
    done = wb("run", str(path), "--out", str(out), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(done.stdout.strip().splitlines()[-1])
    return ExportRun(data, out, folder, done.stdout, done.stderr)


@pytest.fixture
def tiny_csv(tmp_path, small_export):
    """The first 30 rows of the small export as a UTF-8 CSV; returns its path."""
    path = tmp_path / "tiny.csv"
    small_export.head(30).to_csv(path, index=False)
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip Spark without Java; group and order the tests for the workers of ``make test``."""
    skip_spark_without_java(items)
    group_for_workers(items)


def skip_spark_without_java(items: list[pytest.Item]) -> None:
    """Tests marked ``spark`` start a local Spark, which needs Java: without it they are
    skipped with the reason (``make install`` installs openjdk-17), not failed."""
    spark = [item for item in items if item.get_closest_marker("spark")]
    if not spark:
        return
    from wb.warehouse.spark import java_found

    if java_found():
        return
    skip = pytest.mark.skip(
        reason="needs Java 17+ for a local Spark: no `java` on the PATH and no JAVA_HOME "
        "(`make install` installs openjdk-17)"
    )
    for item in spark:
        item.add_marker(skip)


# ------------------------------------------------------------------ two workers (pytest-xdist)
#
# `make test` runs `pytest -n 2` (pytest-xdist). Its own grouping (--dist loadgroup and the
# xdist_group mark) does nothing under pytest 9.2 (pytest-xdist issue 1386: the group is written
# into a node id that pytest no longer reads), so the groups are handed to the scheduler here:
# each worker writes the group of every test it collected into a file the controller named in
# WB_TEST_GROUPS, and the controller's scheduler (a LoadScopeScheduling whose scope is that
# group) reads it once every worker has collected.

GROUPS_ENV = "WB_TEST_GROUPS"


def pytest_configure(config: pytest.Config) -> None:
    """The controller of an xdist run names the file its workers write the groups into."""
    if getattr(config, "workerinput", None) is None and config.getoption("numprocesses", None):
        import tempfile

        folder = tempfile.mkdtemp(prefix="wb-test-groups-")
        os.environ[GROUPS_ENV] = os.path.join(folder, "groups")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Schedule by the groups of :func:`group_for_workers`, in the order of the collection."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                import glob
                import json
                from pathlib import Path

                written = sorted(glob.glob(os.environ[GROUPS_ENV] + ".gw*[0-9]"))
                self.groups = json.loads(Path(written[0]).read_text(encoding="utf-8"))
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


def group_for_workers(items: list[pytest.Item]) -> None:
    """The groups a worker runs whole, written for the scheduler (see above):

    * every ``spark`` test in one group, so one JVM starts and one worker holds its memory;
    * the tests of a file that share a module- or class-scoped fixture in one group, so the
      fixture is computed once, not once per worker;
    * a test marked ``xdist_group(name)`` in the group ``name``;
    * any other test alone, wherever a worker is free.

    The groups are then ordered so the longest start first (``spark``, then groups holding a
    ``slow`` test, then the rest; otherwise as collected), so a worker is not left alone with
    a long test at the end. Without xdist only the order changes."""
    unit: dict[str, str] = {}
    for item in items:
        if item.get_closest_marker("xdist_group"):
            unit[item.nodeid] = item.get_closest_marker("xdist_group").args[0]
        elif item.get_closest_marker("spark"):
            unit[item.nodeid] = "spark"
        elif _shares_a_fixture(item):
            unit[item.nodeid] = item.nodeid.split("::")[0]
        else:
            unit[item.nodeid] = item.nodeid
    rank: dict[str, int] = {}
    for item in items:
        first = 0 if unit[item.nodeid] == "spark" else 1 if item.get_closest_marker("slow") else 2
        rank[unit[item.nodeid]] = min(first, rank.get(unit[item.nodeid], 2))
    start: dict[str, int] = {}
    for i, item in enumerate(items):
        start.setdefault(unit[item.nodeid], i)
    items.sort(key=lambda item: (rank[unit[item.nodeid]], start[unit[item.nodeid]]))
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and os.environ.get(GROUPS_ENV):
        import json

        path = f"{os.environ[GROUPS_ENV]}.{worker}"
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(unit, out)
        os.replace(path + ".tmp", path)


def _shares_a_fixture(item: pytest.Item) -> bool:
    """Whether ``item`` uses a module- or class-scoped fixture (a session-scoped one is
    computed once per worker whatever the grouping)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        defs[-1].scope in ("module", "class") for defs in info.name2fixturedefs.values() if defs
    )
