"""Committed JSON Schemas of the documents wb writes, and the one check they all go through.

Each document kind (``uplift.json``, ``bank_comparison.json``) keeps its schema as a JSON file
beside the code that writes it; :class:`DocumentSchema` loads it once and checks a document
before it is written. Validation uses ``fastjsonschema`` (compiled once per process, imports in
0.05 s). The ``jsonschema`` package would do too, but importing it costs about 3 s here: with the
Jupyter stack installed it pulls in ``rfc3987_syntax``, which compiles some 40 grammars at
import. The tests check each committed schema with ``jsonschema`` as well, as a second
implementation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Any

import fastjsonschema

from wb.errors import ExportError


@dataclass(frozen=True)
class DocumentSchema:
    """A committed schema: the package and file it lives in, and its ``schema`` id."""

    package: str
    filename: str
    schema_id: str

    @cached_property
    def schema(self) -> dict:
        """The committed schema (JSON Schema draft-07) as a dictionary."""
        text = resources.files(self.package).joinpath(self.filename).read_text("utf-8")
        return json.loads(text)

    @cached_property
    def _validator(self) -> Callable[[Any], Any]:
        return fastjsonschema.compile(self.schema)

    def check(self, doc: dict, name: str) -> None:
        """Raise :class:`ExportError` (exit 6) when ``doc`` does not match the schema.

        The message names the file, the path inside the document and the rule that failed.
        """
        try:
            self._validator(doc)
        except fastjsonschema.JsonSchemaValueException as exc:
            where = exc.path or "(top level)"
            raise ExportError(
                f"{name} does not match schema {self.schema_id} at {where}: {exc.message}"
            ) from exc
