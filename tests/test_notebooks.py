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


#: What a notebook that only calls and displays never holds: a table built by hand, a lambda
#: (sorting or dispatch), a JSON document read back into a table.
HAND_BUILT = ("DataFrame", "Lambda", "to_json")


def _hand_built(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Lambda):
            found.append("Lambda")
        elif isinstance(node, ast.Attribute) and node.attr in HAND_BUILT:
            found.append(node.attr)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_only_call_and_display(path):
    import jupytext

    for cell in jupytext.read(path.with_suffix(".py")).cells:
        if cell.cell_type == "code":
            assert not _hand_built(cell.source), f"{path.name}: {cell.source[:200]}"


def test_the_call_and_display_check_catches_a_table_built_by_hand():
    old_cell = "pd.DataFrame([{'att': s.att} for s in studies], key=lambda r: r)\ndoc.to_json()"
    assert set(_hand_built(old_cell)) == {"DataFrame", "Lambda", "to_json"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_matches_its_script(path):
    import jupytext

    script = jupytext.read(path.with_suffix(".py"))
    nb = nbformat.read(path, as_version=4)
    assert [c.source for c in script.cells] == [c.source for c in nb.cells], (
        f"{path.name} is out of sync with its .py; run `make notebooks`"
    )


def execute(name: str, out_dir: Path, inline: bool = True) -> list[dict]:
    """Run ``notebooks/<name>`` under papermill with the ``wb`` kernel (as JupyterLab does:
    no MPLBACKEND, so the inline backend, unless ``inline`` is false); return its outputs."""
    import os
    import subprocess
    import sys

    source = Path(__file__).parents[1] / "notebooks" / name
    executed = out_dir.parent / f"{source.stem}.run.ipynb"
    env = {k: v for k, v in os.environ.items() if not inline or k != "MPLBACKEND"}
    command = [sys.executable, "-m", "papermill", str(source), str(executed), "-k", "wb"]
    command += ["--cwd", str(source.parent), "-p", "out_dir", str(out_dir)]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(executed, as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def images_in(outputs: list[dict]) -> int:
    """How many PNG images the outputs show."""
    return sum("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.slow
def test_every_bank_chart_displays_in_a_kernel_with_the_inline_backend(tmp_path):
    """Run notebook 10 as Lab does (inline backend, no MPLBACKEND): one image per chart.

    Before the theme kept interactive mode, only the charts drawn before the first
    ``theme_context`` exit showed (3 of 6)."""
    images = images_in(execute("10_bank_comparison.ipynb", tmp_path / "figs"))
    saved = len(list((tmp_path / "figs").glob("*.png")))
    assert saved == 7
    assert images == saved


@pytest.mark.slow
def test_the_add_quality_notebook_runs_on_a_simulated_warehouse(tmp_path):
    shown = execute("30_add_quality.ipynb", tmp_path / "out", inline=False)
    assert (tmp_path / "out" / "uplift" / "uplift.json").is_file()
    assert any("SIMULATED" in str(o.get("data", {})) for o in shown)


@pytest.mark.slow
def test_notebook_20_draws_every_figure_from_the_results_not_from_files(tmp_path):
    """Under the inline backend each of the six uplift figures shows once, drawn from the
    result objects (the notebook reads no PNG)."""
    source = Path(__file__).parents[1] / "notebooks" / "20_quota_uplift.py"
    assert ".png" not in source.read_text()
    images = images_in(execute("20_quota_uplift.ipynb", tmp_path / "figs"))
    assert images == len(list((tmp_path / "figs").glob("uplift_*.png"))) == 6
