"""The input door reads CSV (UTF-8, BOM, GB18030), Parquet and XLSX alike and refuses the rest."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest

from wb.door import io, writers
from wb.errors import InputError


def _write(frame: pd.DataFrame, path, kind: str) -> None:
    if kind == "utf-8":
        frame.to_csv(path, index=False, encoding="utf-8")
    elif kind == "utf-8-bom":
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    elif kind == "gb18030":
        frame.to_csv(path, index=False, encoding="gb18030")
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "xlsx":
        frame.to_excel(path, index=False)


FORMATS = [
    ("utf-8", ".csv"),
    ("utf-8-bom", ".csv"),
    ("gb18030", ".csv"),
    ("parquet", ".parquet"),
    ("xlsx", ".xlsx"),
]


@pytest.mark.parametrize(("kind", "suffix"), FORMATS)
def test_formats_round_trip(tmp_path, small_export, kind, suffix):
    frame = small_export.head(50).copy()
    frame["branch_id"] = "网点" + frame["branch_id"]  # Chinese text survives every format
    path = tmp_path / f"x{suffix}"
    _write(frame, path, kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = io.load(path)
    gbk_warned = any("GB18030" in str(w.message) for w in caught)
    assert gbk_warned == (kind == "gb18030")
    got = loaded.frame
    expected = frame.astype({"aum_cny": "float64", "customers": "Int64"})
    pdt.assert_frame_equal(got, expected, check_dtype=False)
    assert str(got["wecom_adds"].dtype) == "int64"


def test_bom_is_not_part_of_first_column(tmp_path, small_export):
    path = tmp_path / "bom.csv"
    small_export.head(3).to_csv(path, index=False, encoding="utf-8-sig")
    assert io.read_table(path).columns[0] == "rm_id"


def test_gbk_character_late_in_file_is_detected(tmp_path, small_export):
    frame = small_export.head(2000).copy()
    frame.loc[1999, "branch_id"] = "成都分行"
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False, encoding="gb18030")
    assert io.detect_encoding(path) == "gb18030"
    with pytest.warns(io.InputWarning, match="GB18030"):
        assert io.load(path).frame.loc[1999, "branch_id"] == "成都分行"


def test_undecodable_csv_is_refused(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"rm_id,month\n\xff\xfe\x00\x81\xff,2025-01\n")
    with pytest.raises(InputError, match="UTF-8 or GB18030"):
        io.load(path)


@pytest.mark.parametrize("name", ["x.json", "x.xls", "x", "x.txt"])
def test_unsupported_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_text("rm_id\n1\n")
    with pytest.raises(InputError, match="unsupported file type"):
        io.read_table(path)


@pytest.mark.parametrize("name", ["warehouse", "x.json", "x.csv"])
def test_a_folder_is_named_a_folder_whatever_its_name(tmp_path, name):
    """docs/data.md: a folder (or a FIFO) is named as such, not as an unsupported type."""
    folder, fifo = tmp_path / "folder" / name, tmp_path / "fifo" / name
    folder.mkdir(parents=True)
    with pytest.raises(InputError, match="a folder, not a file"):
        io.read_table(folder)
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a FIFO"):
        io.read_table(fifo)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        io.read_table(tmp_path / "nope.csv")


def test_corrupt_parquet_is_input_error(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(InputError, match="cannot read as PARQUET"):
        io.read_table(path)


def test_excel_dates_in_month_column_are_months(tmp_path, small_export):
    frame = small_export.head(5).copy()
    frame["month"] = pd.to_datetime(frame["month"] + "-01")
    path = tmp_path / "dates.xlsx"
    frame.to_excel(path, index=False)
    assert list(io.load(path).frame["month"]) == list(small_export.head(5)["month"])


def test_integers_from_excel_floats_are_integers(tmp_path, small_export):
    frame = small_export.head(5).copy()
    frame["wecom_adds"] = frame["wecom_adds"].astype(float)
    frame["wecom_certified_adds"] = frame["wecom_certified_adds"].astype(float)
    path = tmp_path / "floats.parquet"
    frame.to_parquet(path)
    assert list(io.load(path).frame["wecom_adds"]) == list(small_export.head(5)["wecom_adds"])


def test_unknown_column_warns_and_is_dropped(tiny_csv):
    frame = pd.read_csv(tiny_csv)
    frame["colour"] = "red"
    frame.to_csv(tiny_csv, index=False)
    with pytest.warns(io.InputWarning, match="unknown column 'colour' ignored"):
        loaded = io.load(tiny_csv)
    assert "colour" not in loaded.frame.columns


def test_write_table_is_atomic_and_refuses_other_suffixes(tmp_path, small_export, monkeypatch):
    out = writers.write_table(small_export.head(3), tmp_path / "a.csv")
    assert out.read_text().startswith("rm_id,branch_id,month")
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(InputError):
        writers.write_table(small_export.head(3), tmp_path / "a.json")
    # a writer that fails half-way leaves the earlier file whole and no temporary file behind
    before = out.read_bytes()

    def half_then_fail(self, path, *args, **kwargs):
        Path(path).write_text("rm_id,branch_id\npartial", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        writers.write_table(small_export, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_replace_dir_keeps_the_old_folder_when_the_swap_fails(tmp_path, monkeypatch):
    """A folder swap is all or nothing: if renaming the new folder in fails, the old one is
    put back whole (a broken version without the restore leaves no target at all)."""
    import os

    from wb.door import atomic

    target, staging = tmp_path / "out", tmp_path / ".out.staging"
    target.mkdir()
    (target / "old.txt").write_text("old")
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    real = os.replace

    def fail_on_staging(src, dst):
        if Path(src) == staging:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", fail_on_staging)
    with pytest.raises(OSError, match="disk full"):
        atomic.replace_dir(staging, target)
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    monkeypatch.setattr(atomic.os, "replace", real)
    atomic.replace_dir(staging, target)
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
