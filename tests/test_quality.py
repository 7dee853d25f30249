"""What a quota-induced add is (wb.uplift.quality), against the customer-level simulator's truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wb.run import uplift_outputs
from wb.uplift import quality


def _wb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wb.cli", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("quality")
    made = _wb("simulate", "--level", "customer", "--out", str(root / "wh"), "--rms", "200")
    assert made.returncode == 0, made.stderr
    done = _wb("warehouse", "build", "--source", str(root / "wh"), "--out", str(root / "b"))
    assert done.returncode == 0, done.stderr
    return root


@pytest.mark.slow
def test_quota_induced_add_shares_cover_the_simulated_truth(built: Path) -> None:
    truth = json.loads((built / "wh" / "truth.json").read_text())["add_quality"]["realised"]
    out = built / "u"
    done = _wb(
        "uplift",
        "--quick",
        "--data",
        str(built / "b" / "rm_month.parquet"),
        "--quality",
        str(built / "b" / "add_quality.parquet"),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads((out / "uplift.json").read_text())["add_quality"]["counts"]
    pairs = {
        "adds_removed_30d": "share_removed_30d",
        "adds_shared_3plus": "share_ring",
        "wecom_certified_adds": "share_certified_30d",
        "adds_last3days": "share_last3days",
    }
    for count, key in pairs.items():
        got, quota_truth = counts[count], truth["quota_induced"][key]
        assert got["ci_low"] <= quota_truth <= got["ci_high"], (count, got, quota_truth)
        free, organic = got["no_quota"], truth["organic"][key]
        assert free["ci_low"] <= organic <= free["ci_high"], (count, free, organic)
    # a quota-induced add is far more often removed and a ring contact than an organic one
    assert counts["adds_removed_30d"]["ci_low"] > counts["adds_removed_30d"]["no_quota"]["ci_high"]


def test_a_quality_table_that_is_not_one_exits_2(tmp_path: Path, small_export) -> None:
    path = tmp_path / "q.csv"
    small_export.head(5).to_csv(path, index=False)
    from wb.errors import InputError

    with pytest.raises(InputError, match="not an add-quality table"):
        quality.read_quality(path)
    data = tmp_path / "x.parquet"
    small_export.to_parquet(data)
    with pytest.raises(InputError, match="not an add-quality table"):
        uplift_outputs.analyse(data, tmp_path / "u", quick=True, quality=path)
    assert not (tmp_path / "u" / "uplift.json").exists()
