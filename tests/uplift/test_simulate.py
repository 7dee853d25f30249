"""The simulator is deterministic, valid, and its truth file matches its arguments and its data."""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest

from wb.door import io
from wb.errors import InputError
from wb.uplift.simulate import SimulationConfig, simulate, truth_path, write


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_same_arguments_same_bytes(tmp_path, suffix):
    config = SimulationConfig(n_rms=120, n_months=14, seed=3, beta_quota=-5000)
    a, ta, _ = write(config, tmp_path / f"a{suffix}")
    if suffix == ".xlsx":  # a zip stores times in 2 s steps: a later second must not show
        time.sleep(2.1)
    b, tb, _ = write(config, tmp_path / f"b{suffix}")
    assert _sha(a) == _sha(b)
    assert ta.read_text() == tb.read_text()
    c, _, _ = write(SimulationConfig(n_rms=120, n_months=14, seed=4), tmp_path / f"c{suffix}")
    assert _sha(a) != _sha(c)


def test_output_is_a_valid_rm_month_export(tmp_path):
    path, _, frame = write(SimulationConfig(n_rms=150, n_months=12, seed=1), tmp_path / "s.csv")
    loaded = io.load(path)
    assert len(loaded.frame) == len(frame)
    assert loaded.frame["rm_id"].nunique() == 150


def test_truth_file_matches_arguments(tmp_path):
    config = SimulationConfig(n_rms=100, n_months=18, seed=9, beta_quota=-20000, beta_organic=15000)
    path, tpath, frame = write(config, tmp_path / "s.parquet")
    assert tpath == truth_path(path) and tpath.name == "s.parquet.truth.json"
    truth = json.loads(tpath.read_text())
    assert truth["arguments"]["n_rms"] == 100
    assert truth["arguments"]["seed"] == 9
    assert truth["true_effects"]["beta_quota_cny_per_add"] == -20000
    assert truth["true_effects"]["beta_organic_cny_per_add"] == 15000
    assert truth["realised"]["rows"] == len(frame)


def test_dgp_has_the_hard_parts():
    frame, truth = simulate(SimulationConfig(n_rms=1000, n_months=24, seed=2))
    quota = frame["quota_target"] > 0
    # staggered rollout with never-treated branches
    first = frame[quota].groupby("branch_id")["month"].min()
    assert first.nunique() >= 3
    never = set(frame["branch_id"]) - set(first.index)
    assert len(never) == truth["design"]["never_treated_branches"] > 0
    assert not frame.loc[frame["branch_id"].isin(never), "quota_target"].any()
    # treated branches also have months before their quota starts (not-yet-treated)
    before = frame[frame["branch_id"].isin(first.index) & ~quota]
    assert (before["month"] < before["branch_id"].map(first)).any()
    # bunching exactly at the target in quota months
    at_target = (frame.loc[quota, "wecom_adds"] == frame.loc[quota, "quota_target"]).mean()
    assert at_target > 0.5
    assert truth["realised"]["bunching_share_at_target"] == pytest.approx(at_target, abs=0.05)
    # quota adds certified less often than organic adds
    cert_rate_q = (
        frame.loc[quota, "wecom_certified_adds"].sum() / frame.loc[quota, "wecom_adds"].sum()
    )
    cert_rate_0 = (
        frame.loc[~quota, "wecom_certified_adds"].sum() / frame.loc[~quota, "wecom_adds"].sum()
    )
    assert cert_rate_q < 0.6 < 0.85 < cert_rate_0
    # unbalanced panel: joiners, leavers and gaps
    per_rm = frame.groupby("rm_id")["month"].count()
    assert per_rm.min() < 24 and per_rm.max() == 24
    # movers: some RMs sit in two branches
    assert (frame.groupby("rm_id")["branch_id"].nunique() > 1).sum() > 0
    # heavy tails: AUM changes have excess kurtosis
    d = frame.groupby("rm_id")["aum_cny"].diff().dropna()
    assert ((d - d.mean()) ** 4).mean() / d.var() ** 2 > 6
    assert np.isfinite(truth["realised"]["first_stage_adds_per_quota_month"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_rms": 5},
        {"n_months": 3},
        {"seed": -1},
        {"beta_quota": float("nan")},
        {"first_month": "2024-13"},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(InputError):
        simulate(SimulationConfig(**kwargs))
