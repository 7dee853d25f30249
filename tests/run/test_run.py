"""`wb run` end to end: run folders, promotion, failures and their exit codes, the lock."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from helpers import wb, wb_in_process
from run_cases import TITLE, params_file

from wb.run import brief, brief_context, brief_sections

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parents[1] / "fixtures"
WB = str(ROOT / ".venv" / "bin" / "wb")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def earlier(tmp_path) -> Path:
    """An out folder holding an earlier good run that ``latest`` points to."""
    out = tmp_path / "runs"
    (out / "OLD").mkdir(parents=True)
    (out / "OLD" / "manifest.json").write_text('{"run_id": "OLD", "status": "ok"}')
    (out / "latest").symlink_to("OLD")
    return out


def assert_untouched(out: Path) -> None:
    assert os.readlink(out / "latest") == "OLD"
    assert [p.name for p in (out / "OLD").iterdir()] == ["manifest.json"]
    assert not list(out.glob(".staging-*"))
    promoted = {p.name for p in out.iterdir()} - {".lock", "latest", "failed", "OLD"}
    assert not promoted


@pytest.mark.slow
def test_run_folder_promotion_rerun_and_byte_identical_pdf(tmp_path):
    out = tmp_path / "runs"
    params = params_file(tmp_path)
    first = wb("run", str(params), "--out", str(out))
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip().splitlines()[-1])
    assert folder.parent == out.resolve() and (out / "latest").resolve() == folder
    assert not list(out.glob(".staging-*")) and not (out / "failed").exists()

    for rel in (
        "brief.pdf",
        "brief.html",
        "manifest.json",
        "run.log",
        "params.resolved.yaml",
        "notebooks/bank_comparison.ipynb",
        "notebooks/uplift.ipynb",
        "inputs/rm_month.parquet",
        "artifacts/bank_comparison.json",
        "artifacts/uplift.json",
        "workbook.xlsx",
    ):
        assert (folder / rel).is_file(), rel
    for stem in ("bank_aum", "bank_wecom", *brief_sections.UPLIFT_FIGURES):
        assert (folder / "artifacts" / f"{stem}.png").is_file()
        assert (folder / "artifacts" / f"{stem}.svg").is_file()

    m = json.loads((folder / "manifest.json").read_text())
    assert (m["status"], m["exit_code"], m["run_id"]) == ("ok", 0, folder.name)
    assert m["params"]["period"] == "H1 2025" and len(m["params_sha256"]) == 64
    assert m["data"]["data.rm_month"]["simulated"]["n_rms"] == 40
    assert [(n["name"], n["status"]) for n in m["notebooks"]] == [
        ("bank_comparison", "ok"),
        ("uplift", "ok"),
    ]
    assert all(n["duration_s"] > 0 for n in m["notebooks"])
    assert m["code"]["packages"]["weasyprint"].startswith("70")
    assert "git_commit" in m["code"] and "git_dirty" in m["code"]
    assert m["source_date_epoch"] == 1751328000 and m["started"] <= m["ended"]
    for rel, record in m["outputs"].items():
        assert sha(folder / rel) == record["sha256"], rel
    # the kernels talked over Unix sockets in the run's temporary folder, not over TCP (which
    # logs a warning about unencrypted traffic for every notebook) and not in the run folder
    assert "without encryption" not in (folder / "run.log").read_text(encoding="utf-8")
    assert not [p for p in folder.rglob("*") if p.is_socket()]

    pdf_text = subprocess.run(["pdftotext", str(folder / "brief.pdf"), "-"], capture_output=True)
    assert TITLE in pdf_text.stdout.decode() and "SIMULATED DATA" in pdf_text.stdout.decode()
    brief.check_pdf(folder / "brief.pdf", TITLE)
    # the executed notebooks got absolute paths and the run's out_dir
    nb = json.loads((folder / "notebooks" / "uplift.ipynb").read_text())
    injected = nb["metadata"]["papermill"]["parameters"]
    assert injected["data_label"] == "simulated" and Path(injected["out_dir"]).is_absolute()

    again = wb("run", str(params), "--out", str(out))
    assert again.returncode == 0 and "up to date" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == str(folder)

    forced = wb("run", str(params), "--out", str(out), "--force")
    assert forced.returncode == 0, forced.stderr
    second = Path(forced.stdout.strip().splitlines()[-1])
    assert second != folder and (out / "latest").resolve() == second
    assert sha(second / "brief.pdf") == sha(folder / "brief.pdf")
    assert sha(second / "artifacts" / "uplift_forest.svg") == sha(
        folder / "artifacts" / "uplift_forest.svg"
    )

    listed = wb("runs", "list", "--out", str(out))
    assert (
        listed.returncode == 0
        and folder.name in listed.stdout
        and "* " + second.name in listed.stdout
    )
    compared = wb("runs", "compare", folder.name, "latest", "--out", str(out))
    assert "inputs changed: none" in compared.stdout
    assert "key numbers changed: 0" in compared.stdout


@pytest.mark.slow
def test_a_cell_that_raises_exits_3_keeps_the_failed_folder_and_latest(tmp_path, earlier):
    done = wb("run", str(params_file(tmp_path, "raises")), "--out", str(earlier))
    assert done.returncode == 3
    summary = done.stderr.strip().splitlines()[-3:]
    assert summary[0].startswith("error: notebook raises.py, cell ")
    assert summary[1] == "ValueError: fixture failure: 数据不对"
    failed_nb = Path(summary[2].removeprefix("see "))
    assert failed_nb.is_file() and failed_nb.parts[-4] == "failed"
    assert "Traceback" not in done.stderr
    assert_untouched(earlier)
    record = json.loads((failed_nb.parents[1] / "manifest.json").read_text())
    assert (record["status"], record["exit_code"]) == ("failed", 3)
    assert [n["status"] for n in record["notebooks"]] == ["ok", "ok", "failed"]


@pytest.mark.slow
def test_debug_shows_the_traceback(tmp_path):
    params = params_file(tmp_path, "raises", alone=True)
    done = wb("run", str(params), "--out", str(tmp_path / "runs"), "--debug")
    assert done.returncode == 3 and "Traceback" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("notebook", "code"), [("sleeps", 4), ("dies", 5)])
def test_timeout_exits_4_and_a_dead_kernel_exits_5(tmp_path, earlier, notebook, code):
    params = params_file(tmp_path, notebook, alone=True, cell_timeout_s=5)
    done = wb("run", str(params), "--out", str(earlier))
    assert done.returncode == code, done.stderr
    assert f"notebook {notebook}.py, cell " in done.stderr
    assert_untouched(earlier)


@pytest.mark.slow
def test_a_brief_referencing_a_remote_url_exits_6(tmp_path, earlier):
    params = params_file(tmp_path, brief={"title": TITLE, "logo": "https://example.com/logo.png"})
    done = wb("run", str(params), "--out", str(earlier))
    assert done.returncode == 6
    assert "example.com" in done.stderr and "offline" in done.stderr
    assert_untouched(earlier)


def test_an_invalid_data_file_exits_2_before_any_kernel_or_folder(tmp_path, earlier):
    bad = tmp_path / "rm_month.csv"
    bad.write_text(
        "rm_id,branch_id,month,wecom_adds,wecom_certified_adds,quota_target,aum_cny\n"
        "RM1,BR1,2025-13,1,1,0,100\n",
        encoding="utf-8",
    )
    params = params_file(tmp_path, data={"rm_month": {"path": str(bad)}})
    done = wb_in_process("run", str(params), "--out", str(earlier))
    assert done.returncode == 2, done.stderr
    assert ": column 'month', row 2: expected a month as YYYY-MM" in done.stderr
    assert str(bad) not in done.stderr  # the file is named by its label, not its path
    assert_untouched(earlier)
    assert not (earlier / "failed").exists()


def test_a_second_concurrent_run_exits_75(tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    with (out / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        done = wb("run", str(params_file(tmp_path)), "--out", str(out))
    assert done.returncode == 75 and "another wb run holds" in done.stderr
    assert {p.name for p in out.iterdir()} == {".lock"}


@pytest.mark.slow
def test_kill_9_mid_run_never_leaves_a_promoted_folder(tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [WB, "run", str(params_file(tmp_path, "sleeps", alone=True)), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runner = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    while not list(out.glob(".staging-*/notebooks/sleeps.ipynb")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    kernels = runner.children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for child in kernels:  # the orphaned kernel of the killed run
        child.kill()
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == set()
    assert len(list(out.glob(".staging-*"))) == 1

    done = wb("run", str(params_file(tmp_path)), "--out", str(out))
    assert done.returncode == 0 and "interrupted run" in done.stderr
    (stale,) = (out / "failed").iterdir()
    assert json.loads((stale / "manifest.json").read_text())["status"] == "interrupted"
    assert (out / "latest").resolve() == Path(done.stdout.strip().splitlines()[-1])


def brief_text(html_path: Path) -> str:
    """The words a reader of the brief sees (the HTML without tags, entities decoded)."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", html_path.read_text(encoding="utf-8")))


def assert_unverified_marked(text: str) -> None:
    """Every unverified figure of the bundled panel, as printed, carries the unverified mark
    wherever the brief states it."""
    import re

    from wb.banks import display as bd
    from wb.banks import panel as bp

    real = bp.Panel.load(ROOT / "data" / "bank_panel.csv")
    rows = real.usable[real.usable["status"] == "unverified"]
    for r in rows.itertuples():
        shown = bd.display_value(r.value, r.qualifier, bd.value_kind(r.metric))
        for m in re.finditer(re.escape(shown) + r"(?!\d)", text):
            assert text[m.end() :].lstrip().startswith(bd.UNVERIFIED_MARK), (
                shown,
                text[m.start() - 80 : m.end() + 40],
            )


def test_runs_compare_lists_changed_inputs_and_key_numbers(tmp_path):
    from wb.run import runs

    folders = []
    for name, coef, data_hash in (("A", -662.0, "d1"), ("B", 150.0, "d2")):
        folder = tmp_path / name
        (folder / "artifacts").mkdir(parents=True)
        record = {"run_id": name, "status": "ok", "key_parts": {"data": data_hash, "wb": "w"}}
        (folder / "manifest.json").write_text(json.dumps(record))
        uplift = json.loads((FIXTURES / "artifacts" / "uplift.json").read_text())
        uplift["estimates"]["iv_quota"]["coef"] = coef
        (folder / "artifacts" / "uplift.json").write_text(json.dumps(uplift))
        folders.append(folder)
    lines = runs.compare(*folders)
    assert lines[0] == "inputs changed: data"
    assert lines[1] == "key numbers changed: 1 of 5"
    assert "工具变量 FE-2SLS (yuan/add): -662 [" in lines[2] and "→ 150 [" in lines[2]


@pytest.mark.slow
@pytest.mark.xdist_group("warehouse_run")
def test_a_run_builds_its_panel_from_a_warehouse_and_knows_when_it_is_up_to_date(warehouse_run):
    folder = warehouse_run.folder
    m = json.loads((folder / "manifest.json").read_text())
    entry = m["data"]["data.rm_month"]
    assert entry["engine"] == "duckdb" and entry["simulated"] is True
    assert (folder / entry["path"]).is_file() and (folder / entry["build"]).is_file()
    # the folder is named by a label only
    assert str(warehouse_run.source) not in json.dumps(m, ensure_ascii=False)
    # the customer-level uplift of the same source, recorded beside the build
    customer = folder / entry["customer_uplift"]["path"]
    assert entry["customer_uplift"]["path"] in m["outputs"]
    doc = json.loads(customer.read_text())
    assert doc["schema"] == "wb.customer_uplift/1" and doc["engine"] == "duckdb"
    assert doc["source"] == "simulated warehouse" and doc["simulated"] is True
    assert (customer.parent / "customer_uplift_paths.png").is_file()
    free = doc["att_by_kind"]["no_quota"]
    assert free["ci_low"] <= doc["truth"]["att_by_kind"]["no_quota"] <= free["ci_high"]
    html = " ".join((folder / "brief.html").read_text().split())
    assert f"holds {free['coef']:+,.0f} yuan of AUM" in html
    assert "customer_uplift/rm_month/customer_uplift_paths.png" in html
    # the notebooks' artifacts, each read back with its schema and figures, and the brief
    assert m["status"] == "ok" and {n["status"] for n in m["notebooks"]} == {"ok"}
    for section, artifact in brief_sections.SECTION_FILES.items():
        data = brief_context.load_artifact(section, folder / "artifacts")
        assert (folder / "artifacts" / artifact).is_file() and data
    brief.check_pdf(folder / "brief.pdf", m["title"])
    text = subprocess.run(["pdftotext", str(folder / "brief.pdf"), "-"], capture_output=True)
    assert "SIMULATED DATA" in text.stdout.decode()
    pages = subprocess.run(["pdfinfo", str(folder / "brief.pdf")], capture_output=True, text=True)
    assert 2 <= int(pages.stdout.split("Pages:")[1].split()[0]) <= 8
    assert_unverified_marked(brief_text(folder / "brief.html"))
    params, out = str(warehouse_run.params), str(warehouse_run.out)
    again = wb("run", params, "--out", out, timeout=300)
    assert again.returncode == 0 and "up to date" in again.stderr + again.stdout
    assert again.stdout.strip().splitlines()[-1] == str(folder)


def test_a_changed_warehouse_source_changes_the_run_key(tmp_path):
    """The up-to-date check follows a warehouse source's files: the same source gives the
    same run key, a source written again with another seed at the same path a new one (the
    key ``wb run`` compares with ``latest``'s; the end-to-end run above shows the match)."""
    from canary_cases import run_params

    from wb.run.params import load
    from wb.run.runner import Run

    source = tmp_path / "wh"

    def simulate(seed: str) -> None:
        args = ("--level", "customer", "--out", str(source), "--rms", "20", "--seed", seed)
        made = wb_in_process("simulate", *args)
        assert made.returncode == 0, made.stderr

    def key() -> str:
        return Run(load(params), params, tmp_path / "runs", lambda line: None).key

    simulate("1")
    params = run_params(ROOT / "exports" / f"key-{tmp_path.name}", source)
    try:
        first, same = key(), key()
        simulate("2")
        assert first == same != key()
    finally:
        shutil.rmtree(params.parent, ignore_errors=True)


@pytest.mark.slow
def test_the_params_seed_reaches_the_bootstrap(tmp_path):
    """Notebook 20 declares seed, data_label and simulated, so wb run passes them; the seed
    drives the designs' bootstrap draws (and the manifest records the params seed)."""
    from wb.run import uplift_outputs
    from wb.run.notebook_parameters import declared_parameters
    from wb.uplift.simulate import SimulationConfig, write

    declared = declared_parameters(ROOT / "notebooks" / "20_quota_uplift.py")
    assert {"seed", "data_label", "simulated"} <= declared
    data, _, _ = write(SimulationConfig(n_rms=300, n_months=24, seed=3), tmp_path / "x.parquet")

    def wald_ci(seed: int) -> tuple[float, float]:
        designs = uplift_outputs.analyse(data, seed=seed, quiet=True).designs  # nothing written
        return designs.wald_did.ci_low, designs.wald_did.ci_high

    first, same, other = wald_ci(1), wald_ci(1), wald_ci(2)
    assert first == same
    assert first != other


@pytest.fixture(scope="module")
def large_warehouse(tmp_path_factory) -> Path:
    """A simulated warehouse large enough that its build takes a second or more (about a
    million customer-months), so that a signal lands inside the engine's work."""
    source = tmp_path_factory.mktemp("large") / "wh"
    made = wb(
        "simulate", "--level", "customer", "--out", str(source), "--rms", "400",
        "--customers", "100", timeout=600,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return source


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_warehouse_build_inside_wb_run(
    tmp_path, earlier, large_warehouse, signum, code
):
    """SIGINT or SIGTERM while the engine checks the tables inside ``wb run``: exit 130 or
    143, the run recorded as interrupted in failed/, no build file half-written (no panel,
    no staging or spill folder), and the earlier run and ``latest`` kept."""
    folder = ROOT / "exports" / f"signal-{tmp_path.name}"
    folder.mkdir(parents=True)
    params = folder / "params.yaml"
    params.write_text(
        "extends: ../../params/ci_warehouse.yaml\n"
        f"data: {{rm_month: {{warehouse: {{source: '{large_warehouse}', engine: duckdb}}}}}}\n",
        encoding="utf-8",
    )
    try:
        proc = subprocess.Popen(
            [WB, "run", str(params), "--out", str(earlier)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        said = []
        while not said or "check customer_month ..." not in said[-1]:
            line = proc.stderr.readline()
            assert line, ("the run ended before the build's checks", "".join(said))
            said.append(line)
        time.sleep(0.05)  # inside the engine's work (checking customer_month takes ~0.2 s)
        proc.send_signal(signum)
        _, rest = proc.communicate(timeout=120)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    stderr = "".join(said) + rest
    assert proc.returncode == code, stderr
    assert f"interrupted by {signal.Signals(signum).name}" in stderr
    assert "warehouse: write: " not in stderr  # stopped inside the build, before its write
    assert_untouched(earlier)
    (failed,) = (earlier / "failed").iterdir()
    record = json.loads((failed / "manifest.json").read_text())
    assert (record["status"], record["exit_code"]) == ("interrupted", code)
    inputs = failed / "inputs"
    left = [p.name for p in inputs.rglob("*")] if inputs.exists() else []
    assert not [n for n in left if n.endswith(".parquet") or ".building-" in n or ".spill-" in n]


@pytest.mark.slow
@pytest.mark.xdist_group("export_run")
def test_the_run_log_of_a_good_run_says_nothing_false(export_run):
    """``run.log`` of a run of notebook 20 (tests/conftest.py, export_run): no papermill warning
    that a parameter the notebook declares (``data_path: str | None = None``) is unknown, and
    no kernel warning about unencrypted TCP (the kernels use Unix sockets), no error line
    (before, about one run in five had "ERROR | KeyboardInterrupt caught in kernel" from the
    interrupt jupyter_client sent the finished kernel at shutdown: tests/run/test_kernel.py)."""
    log = (export_run.folder / "run.log").read_text(encoding="utf-8")
    assert "unknown parameter" not in log and "without encryption" not in log, log[:2000]
    assert "ERROR" not in log and "KeyboardInterrupt" not in log, log[:2000]
