"""Params files for ``wb run`` built from the fixture notebooks (tests/fixtures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

FIXTURES = Path(__file__).parent / "fixtures"

TITLE = "测试简报 Test brief"
#: What the scheduled run calls its bank's export (params/monthly.yaml): a simulated file given
#: this label must not pass for the bank's data.
INTERNAL = "行内客户经理月度导出 RM x month export (internal)"


def params_file(tmp_path: Path, *failing: str, alone: bool = False, **over) -> Path:
    """A params file: the fixture sections (bank, simulated uplift; not when ``alone``), then
    the ``failing`` notebooks."""
    notebooks = []
    folder = tmp_path / "notebooks"  # wb runs only the notebooks under the project's notebooks/
    folder.mkdir(exist_ok=True)
    for section in () if alone else ("bank_comparison", "uplift"):
        nb = shutil.copy(FIXTURES / "artifacts.py", folder / f"{section}.py")
        entry = {"path": str(nb), "section": section, "parameters": {"fixtures": str(FIXTURES)}}
        entry["parameters"]["section"] = section
        if section == "uplift":
            entry["inputs"] = {"data_path": "rm_month"}
        notebooks.append(entry)
    for name in failing:
        nb = shutil.copy(FIXTURES / f"{name}.py", folder)
        notebooks.append({"path": str(nb), "section": "uplift"})
    data = {
        "period": "H1 2025",
        "cell_timeout_s": 60,
        "brief": {"title": TITLE, "date": "2025-07-01"},
        "data": {"rm_month": {"simulate": {"n_rms": 40, "n_months": 8, "seed": 1}}},
        "notebooks": notebooks,
    } | over
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
