"""`wb run` keeps every error's type and exit code through its failure path (the summary that
names the failed run folder is added without calling the error's constructor), a broken
warehouse included: in process, since a subprocess would prove nothing more."""

from __future__ import annotations

import inspect
import json
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from warehouse_cases import edge_tables, write_source

from wb import cli, errors
from wb.door.problems import Problem, ValidationError
from wb.run import inputs, runner
from wb.warehouse.validate import Problem as WarehouseProblem
from wb.warehouse.validate import WarehouseValidationError

FIXTURES = Path(__file__).parents[1] / "fixtures"

#: One instance of every error class ``wb`` raises, each built with its own constructor.
ERRORS = [
    errors.WbError("an expected failure"),
    errors.InputError("an invalid input"),
    errors.NotIdentified("no variation in adds"),
    errors.NoNeverTreated("no never-treated RMs"),
    errors.ExportError("the PDF check failed"),
    errors.CellError("a cell raised"),
    errors.RunTimeoutError("a cell timed out"),
    errors.KernelError("the kernel died"),
    errors.LockedError("another wb run holds the lock"),
    errors.RunInterrupted("run interrupted by SIGTERM", 15),
    ValidationError([Problem("export", ("month",), "a month as YYYY-MM", (2,))], "f", "rm_month"),
    WarehouseValidationError(
        [WarehouseProblem("quota", "quota_target", "gt_0", "a target above 0", 1)], "data.x"
    ),
]


def test_every_error_class_is_covered():
    defined = {
        c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.WbError)
    }
    assert defined <= {type(e) for e in ERRORS}


def _params(tmp_path: Path, data: dict) -> Path:
    """A params file with one notebook (never reached: the runs below fail before it)."""
    (tmp_path / "notebooks").mkdir()
    nb = shutil.copy(FIXTURES / "artifacts.py", tmp_path / "notebooks" / "uplift.py")
    params = {
        "period": "H1 2025",
        "brief": {"title": "Test brief", "date": "2025-07-01"},
        "data": {"rm_month": data},
        "notebooks": [{"path": str(nb), "section": "uplift", "inputs": {"data_path": "rm_month"}}],
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _wb_run(params: Path, out: Path, monkeypatch) -> int:
    """``wb run PARAMS --out OUT`` in this process; its exit code."""
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() sets its own
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")  # a run sets it: restored afterwards
    with pytest.raises(SystemExit) as done:
        cli.main(["run", str(params), "--out", str(out)])
    return done.value.code


def _failed_manifest(out: Path) -> dict:
    (folder,) = (out / "failed").iterdir()
    return json.loads((folder / "manifest.json").read_text())


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_a_failed_run_keeps_the_error_s_type_and_exit_code(tmp_path, monkeypatch, capsys, error):
    def fail(self) -> None:
        raise error

    monkeypatch.setattr(inputs.Inputs, "simulate", fail)
    params = _params(tmp_path, {"simulate": {"n_rms": 40, "n_months": 8}})
    out = tmp_path / "runs"
    assert _wb_run(params, out, monkeypatch) == error.exit_code
    said = capsys.readouterr().err
    assert str(error).splitlines()[0] in said and f"see {out}/failed/" in said
    assert "internal error" not in said
    assert _failed_manifest(out)["exit_code"] == error.exit_code
    with pytest.raises(type(error)) as raised:  # the library call: the same type
        runner.run(params, tmp_path / "again", say=lambda line: None)
    assert type(raised.value) is type(error) and raised.value.__cause__ is error
    assert raised.value.exit_code == error.exit_code
    assert vars(raised.value) == vars(error)  # problems, a signal's exit code: kept
    assert str(raised.value).splitlines()[-1].startswith(f"see {tmp_path / 'again'}/failed/")


def test_a_broken_warehouse_exits_2_naming_table_rule_and_count(tmp_path, monkeypatch, capsys):
    """A duplicated customer-month in the warehouse a run builds its panel from: exit 2 with
    table, rule and count, the source folder named by its label only."""
    tables = edge_tables()
    cm = tables["customer_month"]
    tables["customer_month"] = pd.concat([cm, cm.iloc[[0]]], ignore_index=True)
    source = write_source(tmp_path / "branch_007_zhang_san", tables)
    params = _params(tmp_path, {"warehouse": {"source": str(source), "engine": "duckdb"}})
    out = tmp_path / "runs"
    assert _wb_run(params, out, monkeypatch) == 2
    said = capsys.readouterr().err
    assert "data.rm_month (warehouse rm_month): 1 broken rule" in said
    assert "customer_month: column customer_id, month: rule unique_key: 2 rows" in said
    assert source.name not in said.replace(f"see {out}", "")
    manifest = _failed_manifest(out)
    assert manifest["exit_code"] == 2 and manifest["status"] == "failed"
    assert "unique_key" in manifest["error"]["error"]
    assert source.name not in json.dumps(manifest)
