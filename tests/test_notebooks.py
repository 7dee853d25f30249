"""Notebooks are thin, paired with a percent script, and stored without outputs."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
SCRIPTS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.py"))


def test_every_script_has_its_notebook_and_back():
    assert SCRIPTS, "no notebooks found"
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in SCRIPTS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a code cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a code cell has a count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_has_parameters_cell_and_no_definitions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be parameters"
    for cell in code:
        tree = ast.parse(cell.source)
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert not defs, f"{path.name}: logic belongs in the wb package, not the notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_matches_its_script(path):
    import jupytext

    script = jupytext.read(path.with_suffix(".py"))
    nb = nbformat.read(path, as_version=4)
    assert [c.source for c in script.cells] == [c.source for c in nb.cells], (
        f"{path.name} is out of sync with its .py; run `make notebooks`"
    )


@pytest.mark.slow
def test_every_bank_chart_displays_in_a_kernel_with_the_inline_backend(tmp_path):
    """Run notebook 10 as Lab does (inline backend, no MPLBACKEND): one image per chart.

    Before the theme kept interactive mode, only the charts drawn before the first
    ``theme_context`` exit showed (3 of 6)."""
    import os
    import subprocess
    import sys

    source = Path(__file__).parents[1] / "notebooks" / "10_bank_comparison.ipynb"
    out = tmp_path / "run.ipynb"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(source),
            str(out),
            "-k",
            "wb",
            "--cwd",
            str(source.parent),
            "-p",
            "out_dir",
            str(tmp_path / "figs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    images = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    saved = len(list((tmp_path / "figs").glob("*.png")))
    assert saved == 7
    assert images == saved


@pytest.mark.slow
def test_the_add_quality_notebook_runs_on_a_simulated_warehouse(tmp_path):
    import subprocess
    import sys

    source = Path(__file__).parents[1] / "notebooks" / "30_add_quality.ipynb"
    out = tmp_path / "run.ipynb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(source),
            str(out),
            "-k",
            "wb",
            "--cwd",
            str(source.parent),
            "-p",
            "out_dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "uplift" / "uplift.json").is_file()
    nb = nbformat.read(out, as_version=4)
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("SIMULATED" in str(o.get("data", {})) for o in shown)


@pytest.mark.slow
def test_notebook_20_draws_every_figure_from_the_results_not_from_files(tmp_path):
    """Under the inline backend each of the six uplift figures shows once, drawn from the
    result objects (the notebook reads no PNG)."""
    import os
    import subprocess
    import sys

    source = Path(__file__).parents[1] / "notebooks" / "20_quota_uplift.ipynb"
    assert ".png" not in source.with_suffix(".py").read_text()
    out = tmp_path / "run.ipynb"
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(source),
            str(out),
            "-k",
            "wb",
            "--cwd",
            str(source.parent),
            "-p",
            "out_dir",
            str(tmp_path / "figs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    images = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert images == len(list((tmp_path / "figs").glob("uplift_*.png"))) == 6
