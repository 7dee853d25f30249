"""The CLI contract: examples in every --help, exit codes, short errors without tracebacks."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import wb_in_process


@pytest.mark.parametrize("command", [[], ["validate"], ["simulate"], ["uplift"], ["run"]])
def test_help_shows_an_example(command):
    result = wb_in_process(*command, "--help")
    assert result.returncode == 0
    assert "Example:" in result.stdout
    assert "wb " in result.stdout.split("Example:")[1]


def test_simulate_then_validate(tmp_path):
    out = tmp_path / "x.parquet"
    result = wb_in_process(
        "simulate", "--out", str(out), "--rms", "300", "--months", "24", "--seed", "1"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.parquet.truth.json").is_file()
    result = wb_in_process("validate", "--data", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().count("\n") == 0
    assert "300 RMs" in result.stdout and "24 months (2024-01 to 2025-12)" in result.stdout


def _broken(small_export: pd.DataFrame) -> pd.DataFrame:
    frame = small_export.head(20).copy()
    frame.loc[2, "wecom_adds"] = -4  # row 4
    frame.loc[6, "wecom_certified_adds"] = frame.loc[6, "wecom_adds"] + 5  # row 8
    frame = pd.concat([frame, frame.iloc[[10]]], ignore_index=True)  # rows 12 and 22
    frame["branch_id"] = "分行" + frame["branch_id"]
    return frame


@pytest.mark.parametrize("kind", ["csv", "xlsx", "gb18030"])
def test_broken_file_exit_2_names_rows_and_columns(tmp_path, small_export, kind):
    frame = _broken(small_export)
    path = tmp_path / ("bad.xlsx" if kind == "xlsx" else "bad.csv")
    if kind == "xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, encoding="gb18030" if kind == "gb18030" else "utf-8")
    result = wb_in_process("validate", "--data", str(path))
    assert result.returncode == 2
    err = result.stderr
    assert "Traceback" not in err
    assert "3 problems" in err
    assert "column 'wecom_adds', row 4: expected a value >= 0; found -4" in err
    assert "columns 'wecom_certified_adds', 'wecom_adds', row 8" in err
    assert "columns 'rm_id', 'month', rows 12, 22" in err
    assert ("GB18030" in err) == (kind == "gb18030")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["validate"], 2, "Missing option '--data'"),
        (["validate", "--data", "nope.csv"], 2, "file not found"),
        (["validate", "--data", "x.json"], 2, "unsupported file type"),
        (["validate", "--data", "."], 2, "a folder, not a file"),
        (["validate", "--data", "x.csv", "--schema", "foo"], 2, "Invalid value for '--schema'"),
        (["simulate", "--out", "x.txt"], 2, "expected a .csv, .parquet or .xlsx path"),
        (["simulate", "--out", "x.csv", "--rms", "2"], 2, "--rms must be at least 20"),
        (["simulate", "--out", "x.csv", "--rms", "many"], 2, "Invalid value"),
        (["nope"], 2, "No such command"),
    ],
)
def test_exit_codes(tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = wb_in_process(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(tmp_path):
    result = wb_in_process("validate", "--data", str(tmp_path / "nope.csv"), "--debug")
    assert result.returncode == 2
    assert "Traceback" in result.stderr
