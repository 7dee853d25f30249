"""What a notebook declares in its ``parameters`` cell (a jupytext ``.py`` percent script): the
names (:func:`declared_parameters`) and the types their annotations give
(:func:`parameter_types`), which :func:`wb.run.params.load` holds a params file to.
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode


def read_notebook(script: Path) -> NotebookNode:
    """The notebook a ``.py`` percent script holds (its cells, tags and kernel), via jupytext."""
    import jupytext

    return jupytext.read(script, fmt="py:percent")


def declared_parameters(notebook: Path) -> set[str]:
    """Names in the notebook's ``parameters`` cell.

    papermill's :func:`~papermill.inspect_notebook` reads the cell with a regex that skips
    annotations such as ``str | None`` or ``"Optional[list[str]]"``; names it misses are
    taken from the cell's syntax tree.
    """
    import logging

    import nbformat
    import papermill

    nb = read_notebook(notebook)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    with tempfile.TemporaryDirectory(prefix="wb-inspect-") as tmp:
        probe = Path(tmp) / f"{notebook.stem}.ipynb"
        nbformat.write(nb, probe)
        pm_log = logging.getLogger("papermill")
        level, pm_log.level = pm_log.level, logging.ERROR
        try:
            names = set(papermill.inspect_notebook(str(probe)))
        finally:
            pm_log.setLevel(level)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is not None:
        for node in ast.parse(cell.source).body:
            targets = (
                node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            )
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


#: Names a parameters cell's annotations may use, and what each stands for.
_ANNOTATION_NAMES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
    "None": None,
    "Any": Any,
}


def _annotation(node: ast.expr) -> Any:
    """The type an annotation of a parameters cell writes (``list[str] | None``), built from
    the syntax tree without running the notebook's code; ``Any`` for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "list[str] | None"
        return _annotation(ast.parse(node.value, mode="eval").body)
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    if isinstance(node, ast.Name):
        return _ANNOTATION_NAMES.get(node.id, Any)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _annotation(node.left) | _annotation(node.right)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        outer = _ANNOTATION_NAMES.get(node.value.id)
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer in (list, dict):
            return outer[tuple(_annotation(e) for e in inner)]
    return Any


def parameter_types(notebook: Path) -> dict[str, Any]:
    """The types the notebook's ``parameters`` cell declares (``period: str = "H1 2025"``),
    by name; names without an annotation are left out."""
    nb = read_notebook(notebook)
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return {}
    return {
        node.target.id: _annotation(node.annotation)
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
