"""A simulated file says so itself: copied alone to another folder under
another name, without its truth file, every output it feeds is marked SIMULATED (uplift.json,
customer_uplift.json, the build, each figure's footer, the brief's text, notebooks 20 and 30);
a file ``wb simulate`` did not write is not."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from run_cases import INTERNAL

from wb.door import io, provenance
from wb.plots.theme import SIMULATED_LABEL
from wb.run import brief, uplift_outputs
from wb.run.params import RunParams
from wb.uplift.simulate import SimulationConfig, simulate, truth_path, write

ROOT = Path(__file__).parents[2]
EPOCH = 1751328000  # 2025-07-01
TITLE = "测试简报 Test brief"
BETA = -20000.0
CONFIG = SimulationConfig(n_rms=200, n_months=12, seed=2, beta_quota=BETA)


def copy_alone(path: Path, folder: Path, name: str) -> Path:
    """``path`` copied byte for byte to ``folder/name``, with nothing beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = Path(shutil.copyfile(path, folder / name))
    assert sorted(folder.iterdir()) == [copy] and not truth_path(copy).exists()
    return copy


def svg_marks(folder: Path) -> dict[str, bool]:
    """Figure stem → whether its SVG carries the simulated mark (matplotlib keeps each text
    drawn as paths in a comment beside it)."""
    return {
        svg.stem: SIMULATED_LABEL in svg.read_text(encoding="utf-8")
        for svg in sorted(folder.glob("*.svg"))
    }


def brief_text(run: Path, customer: Path | None = None) -> str:
    """The text of the brief rendered from ``run/artifacts`` with params that call nothing
    simulated (as for a ``path:`` entry), read back from the PDF by pdftotext."""
    params = RunParams.model_validate(
        {
            "period": "H1 2025",
            "brief": {"title": TITLE},
            "notebooks": [{"path": "uplift.py", "section": "uplift"}],
        }
    )
    _, pdf = brief.build(params, run, run / "artifacts", set(), EPOCH, customer)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    return " ".join(text.split())


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_an_rm_export_copied_alone_still_carries_its_stamp(tmp_path, suffix):
    """In each format, read as the uplift outputs read it (``io.load(path, "rm_month")``): the
    stamp and its true effects, no stamp column among the rows. What follows from the stamp
    does not depend on the format: the next test, on a CSV."""
    made, _, frame = write(CONFIG, tmp_path / "sim" / f"s{suffix}")
    copy = copy_alone(made, tmp_path / "exports", f"rm_month_2025{suffix}")
    loaded = io.load(copy, "rm_month")
    assert loaded.simulated and loaded.stamp["seed"] == CONFIG.seed
    assert loaded.stamp["true_effects"]["beta_quota_cny_per_add"] == BETA
    assert provenance.COLUMN not in loaded.frame.columns and len(loaded.frame) == len(frame)
    assert loaded.summary().startswith("SIMULATED (wb simulate, seed 2)")


def test_an_rm_export_copied_alone_is_simulated_in_every_output(tmp_path):
    made, _, _ = write(CONFIG, tmp_path / "sim" / "s.csv")
    copy = copy_alone(made, tmp_path / "exports", "rm_month_2025.csv")
    # what wb run passes for a path: entry (a label, simulated=False) cannot unmark the file
    run = tmp_path / "run"
    analysis = uplift_outputs.analyse(
        copy, run / "artifacts", label=INTERNAL, simulated=False, workers=1, quiet=True
    )
    assert analysis.result.simulated
    doc = json.loads((run / "artifacts" / "uplift.json").read_text(encoding="utf-8"))
    assert doc["data"] == {"label": "simulated export", "simulated": True}
    assert doc["simulated_truth"]["beta_quota_cny_per_add"] == BETA
    marks = svg_marks(run / "artifacts")
    assert len(marks) == 8 and all(marks.values()), marks
    text = brief_text(run)
    assert "模拟数据 · SIMULATED DATA" in text and "模拟数据 simulated export" in text
    assert "(internal)" not in text


@pytest.mark.slow  # end to end: three formats through the uplift outputs
def test_a_real_export_is_marked_nowhere(tmp_path, small_export):
    """A file wb simulate did not write (the same rows, saved by pandas) is not simulated, in
    any format; a wb_simulated column that does not say SIMULATED marks nothing."""
    for suffix, save in ((".csv", "to_csv"), (".parquet", "to_parquet"), (".xlsx", "to_excel")):
        path = tmp_path / f"real{suffix}"
        getattr(small_export, save)(path, index=False)
        assert not io.load(path).simulated, suffix
    path = tmp_path / "column.csv"
    small_export.assign(wb_simulated="real bank export").to_csv(path, index=False)
    loaded = io.load(path)
    assert not loaded.simulated and provenance.COLUMN not in loaded.frame.columns
    run = tmp_path / "run"
    uplift_outputs.analyse(tmp_path / "real.parquet", run / "artifacts", label=INTERNAL, workers=1)
    doc = json.loads((run / "artifacts" / "uplift.json").read_text(encoding="utf-8"))
    assert doc["data"] == {"label": INTERNAL, "simulated": False}
    assert "simulated_truth" not in doc
    marks = svg_marks(run / "artifacts")
    assert len(marks) == 8 and not any(marks.values()), marks
    text = brief_text(run)
    assert "SIMULATED" not in text and "模拟" not in text and "(internal)" in text


def test_the_mark_survives_a_filter_a_sort_and_another_format(tmp_path):
    """What analysts do with a file in pandas or Excel keeps the wb_simulated column."""
    csv, _, _ = write(CONFIG, tmp_path / "s.csv")
    parquet, _, _ = write(CONFIG, tmp_path / "s.parquet")
    subset = pd.read_csv(csv).query("month >= '2024-06'").sort_values("aum_cny")
    subset.to_excel(tmp_path / "subset.xlsx", index=False)
    pd.read_parquet(parquet).to_csv(tmp_path / "from_parquet.csv", index=False)
    # a frame the door read and pandas wrote keeps the stamp in its attrs (pandas stores them)
    io.load(parquet).frame.to_parquet(tmp_path / "attrs.parquet")
    for name in ("subset.xlsx", "from_parquet.csv", "attrs.parquet"):
        stamp = io.load(tmp_path / name).stamp
        assert stamp is not None, name
        assert stamp["true_effects"]["beta_quota_cny_per_add"] == BETA, name


def test_each_format_carries_the_stamp_where_its_users_look(tmp_path):
    import openpyxl
    import pyarrow.parquet as pq

    parquet, _, frame = write(CONFIG, tmp_path / "s.parquet")
    meta = json.loads(pq.read_schema(parquet).metadata[b"wb.simulated"])
    assert meta["schema"] == "wb.simulate/1" and meta["level"] == "rm" and meta["seed"] == 2
    assert meta["true_effects"]["per_quota_add"]["net_new_money_cny"] == 0.6 * BETA
    csv, _, _ = write(CONFIG, tmp_path / "s.csv")
    header, first = csv.read_text(encoding="utf-8").splitlines()[:2]
    assert header.endswith(",wb_simulated")
    assert first.endswith(",SIMULATED wb simulate seed=2 beta_quota=-20000 beta_organic=20000")
    xlsx, _, _ = write(CONFIG, tmp_path / "s.xlsx")
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["SIMULATED"]
    row = next(book.worksheets[0].iter_rows(min_row=2, max_row=2, values_only=True))
    assert row[-1].startswith("SIMULATED wb simulate seed=2")
    book.close()
    full = openpyxl.load_workbook(xlsx)
    assert json.loads(full.custom_doc_props["wb.simulated"].value) == meta
    assert len(frame) == len(pd.read_excel(xlsx))


def test_an_xlsx_export_above_excel_rows_is_refused(tmp_path):
    from wb.errors import InputError

    with pytest.raises(InputError, match=r"at most 1,048,575 rows for an \.xlsx"):
        write(SimulationConfig(n_rms=50_000, n_months=24), tmp_path / "big.xlsx")
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def copied_warehouse(tmp_path_factory) -> Path:
    """A simulated warehouse's three tables copied alone (no truth.json), each Parquet file
    renamed: ``<table>.parquet`` in a folder of another name."""
    import wb.warehouse.simulate

    root = tmp_path_factory.mktemp("wh")
    config = wb.warehouse.simulate.CustomerSimulationConfig(
        n_rms=80, n_months=12, customers_per_rm=20, beta_quota=BETA
    )
    source, _ = wb.warehouse.simulate.write(config, root / "simulated")
    copy = root / "bank_tables"
    copy.mkdir()
    for table in ("customer_month", "wecom_contact", "quota"):
        (part,) = (source / table).glob("*.parquet")
        shutil.copyfile(part, copy / f"{table}.parquet")
    assert sorted(p.name for p in copy.iterdir()) == [
        "customer_month.parquet",
        "quota.parquet",
        "wecom_contact.parquet",
    ]
    return copy


@pytest.mark.slow  # end to end: build, customer uplift, figures
def test_customer_level_tables_copied_alone_are_simulated_in_every_output(
    copied_warehouse, tmp_path
):
    from wb.plots.customer_uplift import save
    from wb.warehouse import uplift
    from wb.warehouse.build import build
    from wb.warehouse.source import open_source

    source = open_source(copied_warehouse)
    try:
        assert source.simulated and source.stamp["level"] == "customer"
        assert source.stamp["true_effects"]["beta_quota_cny_per_add"] == BETA
    finally:
        source.close()
    built = build(copied_warehouse, tmp_path / "built")
    assert built.simulated and built.record["simulated"]["seed"] == 1
    # the built panel and its add-quality table, each copied alone under another name
    panel = copy_alone(built.rm_month, tmp_path / "panel", "rm_month_2025.parquet")
    quality = copy_alone(built.add_quality, tmp_path / "quality", "counts.parquet")
    for path in (panel, quality):
        assert provenance.of_parquet(path)["level"] == "customer"
    run = tmp_path / "run"
    artifacts = run / "artifacts"
    analysis = uplift_outputs.analyse(
        panel, artifacts, quality=quality, label=INTERNAL, simulated=False, workers=1, quiet=True
    )
    funnel = uplift_outputs.draw(analysis, "uplift_add_quality")
    assert SIMULATED_LABEL in funnel.texts[-1].get_text()
    doc = json.loads((artifacts / "uplift.json").read_text(encoding="utf-8"))
    assert doc["data"]["simulated"] is True and "add_quality" in doc
    marks = svg_marks(artifacts)
    assert "uplift_add_quality" in marks and all(marks.values()), marks
    customer = artifacts / "customer_uplift" / "rm_month"
    uplift.run(copied_warehouse, customer, figures=save, label="仓库 bank tables")
    cdoc = json.loads((customer / "customer_uplift.json").read_text(encoding="utf-8"))
    assert cdoc["simulated"] is True and "truth" not in cdoc  # the realised truth stayed behind
    marks = svg_marks(customer)
    assert marks and all(marks.values()), marks
    text = brief_text(run, customer)
    assert "模拟数据 · SIMULATED DATA" in text and "(internal)" not in text
    # the customer-level paragraph carries the mark too
    after = text.split("客户层面")[1]
    assert SIMULATED_LABEL in after[:400]


def test_a_real_warehouse_is_not_simulated(copied_warehouse, tmp_path):
    """The same tables without the stamp in their metadata (as a bank's warehouse writes
    them) build an unmarked panel."""
    import pyarrow.parquet as pq

    from wb.warehouse.build import build

    real = tmp_path / "real"
    real.mkdir()
    for part in copied_warehouse.iterdir():
        table = pq.read_table(part)
        pq.write_table(table.replace_schema_metadata({}), real / part.name)
    built = build(real, tmp_path / "built")
    assert not built.simulated and built.record["simulated"] is None
    assert provenance.of_parquet(built.rm_month) is None
    assert not io.load(built.rm_month).simulated


@pytest.mark.slow
@pytest.mark.xdist_group("export_run")
def test_a_simulated_export_labelled_as_the_banks_export_gives_a_simulated_brief(export_run):
    """The issue's case: a simulated export copied alone (no truth file, another name) to where
    a scheduled run reads the bank's export, with that export's label (params/monthly.yaml):
    wb run's brief, uplift.json, every figure and notebook 20 say SIMULATED (the run:
    ``export_run`` in tests/conftest.py)."""
    assert not truth_path(export_run.data).exists()
    folder = export_run.folder
    doc = json.loads((folder / "artifacts" / "uplift.json").read_text(encoding="utf-8"))
    assert doc["data"]["simulated"] is True
    marks = svg_marks(folder / "artifacts")
    assert marks and all(marks.values()), marks
    text = subprocess.run(
        ["pdftotext", str(folder / "brief.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert "模拟数据 · SIMULATED DATA" in " ".join(text.split())
    assert "(internal)" not in text
    nb = nbformat.read(folder / "notebooks" / "20_quota_uplift.ipynb", as_version=4)
    shown = [str(o.get("data", {})) for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(f"**{SIMULATED_LABEL}**" in s for s in shown)
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert f"{SIMULATED_LABEL}: In " in printed  # the verdict's sentence carries the mark


@pytest.mark.slow
def test_notebook_30_on_copied_tables_says_simulated(copied_warehouse, tmp_path):
    from notebook_runs import execute

    shown = execute("30_add_quality", tmp_path / "out", inline=False, source=copied_warehouse)
    assert any(f"**{SIMULATED_LABEL}**" in str(o.get("data", {})) for o in shown)
    doc = json.loads((tmp_path / "out" / "uplift" / "uplift.json").read_text(encoding="utf-8"))
    assert doc["data"]["simulated"] is True


def test_the_stamp_reads_back_from_its_column_text():
    stamp = provenance.make(
        "wb.simulate/1",
        "rm",
        7,
        {"beta_quota_cny_per_add": -1234.5, "beta_organic_cny_per_add": 20000},
    )
    back = provenance.from_marker(provenance.marker(stamp))
    assert back["seed"] == 7 and back["level"] == "rm"
    assert back["true_effects"]["beta_quota_cny_per_add"] == -1234.5
    assert provenance.from_marker("simulated") == {"simulator": "wb simulate", "level": "rm"}
    assert provenance.from_marker("real") is None
    frame, _ = simulate(SimulationConfig(n_rms=20, n_months=8))
    assert provenance.take_column(frame)[1] is None
