"""Params files: layering, validation before any kernel, cross-check against the notebooks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from wb import cli
from wb.errors import InputError
from wb.run import notebook_parameters, params

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parents[1] / "fixtures"


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def project_notebook(tmp_path):
    """tmp_path as a project folder: wb runs only notebooks under its notebooks/."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(FIXTURES / "artifacts.py", tmp_path / "notebooks")


def minimal(**over) -> dict:
    data = {
        "period": "H1 2025",
        "brief": {"title": "测试简报 Test brief"},
        "notebooks": [
            {
                "path": "notebooks/artifacts.py",
                "section": "bank_comparison",
                "parameters": {"fixtures": str(FIXTURES)},
            }
        ],
    }
    return data | over


def problems(path: Path) -> str:
    with pytest.raises(InputError) as err:
        params.load(path)
    assert err.value.exit_code == 2
    return str(err.value)


@pytest.mark.parametrize("name", ["demo.yaml", "fy2024.yaml"])
def test_bundled_params_files_validate_against_their_notebooks(name):
    p = params.load(ROOT / "params" / name)
    assert [nb.section for nb in p.notebooks] == ["bank_comparison", "uplift"]
    assert p.data["rm_month"].simulate is not None
    assert p.notebooks[0].path.is_absolute() and p.notebooks[0].path.is_file()


def test_scheduled_params_file_names_the_missing_export():
    """params/monthly.yaml (used by deploy/) is valid except for the bank's own export."""
    if (ROOT / "exports" / "rm_month.parquet").exists():
        pytest.skip("this machine has a real export in exports/")
    text = problems(ROOT / "params" / "monthly.yaml")
    assert "data.rm_month.path" in text and "exports/rm_month.parquet not found" in text


def test_extends_merges_mappings_and_replaces_the_rest(tmp_path):
    write(tmp_path / "base.yaml", minimal(seed=3, brief={"title": "基础", "subtitle": "sub"}))
    child = write(tmp_path / "child.yaml", {"extends": "base.yaml", "brief": {"title": "子"}})
    p = params.load(child)
    assert (p.seed, p.brief.title, p.brief.subtitle) == (3, "子", "sub")


def test_unknown_key_wrong_type_and_bad_period_are_named(tmp_path):
    path = write(
        tmp_path / "bad.yaml", minimal(colour="red", cell_timeout_s="soon", period="H3 2025")
    )
    text = problems(path)
    assert f"{path}: key 'colour': unknown key" in text
    assert "key 'cell_timeout_s': expected" in text and "'soon'" in text
    assert "key 'period': expected a period like FY2024" in text


def test_nested_unknown_key_and_missing_required_key(tmp_path):
    data = minimal()
    data["notebooks"][0]["secton"] = "uplift"
    del data["brief"]
    text = problems(write(tmp_path / "p.yaml", data))
    assert "key 'notebooks.0.secton': unknown key" in text
    assert "key 'brief': required, missing" in text


def test_missing_files_are_named_with_their_key(tmp_path):
    data = minimal(data={"panel": {"path": "nope/panel.csv"}})
    data["notebooks"][0]["path"] = "nope/x.py"
    text = problems(write(tmp_path / "p.yaml", data))
    assert "key 'data.panel.path': expected an existing file" in text
    assert "key 'notebooks.0.path': expected an existing file" in text


def test_a_notebook_is_named_by_its_script_not_a_local_ipynb(tmp_path):
    data = minimal()
    data["notebooks"][0]["path"] = "notebooks/artifacts.ipynb"
    text = problems(write(tmp_path / "p.yaml", data))
    assert "key 'notebooks.0.path': expected a notebook's .py percent script" in text


def test_notebook_parameters_of_a_wrong_type_are_converted_or_named():
    from wb.door.arguments import check_parameters

    declared = {"period": str, "banks": list[str] | None, "seed": int, "label": str | None}
    given = {"__annotations__": declared, "period": 2024, "banks": None, "seed": "3"}
    check_parameters(given)
    assert (given["period"], given["banks"], given["seed"]) == ("2024", None, 3)
    given["banks"] = "cmb"
    with pytest.raises(
        InputError, match=r"parameter banks: expected list\[str\] \| None, got 'cmb'"
    ):
        check_parameters(given)
    given.update(banks=["cmb"], seed=1.5)
    with pytest.raises(InputError, match=r"parameter seed: expected int, got 1\.5"):
        check_parameters(given)


def test_a_parameter_the_notebook_does_not_declare_fails_before_a_run(tmp_path):
    data = minimal()
    data["notebooks"][0]["parameters"]["sectoin"] = "uplift"
    text = problems(write(tmp_path / "p.yaml", data))
    assert "key 'notebooks.0.parameters.sectoin': artifacts.py declares no parameter" in text


def test_run_values_cannot_be_set_and_inputs_must_name_data(tmp_path):
    data = minimal()
    data["notebooks"][0]["parameters"]["out_dir"] = "/tmp/x"
    data["notebooks"][0]["inputs"] = {"data_path": "rm_month"}
    text = problems(write(tmp_path / "p.yaml", data))
    assert "out_dir set by wb run itself" in text
    text = problems(
        write(
            tmp_path / "q.yaml",
            minimal() | {"notebooks": [data["notebooks"][0] | {"parameters": {}}]},
        )
    )
    assert "'rm_month' is not a key of data" in text


def test_data_needs_exactly_one_of_path_or_simulate(tmp_path):
    text = problems(write(tmp_path / "p.yaml", minimal(data={"rm": {"label": "x"}})))
    assert "key 'data.rm': expected give exactly one of 'path'" in text


def test_extends_loop_and_missing_parent(tmp_path):
    write(tmp_path / "a.yaml", {"extends": "b.yaml"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml"})
    assert "extends itself" in problems(tmp_path / "a.yaml")
    write(tmp_path / "c.yaml", {"extends": "gone.yaml"})
    assert "gone.yaml: params file not found (extended by" in problems(tmp_path / "c.yaml")


def test_declared_parameters_include_names_papermill_cannot_parse():
    names = notebook_parameters.declared_parameters(ROOT / "notebooks" / "20_quota_uplift.py")
    assert {"data_path", "out_dir"} <= names  # `data_path: str | None = None`


def test_source_date_epoch_is_the_brief_date_at_utc_midnight(tmp_path):
    p = params.load(write(tmp_path / "p.yaml", minimal(brief={"title": "t", "date": "2025-07-01"})))
    assert p.source_date_epoch() == 1751328000


def test_cli_bad_params_exit_2_and_create_no_folder(tmp_path, capsys):
    out = tmp_path / "runs"
    path = write(tmp_path / "bad.yaml", minimal(colour="red"))
    with pytest.raises(SystemExit) as done:
        cli.main(["run", str(path), "--out", str(out)])
    assert done.value.code == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "key 'colour': unknown key" in err and "Traceback" not in err


def _bank_params(tmp_path, banks, **notebook) -> Path:
    """A params file over the bundled bank panel choosing ``banks``."""
    data = minimal(banks=banks, data={"bank_panel": {"path": str(ROOT / "data/bank_panel.csv")}})
    data["notebooks"][0].update(notebook)
    return write(tmp_path / "banks.yaml", data)


def test_bank_names_resolve_to_ids_before_a_run(tmp_path):
    """招商银行, 招商, CMB and cmb are one bank; the notebooks get ids, once each."""
    p = params.load(_bank_params(tmp_path, ["招商银行", "招商", "CMB", "pab", "平安银行 PAB"]))
    assert p.banks == ["cmb", "pab"]


@pytest.mark.parametrize(
    ("banks", "says"),
    [
        (["cmb", "cmbx"], "unknown bank 'cmbx'; did you mean 'cmb' (招商银行 CMB)?"),
        (["招行"], "unknown bank '招行'; did you mean 'cmb' (招商银行 CMB)?"),
        (["银行"], "bank '银行' could be any of abc (农业银行 ABC), bob (北京银行 BOB)"),
    ],
)
def test_an_unknown_or_ambiguous_bank_is_exit_2_naming_the_valid_ids(tmp_path, banks, says):
    text = problems(_bank_params(tmp_path, banks))
    assert "key 'banks': " + says in text
    if "unknown" in says:
        assert "Valid bank ids: abc (农业银行 ABC), bob (北京银行 BOB)" in text
        assert "srcb (上海农商银行 SRCB)" in text


def test_a_notebook_parameter_of_the_wrong_type_fails_before_a_run(tmp_path):
    """The type the notebook's parameters cell declares is checked when the params are read
    (before: exit 3 once the kernel ran the notebook's setup cell)."""
    path = _bank_params(tmp_path, [], parameters={"fixtures": ["not", "a", "path"]})
    text = problems(path)
    assert "key 'notebooks.0.parameters.fixtures': parameter fixtures: expected str" in text


def test_parameter_types_are_read_from_the_parameters_cell_without_running_it():
    types = notebook_parameters.parameter_types(ROOT / "notebooks" / "10_bank_comparison.py")
    assert types["period"] is str
    assert types["banks"] == list[str] | None


def test_cli_run_with_an_unknown_bank_is_exit_2_before_any_kernel(tmp_path, capsys, monkeypatch):
    from wb.run import kernel

    started = []
    monkeypatch.setattr(kernel, "preflight", lambda p: started.append(p))
    out = tmp_path / "runs"
    with pytest.raises(SystemExit) as done:
        cli.main(["run", str(_bank_params(tmp_path, ["xyz"])), "--out", str(out)])
    assert done.value.code == 2 and not started and not out.exists()
    err = capsys.readouterr().err
    assert "unknown bank 'xyz'" in err and "Valid bank ids: abc" in err


def test_an_unknown_chart_in_notebook_10s_metrics_fails_before_a_run(tmp_path):
    """``metrics: [income, pie]`` passed the type check and failed in the kernel (exit 3)."""
    shutil.copy(ROOT / "notebooks" / "10_bank_comparison.py", tmp_path / "notebooks")
    entry = {
        "path": "notebooks/10_bank_comparison.py",
        "section": "bank_comparison",
        "parameters": {"metrics": ["income", "pie"]},
    }
    text = problems(write(tmp_path / "p.yaml", minimal(notebooks=[entry])))
    assert "key 'notebooks.0.parameters.metrics': unknown pie; expected some of income, " in text
    entry["parameters"]["metrics"] = ["income", "wecom"]
    assert params.load(write(tmp_path / "p.yaml", minimal(notebooks=[entry])))


def test_a_missing_data_path_named_after_a_customer_is_not_echoed(tmp_path):
    """A missing data file or warehouse folder is named by its key, and its path only when it
    cannot hold personal data (the file door's rule): a customer's name or phone is not
    shown, a plain project path is."""
    data = {
        "rm_month": {"path": "exports/张伟明.parquet"},
        "other": {"warehouse": {"source": str(tmp_path / "13812345678" / "wh")}},
        "plain": {"path": "exports/plain.parquet"},
    }
    text = problems(write(tmp_path / "p.yaml", minimal(data=data)))
    assert "data.rm_month.path" in text and "data.other.warehouse.source" in text
    assert "exports/plain.parquet not found" in text
    assert "张伟明" not in text and "13812345678" not in text
