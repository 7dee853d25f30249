"""Notebooks are thin percent scripts (their only tracked form); whatever Lab saves stays out of
git and out of the tests' way; every chart displays."""

from __future__ import annotations

import ast
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from notebook_runs import execute, images_in, papermill, run_of

from wb.run.notebook_parameters import read_notebook

ROOT = Path(__file__).parents[2]
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


@pytest.mark.slow
def test_every_bank_chart_displays_in_a_kernel_with_the_inline_backend(tmp_path):
    """Run notebook 10 as Lab does (inline backend, no MPLBACKEND), for two banks named in
    Chinese: one image per chart, and every chart written with its source line and
    bank_comparison.json beside them (``wb run`` runs it for every bank under Agg:
    tests/run/test_run.py).

    Before the theme kept interactive mode, only the charts drawn before the first
    ``theme_context`` exit showed (3 of 6)."""
    out = tmp_path / "figs"
    images = images_in(
        execute("10_bank_comparison", out, period="H1 2025", banks=["招商银行", "平安"])
    )
    saved = len(list(out.glob("*.png")))
    assert saved == 7
    assert images == saved
    artifact = json.loads((out / "bank_comparison.json").read_text(encoding="utf-8"))
    assert artifact["schema"] == "wb.bank_comparison/1"
    stems = [f["stem"] for f in artifact["figures"]]
    assert stems == [
        "bank_income",
        "bank_profit",
        "bank_share",
        "bank_aum",
        "bank_wecom",
        "bank_trends",
        "bank_coverage",
    ]
    for stem in stems:
        assert (out / f"{stem}.png").is_file() and (out / f"{stem}.svg").is_file()
    assert all(f["source"].startswith("来源 Source:") for f in artifact["figures"])
    assert {n["verdict"] for n in artifact["news_check"]} <= {"agrees", "contradicts", "no data"}
    assert all(n["source_ids"] for f in artifact["findings"] for n in f["numbers"])


@pytest.mark.slow
def test_the_add_quality_notebook_runs_on_a_simulated_warehouse(tmp_path):
    shown = execute("30_add_quality", tmp_path / "out")
    assert (tmp_path / "out" / "uplift" / "uplift.json").is_file()
    import openpyxl

    book = openpyxl.load_workbook(tmp_path / "out" / "uplift" / "workbook.xlsx")
    assert {"uplift_estimates", "add_quality", "customer_effects"} <= set(book.sheetnames)
    assert any("SIMULATED" in str(o.get("data", {})) for o in shown)
    assert images_in(shown) == 2  # the add funnel and the customers' AUM paths
    said = "".join(o.get("text", "") for o in shown if o.get("output_type") == "stream")
    assert "per bound customer" in said and "yuan" in said  # the result in a sentence
    tables = [o["data"]["text/html"] for o in shown if "text/html" in o.get("data", {})]
    assert any("rm_month" in t and "written" in t for t in tables)  # the build, as a table
    # progress: one line per analysis, updated in place; nothing on stderr
    assert not [o for o in shown if o.get("name") == "stderr"]
    lines = [
        o["data"]["text/plain"]
        for o in shown
        if o.get("metadata") is not None
        and o.get("output_type") == "display_data"
        and "text/plain" in o.get("data", {})
        and o["data"]["text/plain"].startswith(("warehouse: ", "uplift: "))
    ]
    assert [line.split(":")[0] for line in lines] == ["warehouse", "uplift"]


@pytest.mark.slow
def test_notebook_20_draws_every_figure_from_the_results_not_from_files(tmp_path):
    """Under the inline backend each of the seven uplift figures shows once, drawn from the
    result objects (the notebook reads no PNG)."""
    source = ROOT / "notebooks" / "20_quota_uplift.py"
    assert ".png" not in source.read_text()
    images = images_in(execute("20_quota_uplift", tmp_path / "figs"))
    assert images == len(list((tmp_path / "figs").glob("uplift_*.png"))) == 8
    assert (tmp_path / "figs" / "workbook.xlsx").is_file()  # the export


@pytest.mark.slow
def test_notebook_20_in_lab_writes_nothing_and_still_shows_every_figure(tmp_path):
    """As JupyterLab runs it (no out_dir): the seven figures show, and no file appears in the
    folder the notebook runs in (the demo export goes to the temporary folder)."""
    before = sorted(p.name for p in (ROOT / "notebooks").iterdir())
    images = images_in(execute("20_quota_uplift", tmp_path / "figs", write=False))
    assert images == 8
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
    # as a user would: one chart asked for in the parameters cell (every chart displays in a
    # kernel: test_every_bank_chart_displays_in_a_kernel_with_the_inline_backend)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    cell.source += '\nmetrics = ["aum"]'
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
    # in the notebook, as Lab shows it: one line, not a traceback through wb
    nb = nbformat.read(run_of(tmp_path / "10_bank_comparison.ipynb"), as_version=4)
    [error] = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert error.traceback == [
        "InputError: parameter banks: expected list[str] | None, got 'cmb' (str): Input should be "
        "a valid list"
    ]


# --------------------------------------------------------------------------- analysts in Lab


@pytest.fixture
def shell():
    """An IPython shell in this process, recording what it shows for an error."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    shown: list[list[str]] = []
    ip._showtraceback = lambda etype, value, stb: shown.append(stb)
    ip.shown = shown
    yield ip
    ip.run_line_magic("xmode", "Context")
    InteractiveShell.clear_instance()


def test_a_user_mistake_shows_one_line_in_ipython_not_a_traceback(shell):
    """Before: a 40-line traceback through wb with the message on its last line."""
    shell.run_cell(
        "from wb.banks.panel import Panel\n"
        f"Panel.load({str(ROOT / 'data/bank_panel.csv')!r}).resolve_banks(['招行'])"
    )
    [[line]] = shell.shown
    assert line.startswith(
        "InputError: unknown bank '招行'; did you mean 'cmb' (招商银行 CMB)? Valid bank ids: "
        "abc (农业银行 ABC), "
    )
    assert "\n" not in line
    shell.run_line_magic("xmode", "Verbose")  # a developer gets the traceback back
    shell.run_cell("from wb.errors import InputError\nraise InputError('bad')")
    assert len(shell.shown[1]) > 1
    shell.run_line_magic("xmode", "Context")
    shell.run_cell("{}['x']")  # a bug keeps its traceback
    assert len(shell.shown[2]) > 1


def test_progress_in_a_notebook_is_one_line_updated_in_place(monkeypatch):
    """In a kernel the steps update one output line (no stderr lines), which ends with each
    step's time."""
    import io

    from wb.warehouse import progress

    class Line:
        def __init__(self):
            self.shown = []

        def update(self, data, raw):
            assert raw
            self.shown.append(data["text/plain"])

    line = Line()
    monkeypatch.setattr(progress, "_notebook_line", lambda: line)
    monkeypatch.setattr(sys, "stderr", stderr := io.StringIO())
    steps = progress.Progress(2, label="uplift")
    with steps.step("load"):
        assert line.shown[-1] == "uplift: load … (step 1 of 2)"
    with steps.step("fit"):
        assert line.shown[-1] == "uplift: fit … (step 2 of 2)"
    steps.close()
    assert line.shown[-1].startswith("uplift: ") and "(load " in line.shown[-1]
    assert " s · fit " in line.shown[-1]
    assert stderr.getvalue() == ""
    assert progress.Progress(1, stream=io.StringIO())._line is None  # an explicit stream


def test_tidy_tables_show_formatted_numbers_and_keep_their_values():
    from wb.door.display import table

    frame = pd.DataFrame(
        {"coef": [-1204518.4, 0.0000123], "share": [0.6927, float("nan")], "pvalue": [1e-9, 0.2]}
    )
    shown = table(frame, percents=["share"])
    pd.testing.assert_frame_equal(pd.DataFrame(shown), frame)
    page = shown._repr_html_()
    for text in ("-1,204,518", "0.0000123", "69.3%", "—", "&lt;0.001", "0.200"):
        assert text in page, text
    assert "e-" not in page and "0.6927" not in page
    assert type(shown.head(1)).__name__ == "Table" and shown.head(1).attrs["percent"] == ["share"]


@pytest.mark.slow
def test_make_kernel_puts_the_venv_bin_on_the_kernel_path(tmp_path):
    """`!wb` in Lab: the kernel `make install` registers finds wb even when the PATH Lab was
    started with lacks the venv (as under `make lab` from a plain shell)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    venv = Path(sys.executable).parent.parent
    subprocess.run(
        ["make", "-s", "-C", str(ROOT), "kernel", f"VENV={venv}", f"KERNEL_PREFIX={tmp_path}"],
        check=True,
        capture_output=True,
    )
    kernels = tmp_path / "share" / "jupyter" / "kernels"
    spec = KernelSpecManager(kernel_dirs=[str(kernels)]).get_kernel_spec("wb")
    assert spec.env == {"PATH": f"{venv}/bin:${{PATH}}"}
    manager = KernelManager(
        kernel_name="wb", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    manager.start_kernel(env={**os.environ, "PATH": "/usr/bin:/bin"})
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        said = []
        client.execute_interactive(
            "import shutil; print(shutil.which('wb'))",
            output_hook=lambda msg: said.append(msg["content"].get("text", "")),
            timeout=60,
        )
        assert "".join(said).strip() == f"{venv}/bin/wb"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


# --------------------------------------------------------------------------- notebook 10, any banks

#: Every pair of the panel's 19 banks (171), and a fixed sample of them holding the pair whose
#: WeCom chart crashed notebook 10 (KeyError 'source_ids').
BANK_IDS = "abc bob boc bocom ccb ceb cib citic cmb cmbc czb hxb icbc jsb nbcb pab psbc spdb srcb"
BANK_PAIRS = list(itertools.combinations(BANK_IDS.split(), 2))
SAMPLE = sorted({("cmb", "pab"), *random.Random(20).sample(BANK_PAIRS, 7)})


@pytest.fixture(scope="module")
def bank_panel():
    from wb.banks.panel import Panel

    return Panel.load(ROOT / "data" / "bank_panel.csv")


def test_the_pairs_are_of_the_panels_banks(bank_panel):
    assert BANK_IDS.split() == bank_panel.banks()


@pytest.mark.parametrize(  # 56 charts a period: one period in the quick tier, both in make test
    "period", ["H1 2025", pytest.param("FY2024", marks=pytest.mark.slow)]
)
def test_notebook_10_calls_succeed_for_a_sample_of_bank_pairs(bank_panel, period):
    """What notebook 10's cells call, for 8 pairs of banks and both kinds of period: every
    chart draws with a title and every finding shows (all 171 pairs x 2 periods passed once by
    hand; papermill runs the real notebook for three pairs below)."""
    import matplotlib.pyplot as plt

    from wb.banks import comparison, newscheck
    from wb.plots.banks import CHARTS, BankCharts

    news = newscheck.check(bank_panel)
    for pair in SAMPLE:
        charts = BankCharts(bank_panel, period, banks=list(pair))
        found = comparison.findings(bank_panel, period, charts.periods, charts.banks)
        for key, chart in CHARTS.items():
            fig = chart(bank_panel, banks=charts.banks, **charts.arguments(key))
            assert fig.get_suptitle(), (pair, key)
            plt.close(fig)
        assert all(f._repr_html_() for f in found) and news._repr_html_()
        artifact = comparison.comparison_artifact(bank_panel, period, found, news, [])
        comparison.DOCUMENT.check(artifact, comparison.ARTIFACT_NAME)  # what charts.write checks


@pytest.mark.slow
@pytest.mark.parametrize(
    ("period", "banks"),
    [("FY2024", ["cmb", "pab"]), ("FY2024", ["JSB", "srcb"])],
)
def test_notebook_10_runs_to_the_end_for_banks_without_some_figures(tmp_path, period, banks):
    """Before: KeyError 'source_ids' at the WeCom chart, so Run All never reached the trends,
    the news check or the exports. Names in Chinese or English pick the same banks (招商银行
    and 平安 for H1 2025: the inline-backend test above)."""
    outputs = execute(
        "10_bank_comparison", tmp_path / "figs", inline=False, period=period, banks=banks
    )
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert (tmp_path / "figs" / "bank_comparison.json").is_file()
    assert len(list((tmp_path / "figs").glob("bank_*.png"))) == 7
