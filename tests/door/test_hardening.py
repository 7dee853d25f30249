"""Breaks a careless or hostile user would try, one test (or a few) per kind: nonsense never
reported as success, no personal data through side doors, numbers read exactly or refused,
bounded work, honest exit codes, literal text in figures."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import canary_cases
import pandas as pd
import psutil
import pytest
import yaml
from helpers import wb, wb_in_process

from wb.errors import ExportError, InputError
from wb.uplift.simulate import SimulationConfig, simulate, write

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parents[1] / "fixtures"
WB = str(ROOT / ".venv" / "bin" / "wb")
HOSTILE = "王五_13600001234"
PHONE = "13600001234"


def strict_json(path: Path) -> dict:
    """Parse as strict JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{path.name}: non-finite number {token}")

    return json.loads(path.read_text("utf-8"), parse_constant=refuse)


def export(n_rms: int = 60, n_months: int = 12, seed: int = 3) -> pd.DataFrame:
    return simulate(SimulationConfig(n_rms=n_rms, n_months=n_months, seed=seed))[0]


def csv(tmp_path: Path, frame: pd.DataFrame, name: str = "x.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- 1 nonsense


def _no_quota(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(quota_target=0)


def _always_quota(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(quota_target=50)


def _no_adds(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(wecom_adds=0, wecom_certified_adds=0)


def _constant_aum(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(aum_cny=1e8)


def _one_branch(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(branch_id="b1")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_no_quota, "quota"),
        (_always_quota, "quota"),
        (_no_adds, "adds"),
        (_constant_aum, "AUM"),
        (_one_branch, "branch"),
    ],
)
@pytest.mark.parametrize("quick", [True, False])
def test_an_unsupported_analysis_exits_2_with_the_reason_and_writes_nothing(
    tmp_path, change, reason, quick
):
    data = csv(tmp_path, change(export()))
    out = tmp_path / "u"
    done = wb_in_process(
        "uplift", "--data", str(data), "--out", str(out), *(["--quick"] if quick else [])
    )
    assert done.returncode == 2, done.stderr
    assert reason in done.stderr and "∞" not in done.stdout + done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_the_json_writer_refuses_non_finite_numbers(tmp_path):
    from wb.door.atomic import write_json

    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="finite"):
            write_json({"a": [1.0, {"b": bad}]}, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_an_unbounded_anderson_rubin_set_is_not_printed_as_an_interval():
    from wb.uplift.result import Estimate, Interval
    from wb.uplift.verdict import make_verdict

    e = Estimate("iv_quota", "wecom_adds", -733441.0, 9e5, -2e6, 1e6, 0.4, 300)
    verdict = make_verdict(e, Interval("two_rays", 67810.0, 67810.5), True, e, e)
    assert verdict.code == "no_detectable_uplift"
    assert "interval +67,810 to +67,810" not in verdict.text
    assert "outside" in verdict.text or "unbounded" in verdict.text


# --------------------------------------------------------------------------- 2 small exports


@pytest.mark.slow
@pytest.mark.parametrize(
    ("n_rms", "n_months", "seed"), [(20, 8, 2), (50, 12, 1), (100, 12, 2), (150, 12, 2)]
)
def test_small_exports_give_the_full_analysis(tmp_path, n_rms, n_months, seed):
    data = tmp_path / "s.parquet"
    write(SimulationConfig(n_rms=n_rms, n_months=n_months, seed=seed), data)
    out = tmp_path / "u"
    done = wb_in_process("uplift", "--data", str(data), "--out", str(out))
    assert done.returncode == 0, done.stderr
    doc = strict_json(out / "uplift.json")
    assert "design_notes" in doc
    assert all((out / f"uplift_{s}.svg").is_file() for s in ("forest", "designs"))


# --------------------------------------------------------------------------- 3 file names


def _assert_nowhere(texts: dict[str, str]) -> None:
    for where, text in texts.items():
        for secret in (HOSTILE, "王五", PHONE):
            assert secret not in text, f"{secret!r} in {where}"


def _output_texts(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` as text; PDFs through pdftotext, binaries as latin-1."""
    texts = {}
    for path in folder.rglob("*"):
        if path.is_symlink():
            texts[f"{path} (link)"] = os.readlink(path)
        if not path.is_file():
            continue
        texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".pdf":
            texts[f"{path} (text)"] = subprocess.run(
                ["pdftotext", str(path), "-"], capture_output=True, text=True
            ).stdout
    return texts


@pytest.mark.slow  # end to end: validate and a full wb uplift
def test_a_hostile_file_name_stays_out_of_validate_and_uplift(tmp_path):
    folder = tmp_path / HOSTILE
    folder.mkdir()
    data = csv(folder, export().assign(客户姓名="张三"), f"{HOSTILE}.csv")
    done = wb_in_process("validate", "--data", str(data))
    assert done.returncode == 0, done.stderr
    _assert_nowhere({"validate stdout": done.stdout, "validate stderr": done.stderr})
    out = tmp_path / "u"
    done = wb_in_process("uplift", "--data", str(data), "--out", str(out))
    assert done.returncode == 0, done.stderr
    _assert_nowhere(
        {"uplift stdout": done.stdout, "uplift stderr": done.stderr, **_output_texts(out)}
    )
    bad = csv(folder, export().assign(wecom_adds=-1), f"{HOSTILE}.csv")
    done = wb_in_process("validate", "--data", str(bad))
    assert done.returncode == 2
    _assert_nowhere({"validate error": done.stderr})


def _project(tmp_path: Path, *notebooks: str) -> Path:
    """A project folder (``pyproject.toml``, ``notebooks/``) with copies of the notebooks."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    for nb in notebooks:
        source = ROOT / "notebooks" / nb if (ROOT / "notebooks" / nb).is_file() else FIXTURES / nb
        shutil.copy(source, project / "notebooks" / nb)
    return project


def _sleeps_params(tmp_path: Path, seconds: float) -> Path:
    """A project whose one notebook sleeps ``seconds``, and its params file."""
    params = _project(tmp_path, "sleeps.py") / "params.yaml"
    notebook = {
        "path": "notebooks/sleeps.py",
        "section": "uplift",
        "parameters": {"seconds": seconds},
    }
    params.write_text(
        yaml.safe_dump({"period": "H1 2025", "brief": {"title": "t"}, "notebooks": [notebook]})
    )
    return params


@pytest.mark.slow
@pytest.mark.xdist_group("export_run")
def test_a_hostile_file_name_and_a_small_export_through_wb_run(export_run):
    """A small export (50 RMs x 12 months) whose folder and file are named after a customer
    (name and phone number) runs through ``wb run`` and notebook 20 to a brief; neither the
    name nor the number reaches what it prints or any file of the run (the run:
    ``export_run`` in tests/conftest.py). Every file is group-readable, none world-writable."""
    assert canary_cases.NAME in str(export_run.data)
    assert canary_cases.PHONE in export_run.data.name
    assert (export_run.folder / "brief.pdf").is_file()
    texts = {"stdout": export_run.stdout, "stderr": export_run.stderr}
    texts |= _output_texts(export_run.out)
    assert not [found for where, text in texts.items() for found in canary_cases.leaks(text, where)]
    for path in export_run.folder.rglob("*"):
        mode = path.stat().st_mode
        assert mode & stat.S_IRGRP and not mode & stat.S_IWOTH, path


# --------------------------------------------------------------------------- 4 extends


def test_extends_reads_only_yaml_in_the_project_and_never_prints_a_refused_file(tmp_path):
    from wb.run import params

    secret = tmp_path / "shadow"
    secret.write_text("root: $6$secretvalue\ndaemon: '*'\n")
    project = _project(tmp_path)
    for target in (str(secret), "../shadow"):
        path = project / "p.yaml"
        path.write_text(f"extends: {target}\nperiod: H1 2025\n")
        with pytest.raises(InputError) as err:
            params.load(path)
        assert "secretvalue" not in str(err.value) and "daemon" not in str(err.value)
    outside = tmp_path / "base.yaml"
    outside.write_text("root: secretvalue\n")
    path = project / "p.yaml"
    path.write_text(f"extends: {outside}\nperiod: H1 2025\n")
    with pytest.raises(InputError, match="inside the project") as err:
        params.load(path)
    assert "secretvalue" not in str(err.value)
    broken = project / "broken.yaml"
    broken.write_text("period: [secretvalue\n")
    path.write_text("extends: broken.yaml\n")
    with pytest.raises(InputError) as err:
        params.load(path)
    assert "secretvalue" not in str(err.value) and "line" in str(err.value)


# --------------------------------------------------------------------------- 5 signals


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_wb_run_exits_128_plus_signal_and_promotes_nothing(tmp_path, signum, code):
    params = _sleeps_params(tmp_path, seconds=60)
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [WB, "run", str(params), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not list(out.glob(".staging-*/notebooks/sleeps.ipynb")):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.2)
    time.sleep(2)
    kernels = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    for child in kernels:
        if child.is_running():
            child.kill()
    assert proc.returncode == code, stderr
    assert "interrupted" in stderr and "sleeps" in stderr
    assert not list(out.glob(".staging-*")) and not (out / "latest").exists()
    assert {p.name for p in out.iterdir()} <= {".lock", "failed"}
    (failed,) = (out / "failed").iterdir()
    record = json.loads((failed / "manifest.json").read_text())
    assert (record["status"], record["exit_code"]) == ("interrupted", code)


# --------------------------------------------------------------------------- 6 exact numbers


@pytest.mark.parametrize(
    ("column", "value", "row_text"),
    [
        ("aum_cny", "172889567,50", "row 4"),
        ("wecom_adds", str(2**63 + 5), "row 4"),
        ("rm_id", "rm\x0007", "row 4"),
    ],
)
def test_numbers_are_read_exactly_or_refused_with_row_and_column(tmp_path, column, value, row_text):
    frame = export().astype(str)
    frame.loc[2, column] = value
    data = csv(tmp_path, frame)
    done = wb_in_process("validate", "--data", str(data))
    assert done.returncode == 2, done.stdout
    assert row_text in done.stderr and f"'{column}'" in done.stderr


def test_a_duplicate_column_name_is_refused(tmp_path):
    frame = export()
    path = tmp_path / "dup.csv"
    text = frame.to_csv(index=False).splitlines()
    text = [f"{line},{line.split(',')[3]}" for line in text]  # wecom_adds twice
    path.write_text("\n".join(text) + "\n")
    done = wb_in_process("validate", "--data", str(path))
    assert done.returncode == 2
    assert "wecom_adds" in done.stderr and "row 1" in done.stderr


def test_a_large_thousands_separated_number_is_still_read(tmp_path):
    frame = export().astype(str)
    frame.loc[2, "aum_cny"] = "172,889,567.50"
    done = wb_in_process("validate", "--data", str(csv(tmp_path, frame)))
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- 7 renderer


@pytest.mark.parametrize("scheme", ["FILE", "File", "file"])
def test_the_renderer_refuses_outside_files_inside_data_documents_in_any_case(tmp_path, scheme):
    import base64

    from wb.run import brief

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="10" height="10"><image xlink:href="{scheme}:///etc/hostname" '
        'width="10" height="10"/></svg>'
    )
    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    for html in (
        f'<html lang="zh-CN"><body><p>标题</p><img src="{src}"></body></html>',
        f'<html lang="zh-CN"><body><p>标题</p><img src="{scheme}:///etc/hostname"></body></html>',
    ):
        with pytest.raises(ExportError):
            brief.write_pdf(html, tmp_path, tmp_path / "brief.pdf")
        assert not (tmp_path / "brief.pdf").exists()


# --------------------------------------------------------------------------- 8 bounded work


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_an_input_above_the_size_limit_is_refused_before_loading(tmp_path, suffix):
    frame = export(n_rms=20, n_months=12)
    path = tmp_path / f"x{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_excel(path, index=False)
    done = wb_in_process("validate", "--data", str(path), env={"WB_MAX_INPUT_CELLS": "500"})
    assert done.returncode == 2, done.stdout
    assert "WB_MAX_INPUT_CELLS" in done.stderr and "500" in done.stderr
    done = wb_in_process("validate", "--data", str(path))
    assert done.returncode == 0, done.stderr


def test_a_parquet_claiming_huge_row_counts_is_refused_from_its_metadata(tmp_path, monkeypatch):
    from wb.door import io

    path = tmp_path / "x.parquet"
    export(n_rms=20).to_parquet(path)
    monkeypatch.setenv("WB_MAX_INPUT_CELLS", "1000")
    with pytest.raises(InputError, match="rows"):
        io.load(path)


@pytest.mark.parametrize(
    "args", [["--rms", str(10**12)], ["--rms", "20000000"], ["--months", "10000"]]
)
def test_simulate_sizes_are_bounded_on_the_command_line(tmp_path, args):
    done = wb_in_process("simulate", "--out", str(tmp_path / "s.parquet"), *args)
    assert done.returncode == 2 and "at most" in done.stderr


# --------------------------------------------------------------------------- 9 messages, panel


def test_headers_and_values_that_may_be_personal_are_never_echoed(tmp_path):
    frame = export().astype(str)
    frame[PHONE] = "1"
    frame["张三"] = "1"
    frame.loc[2, "month"] = "王五"
    done = wb_in_process("validate", "--data", str(csv(tmp_path, frame)))
    assert done.returncode == 2
    _assert_nowhere({"stderr": done.stderr})
    assert "张三" not in done.stderr and "row 4" in done.stderr


def test_bank_panel_text_columns_are_screened(tmp_path):
    panel = pd.read_csv(ROOT / "data" / "bank_panel.csv", dtype=str, keep_default_na=False)
    sources = pd.read_csv(ROOT / "data" / "sources.csv", dtype=str, keep_default_na=False)
    if "bank_name" not in panel.columns:
        panel["bank_name"] = ""
    panel.loc[0, "bank_name"] = "110101199003077777"
    sources.loc[0, "publisher"] = f"call {PHONE}"
    panel.to_csv(tmp_path / "bank_panel.csv", index=False)
    sources.to_csv(tmp_path / "sources.csv", index=False)
    done = wb_in_process("validate", "--data", str(tmp_path / "bank_panel.csv"))
    assert done.returncode == 2
    assert "bank_name" in done.stderr and "110101199003077777" not in done.stderr
    panel.loc[0, "bank_name"] = "建设银行"
    panel.to_csv(tmp_path / "bank_panel.csv", index=False)
    done = wb_in_process("validate", "--data", str(tmp_path / "bank_panel.csv"))
    assert done.returncode == 2
    assert "publisher" in done.stderr and PHONE not in done.stderr


# --------------------------------------------------------------------------- 10 user errors


def test_user_mistakes_on_paths_and_sizes_exit_2_never_1(tmp_path):
    data = tmp_path / "s.parquet"
    write(SimulationConfig(n_rms=40, n_months=8, seed=1), data)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, Path("/"), Path("/proc/wb-cannot")):
        done = wb_in_process("uplift", "--data", str(data), "--out", str(out), "--quick")
        assert done.returncode == 2, (out, done.stderr)
        assert "internal error" not in done.stderr
    (tmp_path / "d.parquet").mkdir()
    done = wb_in_process("simulate", "--out", str(tmp_path / "d.parquet"), "--rms", "40")
    assert done.returncode == 2 and "internal error" not in done.stderr


def test_params_mistakes_exit_2_before_any_folder(tmp_path):
    from wb.run.params import load

    project = _project(tmp_path, "sleeps.py")
    base = {
        "period": "H1 2025",
        "brief": {"title": "t"},
        "notebooks": [{"path": "notebooks/sleeps.py", "section": "uplift"}],
    }
    path = project / "p.yaml"
    path.write_text(yaml.safe_dump({**base, "data": {"x": {"simulate": {"n_rms": 10**12}}}}))
    with pytest.raises(InputError, match="at most"):
        load(path)
    path.write_bytes("period: H1 2025\ntitle: \xff\xfe".encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        load(path)
    path.write_text(
        yaml.safe_dump({**base, "brief": {"title": "t", "bank_figures": ["bank_icome"]}})
    )
    with pytest.raises(InputError, match="bank_icome"):
        load(path)
    shutil.copy(FIXTURES / "sleeps.py", project / "elsewhere.py")
    path.write_text(
        yaml.safe_dump({**base, "notebooks": [{"path": "elsewhere.py", "section": "uplift"}]})
    )
    with pytest.raises(InputError, match="notebooks/"):
        load(path)


def test_a_real_latest_folder_exits_2_before_the_run(tmp_path):
    params = _sleeps_params(tmp_path, seconds=0)
    out = tmp_path / "runs"
    (out / "latest").mkdir(parents=True)
    done = wb_in_process("run", str(params), "--out", str(out))
    assert done.returncode == 2 and "latest" in done.stderr
    assert {p.name for p in out.iterdir()} <= {"latest", ".lock"}
    done = wb_in_process("run", str(params), "--out", "/")
    assert done.returncode == 2


# --------------------------------------------------------------------------- 11 logo


def test_a_logo_inside_the_project_renders(tmp_path):
    sys.path.insert(0, str(FIXTURES))
    import fake_artifacts

    from wb.run import brief
    from wb.run.params import load

    project = _project(tmp_path, "sleeps.py")
    (project / "assets").mkdir()
    png = project / "assets" / f"{HOSTILE}.png"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(1, 1))
    fig.savefig(png)
    plt.close(fig)
    path = project / "p.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "period": "H1 2025",
                "brief": {"title": "徽标简报 Logo brief", "logo": f"assets/{HOSTILE}.png"},
                "notebooks": [{"path": "notebooks/sleeps.py", "section": "uplift"}],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    params = load(path)
    run = tmp_path / "run"
    fake_artifacts.write("uplift", str(run / "artifacts"), data_label="simulated")
    html, pdf = brief.build(params, run, run / "artifacts", {"uplift"}, 1751328000)
    assert pdf.is_file() and '<img class="logo"' in html.read_text()
    _assert_nowhere(_output_texts(run))
    outside = tmp_path / "logo.png"
    shutil.copy(png, outside)
    path.write_text(path.read_text().replace(f"assets/{HOSTILE}.png", str(outside)))
    with pytest.raises(InputError, match=r"brief\.logo"):
        load(path)


# --------------------------------------------------------------------------- 12 markup in data


def test_mathtext_and_markup_in_data_are_drawn_literally():
    import matplotlib as mpl

    from wb.plots.theme import save_figure, theme_context

    before = mpl.rcParams.copy()
    import matplotlib.pyplot as plt

    with theme_context():
        fig, ax = plt.subplots()
        ax.barh(["$\\frac{1}{", "银行 $x^2$", r"\textbf{a}"], [1, 2, 3])
        ax.set_title("$\\undefinedcommand$ 银行")
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"wb-mathtext-{os.getpid()}"
    paths = save_figure(fig, out, "m")
    plt.close(fig)
    assert "undefinedcommand" in paths[1].read_text() or paths[1].stat().st_size > 0
    shutil.rmtree(out)
    assert mpl.rcParams == before


# --------------------------------------------------------------------------- 13 smaller


def test_ragged_rows_and_huge_cells_name_the_row(tmp_path):
    lines = export().to_csv(index=False).splitlines()
    lines[5] += ",extra"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    done = wb_in_process("validate", "--data", str(path))
    assert done.returncode == 2 and "row 6" in done.stderr
    lines = export().to_csv(index=False).splitlines()
    cells = lines[7].split(",")
    cells[0] = "x" * 3_000_000
    lines[7] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    done = wb_in_process("validate", "--data", str(path))
    assert done.returncode == 2 and "row 8" in done.stderr and len(done.stderr) < 2000


def test_many_columns_are_refused_with_the_limit(tmp_path):
    path = tmp_path / "wide.csv"
    header = ",".join(["rm_id", "month", *(f"c{i}" for i in range(20_000))])
    path.write_text(header + "\n" + ",".join(["r1", "2024-01", *["1"] * 20_000]) + "\n")
    done = wb_in_process("validate", "--data", str(path))
    assert done.returncode == 2 and "columns" in done.stderr


def test_a_folder_fifo_or_symlink_loop_is_named_as_such(tmp_path):
    (tmp_path / "d.csv").mkdir()
    os.mkfifo(tmp_path / "f.csv")
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    for name, what in (("d.csv", "folder"), ("f.csv", "FIFO"), ("loop.csv", "loop")):
        done = wb("validate", "--data", str(tmp_path / name), timeout=30)
        assert done.returncode == 2 and what in done.stderr, done.stderr


def test_the_run_log_caps_long_lines():
    import io as _io

    from wb.run.kernel import CappedLog

    sink = _io.StringIO()
    log = CappedLog(sink, max_line=100)
    log.write("a" * 50 + "\n" + "b" * 1_000_000)
    log.write("b" * 1_000_000 + "\nok\n")
    text = sink.getvalue()
    assert len(text) < 1000 and text.endswith("ok\n") and "cut" in text


def test_json_outputs_and_atomic_files_share_one_mode(tmp_path):
    from wb.door.atomic import write_json, write_text
    from wb.run import manifest

    a = write_json({"a": 1}, tmp_path / "a.json")
    b = write_text(tmp_path / "b.txt", "x")
    c = manifest.write_json({"a": 1}, tmp_path / "manifest.json")
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (a, b, c)}
    assert len(modes) == 1
    (mode,) = modes
    assert mode & stat.S_IRGRP and not mode & stat.S_IWOTH


def test_the_bank_figure_stems_the_params_accept_are_the_ones_notebook_10_writes(tmp_path):
    from wb.banks.panel import Panel
    from wb.plots.banks import BankCharts
    from wb.run.brief_sections import BANK_FIGURES

    source = (ROOT / "notebooks" / "10_bank_comparison.py").read_text("utf-8")
    drawn = re.findall(r"charts\.draw\(([^)]*)\)", source)
    keys = {k for call in drawn for k in re.findall(r'"([a-z_]+)"', call)}
    charts = BankCharts(Panel.load(ROOT / "data" / "bank_panel.csv"), "H1 2025", out_dir=tmp_path)
    charts.draw("income", "wecom")
    assert [r["stem"] for r in charts.saved] == ["bank_income", "bank_wecom"]
    assert {f"bank_{k}" for k in keys} == set(BANK_FIGURES)  # the notebook draws every chart
    base = yaml.safe_load((ROOT / "params" / "base.yaml").read_text("utf-8"))
    assert set(base["brief"]["bank_figures"]) <= set(BANK_FIGURES)
