"""The canary grep of issue 24: a customer's name and phone number planted in a simulated
warehouse's values, column names, file name and folder name never reach any output of the
chain a user runs (``wb warehouse validate|build|uplift``, ``wb uplift --quality``, ``wb run``):
not stdout or stderr, build.json, the Parquet outputs (values and column names), the JSON
artifacts, the figures (SVG text, PNG metadata), the PDF's text, run.log, the executed
notebooks, the workbook or the manifest. Where a canary is in an id, the command refuses
(exit 2) without echoing it."""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import urllib.parse
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import wb
from warehouse_cases import edge_tables, write_source

ROOT = Path(__file__).resolve().parents[2]
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


def _texts(path: Path):
    """(how it was read, text) of every reading of one output file."""
    data = path.read_bytes()
    yield "bytes", data.decode("utf-8", "ignore")
    suffix = path.suffix.lower()
    if suffix in (".json", ".ipynb"):
        yield "json", json.dumps(json.loads(data), ensure_ascii=False)
    if suffix in (".svg", ".html"):
        yield "xml text", html.unescape(data.decode("utf-8"))
    if suffix == ".parquet":
        table = pq.read_table(path)
        yield "column names", " ".join(table.column_names)
        strings = [
            str(v)
            for column in table.columns
            if pa.types.is_string(column.type) or pa.types.is_dictionary(column.type)
            for v in column.to_pylist()
        ]
        yield "string values", " ".join(strings)
        yield "key-value metadata", str(pq.read_metadata(path).metadata)
    if suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            yield "png metadata", str(image.info)
    if suffix == ".pdf":
        for tool in ("pdftotext", "pdfinfo"):
            args = [tool, str(path), "-"] if tool == "pdftotext" else [tool, str(path)]
            yield tool, subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            for member in book.namelist():
                yield member, html.unescape(book.read(member).decode("utf-8", "ignore"))


def leaks(text: str, where: str) -> list[str]:
    """Each canary spelling found in ``text`` (also with its white space removed)."""
    flat = "".join(text.split())
    return [f"{s!r} in {where}" for s in SPELLINGS if s in text or "".join(s.split()) in flat]


def scan(folder: Path) -> tuple[list[str], list[str]]:
    """The canaries found in every file under ``folder``, and the suffixes of the files read."""
    found, kinds = [], set()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        kinds.add(path.suffix)
        for how, text in _texts(path):
            found += leaks(text, f"{path.relative_to(folder)} ({how})")
    return found, sorted(kinds)


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
    """A params file inside the project (``extends`` must be), reading ``source``."""
    folder.mkdir(parents=True)
    path = folder / "params.yaml"
    text = {
        "extends": "../../params/ci_warehouse.yaml",
        "data": {"rm_month": {"warehouse": {"source": str(source), "engine": "duckdb"}}},
    }
    path.write_text(yaml.safe_dump(text, allow_unicode=True), encoding="utf-8")
    return path


def test_a_refused_source_is_named_by_its_label_not_its_path(tmp_path):
    """A broken rule's message names the source by its label: a folder named after a customer
    is not echoed (it was, on DuckDB and Spark alike)."""
    from wb.warehouse import validate as wvalidate
    from wb.warehouse.source import EngineOptions, open_source

    tables = edge_tables()
    tables["customer_month"].loc[0, "customer_id"] = "C1 "
    src = write_source(tmp_path / f"{NAME}{PHONE}", tables)
    source = open_source(src, EngineOptions())
    try:
        with pytest.raises(wvalidate.WarehouseValidationError) as info:
            wvalidate.validate(source)
    finally:
        source.close()
    message = str(info.value)
    assert message.startswith("source folder: 1 broken rule"), message
    assert not leaks(message, "message") and str(src) not in message


@pytest.mark.slow
def test_no_canary_reaches_any_output_of_the_whole_chain(tmp_path):
    sim = tmp_path / f"{NAME}{PHONE}" / "wh"
    made = wb("simulate", "--level", "customer", "--out", str(sim), "--rms", "80", timeout=300)
    assert made.returncode == 0, made.stderr
    refused_src = tmp_path / PHONE / "wh"
    shutil.copytree(sim, refused_src)
    plant_in_names_and_free_text(sim)
    plant_in_ids(refused_src)
    out = tmp_path / "out"
    out.mkdir()
    params_dir = ROOT / "exports" / f"canary-{tmp_path.name}"
    said: list[tuple[str, subprocess.CompletedProcess]] = []

    def step(name: str, *args: str, code: int = 0) -> None:
        done = wb(*args, timeout=900)
        said.append((name, done))
        assert done.returncode == code, (name, done.returncode, done.stderr[-3000:])

    try:
        # the names and free text: accepted, screened everywhere
        step("validate", "warehouse", "validate", "--source", str(sim))
        step("build", "warehouse", "build", "--source", str(sim), "--out", str(out / "build"))
        step(
            "warehouse uplift",
            "warehouse",
            "uplift",
            "--source",
            str(sim),
            "--out",
            str(out / "cu"),
        )
        built = out / "build"
        quality = (
            "--data",
            str(built / "rm_month.parquet"),
            "--quality",
            str(built / "add_quality.parquet"),
        )
        step("uplift --quality", "uplift", *quality, "--out", str(out / "uplift"))
        params = run_params(params_dir, sim)
        step("run", "run", str(params), "--out", str(out / "runs"))
        # the ids: refused, never echoed; nothing written
        for command in ("validate", "build", "uplift"):
            at = ["--out", str(out / f"refused-{command}")] if command != "validate" else []
            step(
                f"refused {command}",
                "warehouse",
                command,
                "--source",
                str(refused_src),
                *at,
                code=2,
            )
            assert not (out / f"refused-{command}").exists()
        refused_params = run_params(params_dir / "refused", refused_src)
        step("refused run", "run", str(refused_params), "--out", str(out / "refused-runs"), code=2)
        missing = run_params(params_dir / "missing", tmp_path / NAME / "gone")
        step("missing source", "run", str(missing), "--out", str(out / "missing-runs"), code=2)
        phone_rm = out / "phone_rm.parquet"
        t = pq.read_table(built / "rm_month.parquet")
        rm = t["rm_id"].to_pylist()
        t = t.set_column(
            t.schema.get_field_index("rm_id"),
            "rm_id",
            pa.array([PHONE if r == rm[0] else r for r in rm]),
        )
        pq.write_table(t, phone_rm)
        bad = ("--data", str(phone_rm), "--quality", str(built / "add_quality.parquet"))
        step(
            "refused uplift --quality", "uplift", *bad, "--out", str(out / "refused-uplift"), code=2
        )
        phone_rm.unlink()
    finally:
        shutil.rmtree(params_dir, ignore_errors=True)

    found = [x for name, done in said for x in leaks(done.stdout + done.stderr, name)]
    in_files, kinds = scan(out)
    assert not found + in_files, found + in_files
    # every kind of output was read: the scan cannot pass by finding nothing
    assert {".parquet", ".json", ".svg", ".png", ".pdf", ".ipynb", ".xlsx", ".log"} <= set(kinds)
    (folder,) = (out / "runs").glob("H1-*")
    assert (folder / "inputs" / "rm_month" / "build.json").is_file()
    assert (
        folder / "artifacts" / "customer_uplift" / "rm_month" / "customer_uplift.json"
    ).is_file()
