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
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from canary_cases import NAME, PHONE, ROOT, leaks, plant_in_ids, run_params
from helpers import wb
from warehouse_cases import edge_tables, write_source


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


def scan(folder: Path) -> tuple[list[str], list[str]]:
    """The canaries found in every file under ``folder``, and the suffixes of the files read."""
    found, kinds = [], set()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        kinds.add(path.suffix)
        for how, text in _texts(path):
            found += leaks(text, f"{path.relative_to(folder)} ({how})")
    return found, sorted(kinds)


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
@pytest.mark.xdist_group("warehouse_run")
def test_no_canary_reaches_any_output_of_the_whole_chain(tmp_path, warehouse_run):
    """The chain on the planted source of the shared warehouse run (tests/conftest.py), whose
    ``wb run`` output and messages are scanned with the other commands'."""
    sim = warehouse_run.source
    refused_src = tmp_path / PHONE / "wh"
    shutil.copytree(sim, refused_src)
    plant_in_ids(refused_src)
    out = tmp_path / "out"
    out.mkdir()
    params_dir = ROOT / "exports" / f"canary-{tmp_path.name}"
    said: list[tuple[str, str]] = [("run", warehouse_run.stdout + warehouse_run.stderr)]

    def step(name: str, *args: str, code: int = 0) -> None:
        done = wb(*args, timeout=900)
        said.append((name, done.stdout + done.stderr))
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
        # --quick: the designs and their figures are scanned in the run's artifacts (notebook
        # 20 writes them from the same add-quality counts); here the command's own messages
        step("uplift --quality", "uplift", *quality, "--quick", "--out", str(out / "uplift"))
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

    found = [x for name, text in said for x in leaks(text, name)]
    in_files, kinds = scan(out)
    in_run, run_kinds = scan(warehouse_run.out)
    assert not found + in_files + in_run, found + in_files + in_run
    # every kind of output was read: the scan cannot pass by finding nothing
    assert {".parquet", ".json", ".svg", ".png"} <= set(kinds)
    assert {".parquet", ".json", ".svg", ".png", ".pdf", ".ipynb", ".xlsx", ".log"} <= set(
        run_kinds
    )
    folder = warehouse_run.folder
    assert (folder / "inputs" / "rm_month" / "build.json").is_file()
    assert (
        folder / "artifacts" / "customer_uplift" / "rm_month" / "customer_uplift.json"
    ).is_file()
