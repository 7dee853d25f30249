"""`wb warehouse` follows the CLI contract: examples in --help, exit 2 on bad arguments."""

from __future__ import annotations

import pytest
from helpers import wb_in_process


@pytest.mark.parametrize("command", [["warehouse", "validate"], ["warehouse", "build"]])
def test_help_shows_an_example(command):
    result = wb_in_process(*command, "--help")
    assert result.returncode == 0
    assert "Example:" in result.stdout
    assert "wb warehouse" in result.stdout.split("Example:")[1]


def test_simulate_help_names_the_customer_level():
    result = wb_in_process("simulate", "--help")
    assert "--level customer" in result.stdout and "--customers" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--engine", "oracle"], "oracle"),
        (["--months", "2024-1..2024-03"], "not a YYYY-MM month"),
        (["--memory-limit", "lots"], "--memory-limit must look like"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, args, message):
    (tmp_path / "src").mkdir()
    result = wb_in_process("warehouse", "build", "--source", str(tmp_path / "src"), "--out",
                str(tmp_path / "b"), *args)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_missing_source_exit_2(tmp_path):
    result = wb_in_process("warehouse", "validate", "--source", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "folder not found" in result.stderr
