"""`wb uplift`: writes a valid uplift.json and figures; invalid input exits 2 and writes nothing."""

from __future__ import annotations

import json

import pytest
from helpers import wb_in_process

from wb.errors import NotIdentified
from wb.run import uplift_outputs
from wb.uplift.schema import validate_document
from wb.uplift.simulate import SimulationConfig, write

FIGURES = (
    "uplift_forest",
    "uplift_binscatter",
    "uplift_by_quota",
    "uplift_event_study",
    "uplift_bunching",
    "uplift_dynamic",
    "uplift_designs",
    "uplift_sensitivity",
)
DESIGN_KEYS = (
    "event_study",
    "wald_did",
    "honest_did",
    "bunching",
    "by_certification",
    "outcomes",
    "robustness",
    "iv_was",
    "dynamic_effects",
)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "s.parquet"
    write(SimulationConfig(n_rms=600, n_months=24, seed=1, beta_quota=0), path)
    return path


def test_full_run_writes_json_and_figures(tmp_path, export):
    out = tmp_path / "u"
    result = wb_in_process("uplift", "--data", str(export), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out / "uplift.json")
    doc = json.loads((out / "uplift.json").read_text())
    validate_document(doc)
    assert doc["data"]["simulated"] is True
    assert doc["verdict"]["code"] in ("no_detectable_uplift", "positive_uplift", "negative_uplift")
    assert all(key in doc for key in DESIGN_KEYS) and doc["design_notes"] == []
    assert set(doc["event_study"]) == {"aum_change_cny", "wecom_adds", "wecom_certified_adds"}
    assert doc["event_study"]["wecom_adds"]["alternatives"][0]["estimator"] == "imputation"
    assert "Wald-DiD" in result.stdout and "time: bunching" in result.stderr
    assert "uplift: three estimates, diagnostics and designs: " in result.stderr
    for stem in FIGURES:
        assert (out / f"{stem}.png").stat().st_size > 10_000
        svg = (out / f"{stem}.svg").read_text()
        assert "SIMULATED" in svg or "<path" in svg
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_the_analysis_reports_each_step_on_stderr_unless_quiet(tmp_path, export, capsys):
    from wb.run import uplift_outputs

    uplift_outputs.analyse(export, tmp_path / "a", quick=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[::2] == [
        "uplift: load and validate the export ...",
        "uplift: three estimates and diagnostics ...",
        "uplift: write uplift.json ...",
    ]
    assert all(line.endswith(" s") for line in lines[1::2])
    uplift_outputs.analyse(export, tmp_path / "b", quick=True, quiet=True)
    assert capsys.readouterr().err == ""


def test_quick_writes_only_json(tmp_path, export):
    out = tmp_path / "q"
    assert (
        wb_in_process("uplift", "--data", str(export), "--out", str(out), "--quick").returncode == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["uplift.json"]
    doc = json.loads((out / "uplift.json").read_text())
    assert not any(key in doc for key in DESIGN_KEYS)


@pytest.mark.slow  # end to end: two full wb uplift runs
def test_designs_the_data_cannot_support_are_skipped_with_a_note(tmp_path, export):
    """Every RM gets a quota, in one of two months: no never-treated trend for bunching; the
    rest still runs. Had every branch started in the same month, the month effects would
    absorb the instrument: that is exit 2 with the reason, nothing written."""
    import pandas as pd

    frame = pd.read_parquet(export)
    start = frame["branch_id"].map(lambda b: "2024-07" if int(b[2:]) % 2 else "2025-01")
    same = frame.assign(quota_target=frame["month"].ge("2025-01").astype("int64") * 50)
    same.to_parquet(tmp_path / "same_month.parquet")
    out = tmp_path / "u"
    result = wb_in_process(
        "uplift", "--data", str(tmp_path / "same_month.parquet"), "--out", str(out)
    )
    assert result.returncode == 2 and "same month" in result.stderr
    assert not out.exists()
    frame["quota_target"] = (frame["month"] >= start).astype("int64") * 50
    path = tmp_path / "two_months.parquet"
    frame.to_parquet(path)
    result = wb_in_process("uplift", "--data", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / "uplift.json").read_text())
    validate_document(doc)
    assert "robustness" in doc and "by_certification" in doc
    assert doc["design_notes"], doc.get("design_notes")


def test_invalid_input_exit_2_and_nothing_written(tmp_path, small_export):
    bad = small_export.copy()
    bad.loc[5, "wecom_adds"] = -1
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    out = tmp_path / "never"
    result = wb_in_process("uplift", "--data", str(path), "--out", str(out))
    assert result.returncode == 2
    assert "row 7" in result.stderr
    assert not out.exists()


def test_an_export_without_adds_is_refused_before_any_worker_starts(
    tmp_path, small_export, monkeypatch
):
    """The estimates' own checks run before the work is shared out, so whether a worker's
    design meets the same data first cannot change the error."""
    path = tmp_path / "no_adds.parquet"
    small_export.assign(wecom_adds=0, wecom_certified_adds=0).to_parquet(path)

    def started(*args, **kwargs):
        raise AssertionError("workers started on an export the analysis cannot use")

    monkeypatch.setattr(uplift_outputs, "run_all", started)
    with pytest.raises(NotIdentified, match="no variation in adds"):
        uplift_outputs.analyse(path, tmp_path / "u", workers=2, quiet=True)
    assert not (tmp_path / "u" / "uplift.json").exists()


def test_earlier_output_kept_when_a_rerun_fails(tmp_path, export, small_export):
    out = tmp_path / "u"
    assert (
        wb_in_process("uplift", "--data", str(export), "--out", str(out), "--quick").returncode == 0
    )
    before = (out / "uplift.json").read_bytes()
    bad = tmp_path / "bad.csv"
    small_export.assign(aum_cny=-1).to_csv(bad, index=False)
    assert wb_in_process("uplift", "--data", str(bad), "--out", str(out), "--quick").returncode == 2
    assert (out / "uplift.json").read_bytes() == before


@pytest.mark.slow  # end to end: a full wb uplift with figures
def test_personal_data_never_reaches_outputs(tmp_path, small_export):
    frame = small_export.copy()
    frame["客户姓名"] = "王五六"
    frame["mobile"] = "13700001111"
    path = tmp_path / "pii.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "u"
    result = wb_in_process("uplift", "--data", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    texts = [result.stdout, result.stderr] + [
        p.read_text(errors="ignore") for p in out.iterdir() if p.suffix != ".png"
    ]
    for text in texts:
        assert "王五六" not in text and "13700001111" not in text


def test_the_analysis_runs_without_writing_a_file(tmp_path, export):
    """In Jupyter an analyst can analyse without an output folder: nothing is written, and
    every figure is drawn from the result objects on request."""
    from wb.run import uplift_outputs

    before = sorted(p.name for p in export.parent.iterdir())
    analysis = uplift_outputs.analyse(export, quiet=True)
    assert sorted(p.name for p in export.parent.iterdir()) == before
    assert not list(tmp_path.rglob("uplift.json"))
    fig = uplift_outputs.draw(analysis, "uplift_forest")
    assert fig is not None and fig.get_axes()
    assert (
        analysis.to_json()["estimates"]["iv_quota"]["coef"]
        == analysis.result.estimate_of("iv_quota").coef
    )
