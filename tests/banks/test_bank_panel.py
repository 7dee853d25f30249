"""data/bank_panel.csv: built by scripts/build_bank_panel.py, deterministic, valid, sourced."""

from __future__ import annotations

import importlib.util
import io
import shutil
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from wb import cli

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
#: The researched figures scripts/build_bank_panel.py reads (data/raw/README.md).
SRC = DATA / "raw" / "public_figures.csv"


def _build_module():
    spec = importlib.util.spec_from_file_location(
        "build_bank_panel", ROOT / "scripts" / "build_bank_panel.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _validate(path: Path) -> Result:
    """``wb validate --data PATH`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        cli.main(["validate", "--data", str(path)])
    return Result(int(exit_.value.code), out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_csv(DATA / "bank_panel.csv", dtype={"value": float})


def test_build_is_deterministic_and_matches_committed_files(tmp_path: Path) -> None:
    build = _build_module()
    for out in ("a", "b"):
        assert build.main(["--src", str(SRC), "--out", str(tmp_path / out)]) == 0
    for name in ("bank_panel.csv", "entities_panel.csv", "sources.csv"):
        first = (tmp_path / "a" / name).read_bytes()
        assert first == (tmp_path / "b" / name).read_bytes(), name
        assert first == (DATA / name).read_bytes(), f"data/{name} is stale: rerun the script"


@pytest.mark.parametrize("name", ["bank_panel.csv", "entities_panel.csv"])
def test_committed_panels_validate(name: str) -> None:
    result = _validate(DATA / name)
    assert result.returncode == 0, result.stderr
    assert "bank_panel OK" in result.stdout


def _copy(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    shutil.copy(DATA / "sources.csv", tmp_path / "sources.csv")
    return tmp_path / "bank_panel.csv", pd.read_csv(DATA / "bank_panel.csv", dtype=str)


def test_row_without_quote_fails_with_exit_2(tmp_path: Path) -> None:
    path, frame = _copy(tmp_path)
    frame.loc[3, "quote"] = ""
    frame.to_csv(path, index=False)
    result = _validate(path)
    assert result.returncode == 2
    assert "'quote'" in result.stderr and "row 5" in result.stderr


def test_unknown_source_id_fails_with_exit_2(tmp_path: Path) -> None:
    path, frame = _copy(tmp_path)
    frame.loc[0, "source_id"] = "src-nowhere"
    frame.to_csv(path, index=False)
    result = _validate(path)
    assert result.returncode == 2
    assert "src-nowhere" in result.stderr


def test_share_written_as_percent_fails_with_exit_2(tmp_path: Path) -> None:
    path, frame = _copy(tmp_path)
    share = frame.index[frame["metric"] == "retail_profit_share"][0]
    frame.loc[share, "value"] = "56.74"
    frame.to_csv(path, index=False)
    result = _validate(path)
    assert result.returncode == 2
    assert "fraction" in result.stderr


def test_banks_only_and_entities_apart(panel: pd.DataFrame) -> None:
    entities = pd.read_csv(DATA / "entities_panel.csv")
    assert panel["bank_id"].nunique() == 19
    assert not panel["bank_id"].str.contains("_").any()
    assert set(entities["bank_id"]) == {
        "icbc_dongying",
        "hxb_branch_south",
        "spdb_branch_east",
        "sichuan_rcc_anon",
        "market_price_anon",
    }


def _value(panel: pd.DataFrame, bank: str, period: str, metric: str) -> list[float]:
    hit = panel[(panel.bank_id == bank) & (panel.period == period) & (panel.metric == metric)]
    return sorted(hit["value"].dropna())


def test_canonical_units_and_qualifiers(panel: pd.DataFrame) -> None:
    # a share of NET profit is its own metric (revision 2), never a pre-tax profit share
    assert _value(panel, "ccb", "FY2021", "retail_net_profit_share") == [0.5674]
    assert _value(panel, "ccb", "FY2021", "retail_profit_share") == []
    assert _value(panel, "ccb", "2021-12-31", "wecom_connected") == [11_000_000]
    icbc = panel[
        (panel.bank_id == "icbc") & (panel.period == "H1 2025") & (panel.metric == "retail_aum")
    ]
    assert icbc[["value", "qualifier"]].values.tolist() == [[24e12, "over"]]
    assert _value(panel, "cmb", "FY2024", "retail_profit_share_pp_yoy") == [-0.0583]
    assert _value(panel, "psbc", "H1 2025", "retail_operating_income_yoy") == [-0.0778, -0.0759]


def test_derived_values_are_not_figures(panel: pd.DataFrame) -> None:
    # public_figures' derived_note arithmetic must not enter as data
    assert _value(panel, "ceb", "FY2023", "retail_profit") == []  # ≈67.4亿 implied
    assert _value(panel, "cmb", "FY2024", "retail_aum") == [15e12]  # 14.93万亿 implied: absent
    assert _value(panel, "ceb", "FY2024", "retail_profit") == [2.81e8]  # the bound row is out
    assert _value(panel, "czb", "H1 2025", "retail_profit") == []  # a loss: no amount, no zero
    czb = panel[(panel.bank_id == "czb") & (panel.period == "H1 2025")]
    assert czb.loc[czb.metric == "retail_profit", "direction"].tolist() == ["loss"]
    entities = pd.read_csv(DATA / "entities_panel.csv")
    assert 12.5 not in set(entities["value"])  # midpoint of 10–15 was derived


def test_every_row_sourced_and_quoted(panel: pd.DataFrame) -> None:
    sources = pd.read_csv(DATA / "sources.csv")
    assert panel["quote"].str.strip().str.len().min() > 0
    assert set(panel["source_id"]) <= set(sources["source_id"])
    assert sources["source_id"].is_unique
    # dates keep the precision the source prints: a month stays a month, none stays empty
    for precision, pattern in {
        "day": r"^\d{4}-\d{2}-\d{2}$",
        "month": r"^\d{4}-\d{2}$",
        "year": r"^\d{4}$",
    }.items():
        dates = sources.loc[sources["date_precision"] == precision, "date"]
        assert len(dates) and dates.astype(str).str.match(pattern).all(), precision
    assert sources.loc[sources["date_precision"] == "none", "date"].isna().all()


def test_revision_2_status_direction_and_basis(panel: pd.DataFrame) -> None:
    """Revision 2: status carried, direction-only rows kept as directions, profit bases apart."""
    suspect = panel[panel["status"] == "suspect"]
    assert {("bob", "FY2024", "retail_customers"), ("srcb", "FY2024", "retail_customers")} <= set(
        zip(suspect.bank_id, suspect.period, suspect.metric, strict=True)
    )
    assert suspect["status_reason"].str.len().gt(0).all()
    directions = panel[panel["direction"].notna()]
    assert directions["value"].isna().all()
    assert set(directions["direction"]) == {"up", "down", "loss"}
    cmb = directions[(directions.bank_id == "cmb") & (directions.period == "H1 2025")]
    assert cmb["direction"].tolist() == ["up"]  # 小幅上涨
    profit = panel[panel["metric"] == "retail_profit"]
    assert "net" not in set(profit["basis"])
    assert set(panel.loc[panel["metric"] == "retail_net_profit", "basis"]) == {"net"}
    # the vendor's 营业利润 column is a basis of its own
    icbc = profit[(profit.bank_id == "icbc") & (profit.period == "H1 2025")]
    assert sorted(icbc["basis"]) == ["pre_tax", "vendor_operating_profit"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
@pytest.mark.parametrize("quote", ["", "   ", None])
def test_an_empty_quote_fails_in_every_format(tmp_path: Path, suffix: str, quote) -> None:
    """An empty quote is never read as the text 'nan' (pandas < 3 did in astype('str'))."""
    _, frame = _copy(tmp_path)
    frame = frame.head(20).copy()
    frame.loc[3, "quote"] = quote
    path = tmp_path / f"bank_panel{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.astype(object).to_parquet(path, index=False)
    result = _validate(path)
    assert result.returncode == 2, result.stdout
    assert "'quote'" in result.stderr and "row 5" in result.stderr
