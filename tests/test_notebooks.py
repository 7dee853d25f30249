"""Notebooks are thin percent scripts (their only tracked form); whatever Lab saves stays out of
git and out of the tests' way; every chart displays."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from wb.run.params import read_notebook

ROOT = Path(__file__).parents[1]
SCRIPTS = sorted((ROOT / "notebooks").glob("*.py"))


def test_no_notebook_json_is_tracked():
    """The .py script is a notebook's source; a .ipynb beside it is a local, ignored copy."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert SCRIPTS, "no notebooks found"
    assert tracked.stdout == ""


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_has_parameters_cell_and_no_definitions(path):
    code = [c for c in read_notebook(path).cells if c.cell_type == "code"]
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


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_notebooks_only_call_and_display(path):
    for cell in read_notebook(path).cells:
        if cell.cell_type == "code":
            assert not _hand_built(cell.source), f"{path.name}: {cell.source[:200]}"


def test_the_call_and_display_check_catches_a_table_built_by_hand():
    old_cell = "pd.DataFrame([{'att': s.att} for s in studies], key=lambda r: r)\ndoc.to_json()"
    assert set(_hand_built(old_cell)) == {"DataFrame", "Lambda", "to_json"}


def papermill(
    name: str, out_dir: Path, inline: bool = True, write: bool = True, **parameters: object
):
    """Run ``notebooks/<name>.py`` under papermill with the ``wb`` kernel (as JupyterLab does:
    no MPLBACKEND, so the inline backend, unless ``inline`` is false), each parameter given as
    on papermill's command line (``-p period 2024`` arrives as an int); return the process.
    The notebook writes into ``out_dir``, or (``write=False``) is given no folder at all."""
    source = ROOT / "notebooks" / f"{name}.py"
    notebook = out_dir.parent / f"{name}.ipynb"
    nbformat.write(read_notebook(source), notebook)
    env = {k: v for k, v in os.environ.items() if not inline or k != "MPLBACKEND"}
    command = [sys.executable, "-m", "papermill", str(notebook), str(run_of(notebook)), "-k", "wb"]
    command += ["--cwd", str(source.parent), "-p", "out_dir", str(out_dir) if write else "None"]
    for key, value in parameters.items():
        command += ["-p", key, str(value)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


def run_of(notebook: Path) -> Path:
    return notebook.with_suffix(".run.ipynb")


def execute(
    name: str, out_dir: Path, inline: bool = True, write: bool = True, **parameters: object
) -> list[dict]:
    """:func:`papermill`, which must succeed; the outputs of the executed notebook."""
    done = papermill(name, out_dir, inline, write, **parameters)
    assert done.returncode == 0, done.stderr[-2000:]
    nb = nbformat.read(run_of(out_dir.parent / f"{name}.ipynb"), as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def images_in(outputs: list[dict]) -> int:
    """How many PNG images the outputs show."""
    return sum("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.slow
def test_every_bank_chart_displays_in_a_kernel_with_the_inline_backend(tmp_path):
    """Run notebook 10 as Lab does (inline backend, no MPLBACKEND): one image per chart.

    Before the theme kept interactive mode, only the charts drawn before the first
    ``theme_context`` exit showed (3 of 6)."""
    images = images_in(execute("10_bank_comparison", tmp_path / "figs"))
    saved = len(list((tmp_path / "figs").glob("*.png")))
    assert saved == 7
    assert images == saved


@pytest.mark.slow
def test_the_add_quality_notebook_runs_on_a_simulated_warehouse(tmp_path):
    shown = execute("30_add_quality", tmp_path / "out", inline=False)
    assert (tmp_path / "out" / "uplift" / "uplift.json").is_file()
    assert any("SIMULATED" in str(o.get("data", {})) for o in shown)


@pytest.mark.slow
def test_notebook_20_draws_every_figure_from_the_results_not_from_files(tmp_path):
    """Under the inline backend each of the six uplift figures shows once, drawn from the
    result objects (the notebook reads no PNG)."""
    source = ROOT / "notebooks" / "20_quota_uplift.py"
    assert ".png" not in source.read_text()
    images = images_in(execute("20_quota_uplift", tmp_path / "figs"))
    assert images == len(list((tmp_path / "figs").glob("uplift_*.png"))) == 6


@pytest.mark.slow
def test_notebook_20_in_lab_writes_nothing_and_still_shows_every_figure(tmp_path):
    """As JupyterLab runs it (no out_dir): the six figures show, and no file appears in the
    folder the notebook runs in (the demo export goes to the temporary folder)."""
    before = sorted(p.name for p in (ROOT / "notebooks").iterdir())
    images = images_in(execute("20_quota_uplift", tmp_path / "figs", write=False))
    assert images == 6
    assert not (tmp_path / "figs").exists()
    assert sorted(p.name for p in (ROOT / "notebooks").iterdir()) == before


def _copy_of_the_repository(folder: Path) -> Path:
    """A git repository in ``folder`` holding this checkout's files as they would be committed
    (tracked and not ignored), committed."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(folder)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], check=True)
    return folder


def _lab_saves(folder: Path, name: str, nb: nbformat.NotebookNode) -> None:
    """Save ``nb`` as JupyterLab does: through jupytext's contents manager rooted at ``folder``
    (which also writes the checkpoints and whatever pairing the project's config asks for)."""
    from jupytext import TextFileContentsManager

    manager = TextFileContentsManager(root_dir=str(folder))
    manager.save({"type": "notebook", "format": "json", "content": nb}, name)
    manager.create_checkpoint(name)


@pytest.mark.slow
def test_a_lab_session_leaves_git_status_clean(tmp_path, monkeypatch):
    """`make lab`'s workspace, notebook 10 run and saved with its outputs, a scratch notebook,
    and the same notebook saved beside its script (as Lab opened on the project root or an
    editor would): git sees no change and the tests' notebooks are still the scripts."""
    from nbclient import NotebookClient

    repo = _copy_of_the_repository(tmp_path / "repo")
    venv = Path(sys.executable).parent.parent
    subprocess.run(["make", "-s", "-C", str(repo), "lab-workspace", f"VENV={venv}"], check=True)
    work = repo / "work"
    assert sorted(p.stem for p in work.glob("*.ipynb")) == [p.stem for p in SCRIPTS]

    nb = nbformat.read(work / "10_bank_comparison.ipynb", as_version=4)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as Lab's kernel
    NotebookClient(nb, kernel_name="wb", resources={"metadata": {"path": str(work)}}).execute()
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    _lab_saves(work, "10_bank_comparison.ipynb", nb)
    scratch = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import wb\nwb.select")])
    _lab_saves(work, "Untitled.ipynb", scratch)
    _lab_saves(repo / "notebooks", "10_bank_comparison.ipynb", nb)
    _lab_saves(repo / "notebooks", "Untitled.ipynb", scratch)

    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert status.stdout == "", status.stdout
    tests_see = sorted(p.name for p in (repo / "notebooks").glob("*.py"))
    assert tests_see == [p.name for p in SCRIPTS]


@pytest.mark.slow
def test_a_papermill_parameter_of_the_wrong_type_gets_the_names_check(tmp_path):
    """``-p period 2024`` arrives as an int: converted to "2024", whose name check says what
    was meant (before: a TypeError in the notebook's sort); a list given as a word is an
    error naming the parameter and its type."""
    done = papermill("10_bank_comparison", tmp_path / "figs", period=2024)
    assert done.returncode != 0
    assert "InputError: unknown period '2024'; did you mean 'FY2024'?" in done.stderr
    assert "TypeError" not in done.stderr
    done = papermill("10_bank_comparison", tmp_path / "figs", banks="cmb")
    assert "InputError: parameter banks: expected list[str] | None, got 'cmb'" in done.stderr
