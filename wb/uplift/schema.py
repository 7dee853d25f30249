"""The JSON Schema of ``uplift.json`` (``wb/uplift/uplift.schema.json``) and its check
(:class:`wb.door.documents.DocumentSchema`)."""

from __future__ import annotations

from wb.door.documents import DocumentSchema

UPLIFT_SCHEMA = DocumentSchema("wb.uplift", "uplift.schema.json", "wb.uplift/1")


def schema() -> dict:
    """The committed schema (JSON Schema draft-07) as a dictionary."""
    return UPLIFT_SCHEMA.schema


def validate_document(doc: dict, name: str = "uplift.json") -> None:
    """Raise :class:`~wb.errors.ExportError` (exit 6) when ``doc`` does not match the schema."""
    UPLIFT_SCHEMA.check(doc, name)
