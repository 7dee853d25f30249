"""The JSON Schema of ``uplift.json`` (``wb/uplift/uplift.schema.json``) and its check.

Validation uses ``fastjsonschema`` (compiled once per process, imports in 0.05 s). The
``jsonschema`` package would do too, but importing it costs about 3 s here: with the Jupyter
stack installed it pulls in ``rfc3987_syntax``, which compiles some 40 grammars at import. The
tests check the committed schema with ``jsonschema`` as well, as a second implementation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from wb.errors import ExportError


@cache
def schema() -> dict:
    """The committed schema (JSON Schema draft-07) as a dictionary."""
    text = resources.files("wb.uplift").joinpath("uplift.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator() -> Callable[[Any], Any]:
    return fastjsonschema.compile(schema())


def validate_document(doc: dict, name: str = "uplift.json") -> None:
    """Raise :class:`ExportError` (exit 6) when ``doc`` does not match the uplift schema.

    The message names the file, the path inside the document and the rule that failed.
    """
    try:
        _validator()(doc)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = exc.path or "(top level)"
        raise ExportError(
            f"{name} does not match schema wb.uplift/1 at {where}: {exc.message}"
        ) from exc
