"""Running a tracked notebook as JupyterLab and papermill do, for the tests of notebooks,
charts and provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from wb.run.notebook_parameters import read_notebook

ROOT = Path(__file__).parents[1]


def papermill(
    name: str, out_dir: Path, inline: bool = True, write: bool = True, **parameters: object
):
    """Run ``notebooks/<name>.py`` under papermill with the ``wb`` kernel (as JupyterLab does:
    no MPLBACKEND, so the inline backend, unless ``inline`` is false), each parameter given as
    on papermill's command line (``-p period 2024`` arrives as an int; a list as YAML, ``-y``);
    return the process.
    The notebook writes into ``out_dir``, or (``write=False``) is given no folder at all."""
    source = ROOT / "notebooks" / f"{name}.py"
    notebook = out_dir.parent / f"{name}.ipynb"
    nbformat.write(read_notebook(source), notebook)
    env = {k: v for k, v in os.environ.items() if not inline or k != "MPLBACKEND"}
    command = [sys.executable, "-m", "papermill", str(notebook), str(run_of(notebook)), "-k", "wb"]
    command += ["--cwd", str(source.parent), "-p", "out_dir", str(out_dir) if write else "None"]
    for key, value in parameters.items():
        if isinstance(value, list):  # papermill's -y takes YAML (JSON is YAML)
            command += ["-y", json.dumps({key: value}, ensure_ascii=False)]
        else:
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
