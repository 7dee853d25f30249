"""The canaries of the privacy tests: a customer's name and phone number planted in a simulated
warehouse's names and free text (accepted and screened) or in its ids (refused), and a params
file that points ``wb run`` at such a source."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
NAME = "张伟明"
PHONE = "13812345678"
#: Every spelling of the canaries an output could hold: as planted, grouped, and as JSON,
#: XML and URL escapes decode them (the scan decodes JSON and XML; URLs are matched encoded).
SPELLINGS = (
    NAME,
    PHONE,
    "138-1234-5678",
    "138 1234 5678",
    urllib.parse.quote(NAME),
    urllib.parse.quote(NAME).lower(),
)


def leaks(text: str, where: str) -> list[str]:
    """Each canary spelling found in ``text`` (also with its white space removed)."""
    flat = "".join(text.split())
    return [f"{s!r} in {where}" for s in SPELLINGS if s in text or "".join(s.split()) in flat]


def plant_in_names_and_free_text(src: Path) -> None:
    """An extra column named after the customer in every table, a free-text column holding
    the name and phone, and half of customer_month in a file named after the customer."""
    for table in ("customer_month", "wecom_contact", "quota"):
        path = src / table / "part-00000.parquet"
        t = pq.read_table(path)
        t = t.append_column(f"{NAME}{PHONE}", pa.array([f"{NAME} {PHONE}"] * t.num_rows))
        t = t.append_column("note", pa.array([f"客户{NAME}电话{PHONE}"] * t.num_rows))
        if table == "customer_month":
            half = t.num_rows // 2
            pq.write_table(t.slice(0, half), path)
            pq.write_table(t.slice(half), src / table / f"{NAME}{PHONE}.parquet")
        else:
            pq.write_table(t, path)


def plant_in_ids(src: Path) -> None:
    """The canaries as ids: every row of one customer, one RM, one contact and one branch."""
    for table, column, value in (
        ("customer_month", "customer_id", NAME),
        ("customer_month", "rm_id", PHONE),
        ("wecom_contact", "contact_id", "138-1234-5678"),
        ("quota", "branch_id", "138 1234 5678"),
    ):
        path = src / table / "part-00000.parquet"
        t = pq.read_table(path)
        values = t[column].to_pylist()
        first = next(v for v in values if v is not None)
        values = [value if v == first else v for v in values]
        i = t.schema.get_field_index(column)
        pq.write_table(t.set_column(i, column, pa.array(values, t[column].type)), path)


def run_params(folder: Path, source: Path) -> Path:
    """A params file inside the project (``extends`` must be), reading ``source``: the
    warehouse end-to-end run of params/ci_warehouse.yaml on another source."""
    folder.mkdir(parents=True)
    path = folder / "params.yaml"
    text = {
        "extends": "../../params/ci_warehouse.yaml",
        "data": {"rm_month": {"warehouse": {"source": str(source), "engine": "duckdb"}}},
    }
    path.write_text(yaml.safe_dump(text, allow_unicode=True), encoding="utf-8")
    return path
