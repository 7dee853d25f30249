"""Difference-in-bunching at the quota target recovers simulated truths and exact hand counts."""

from __future__ import annotations

import dataclasses
import json
from functools import cache

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from wb.door.calendar import month_index
from wb.errors import InputError
from wb.plots.bunching import bunching_figure
from wb.uplift.bunching import Bunching, bunching
from wb.uplift.simulate import SimulationConfig, simulate

N_BOOT = 200


@cache
def _simulated(fill_prob: float, seed: int, n_rms: int = 2000) -> tuple[pd.DataFrame, dict]:
    frame, truth = simulate(
        SimulationConfig(n_rms=n_rms, n_months=24, seed=seed, fill_prob=fill_prob)
    )
    return frame, truth["realised"]


@cache
def _estimate(fill_prob: float, seed: int) -> tuple[Bunching, dict]:
    frame, realised = _simulated(fill_prob, seed)
    return bunching(frame, n_boot=N_BOOT, seed=0), realised


# ------------------------------------------------------------------ truth recovery


@pytest.mark.parametrize(("fill_prob", "seed"), [(0.7, 1), (0.3, 2)])
def test_excess_share_recovers_the_simulated_bunching_share(fill_prob, seed):
    r, realised = _estimate(fill_prob, seed)
    truth = realised["bunching_share_at_target"]
    assert abs(truth - fill_prob) < 0.05  # the two cases really differ
    assert r.excess_share == pytest.approx(truth, abs=0.05)
    assert r.ci_low <= truth <= r.ci_high
    assert r.significant
    assert r.excess_mass == pytest.approx(r.excess_share * r.n_quota_rm_months)


def test_no_fill_up_means_no_excess_mass():
    r, _ = _estimate(0.0, 3)
    assert abs(r.excess_share) < 0.005
    assert r.ci_low <= 0 <= r.ci_high
    assert not r.significant
    assert r.text.startswith("No detectable bunching")


@pytest.mark.parametrize(("fill_prob", "seed"), [(0.7, 1), (0.3, 2), (0.0, 3)])
def test_manufactured_adds_match_the_simulated_first_stage(fill_prob, seed):
    """Tolerance: 1 add per quota RM-month (the truth is 12–40), and the 95% CI covers it."""
    r, realised = _estimate(fill_prob, seed)
    truth = realised["first_stage_adds_per_quota_month"]
    assert r.first_stage == "did"
    assert r.manufactured_adds == pytest.approx(truth, abs=1.0)
    assert r.manufactured_ci_low <= truth <= r.manufactured_ci_high
    assert r.manufactured_total == pytest.approx(r.manufactured_adds * r.n_quota_rm_months)


def test_did_first_stage_removes_a_common_trend_that_biases_pre_post():
    frame, realised = _simulated(0.7, 1, n_rms=1000)
    elapsed = month_index(frame["month"]) - month_index(frame["month"]).min()
    trended = frame.assign(wecom_adds=frame["wecom_adds"] + elapsed // 2)  # +1 add per 2 months
    truth = realised["first_stage_adds_per_quota_month"]
    did = bunching(trended, n_boot=50, first_stage="did")
    pre_post = bunching(trended, n_boot=50, first_stage="pre_post")
    assert did.manufactured_adds == pytest.approx(truth, abs=1.5)
    assert pre_post.manufactured_adds - truth > 2.0


@pytest.mark.parametrize(("fill_prob", "seed"), [(0.7, 1), (0.3, 2)])
def test_placebo_thresholds_show_no_excess(fill_prob, seed):
    r, _ = _estimate(fill_prob, seed)
    assert [p.offset for p in r.placebo] == [-5, 5]
    for p in r.placebo:
        assert abs(p.excess_share) < 0.005
        assert p.ci_low - 0.002 <= 0 <= p.ci_high + 0.002


# ------------------------------------------------------------------ exact arithmetic


def _rows(rm: str, months: range, adds: list[int], targets: list[int]) -> list[dict]:
    return [
        {"rm_id": rm, "month": f"2024-{m:02d}", "wecom_adds": a, "quota_target": q}
        for m, a, q in zip(months, adds, targets, strict=True)
    ]


def _hand_frame() -> pd.DataFrame:
    """Counts at the target (z = 0), per RM, quota months minus pre-quota × n_quota/n_pre:

    * A: pre 10, 50 (round-number heaping at its later target); quota 50, 50, 50, 30
      → 3 − 1 × 4/2 = 1.
    * B: first target 100, then 50. Pre 5, 6, 7; quota 100 (at 100), 50 (at 50), 100 (+50
      over 50) → 2 − 0 = 2.
    * C: never treated; adds 10, 10, 10, 12, 12, 12 (the DiD month trend).
    * D: quota from its first month: no pre-quota months, dropped.
    * E: pre 20; quota 50 at 50; then no quota (moved), month left out → 1 − 0 = 1.

    Excess share 4 / 8 quota RM-months = 0.5. Manufactured adds, pre/post: A 180 − 2 × 60,
    B 250 − 18, E 50 − 20 → 322 / 8 = 40.25. DiD subtracts C's change over the same months:
    A 46 − 2 × 20, B 36 − 30, E 10 − 10 → (322 − 12) / 8 = 38.75.
    """
    six = range(1, 7)
    rows = (
        _rows("A", six, [10, 50, 50, 50, 50, 30], [0, 0, 50, 50, 50, 50])
        + _rows("B", six, [5, 6, 7, 100, 50, 100], [0, 0, 0, 100, 50, 50])
        + _rows("C", six, [10, 10, 10, 12, 12, 12], [0] * 6)
        + _rows("D", range(4, 7), [50, 50, 50], [50, 50, 50])
        + _rows("E", range(1, 4), [20, 50, 50], [0, 50, 0])
    )
    return pd.DataFrame(rows)


def test_hand_made_frame_gives_the_exact_counts():
    r = bunching(_hand_frame(), n_boot=50, first_stage="pre_post")
    assert r.excess_share == pytest.approx(0.5)
    assert r.excess_mass == pytest.approx(4.0)
    assert r.manufactured_adds == pytest.approx(40.25)
    assert r.manufactured_total == pytest.approx(322.0)
    assert [p.excess_share for p in r.placebo] == [0.0, 0.0]
    assert (r.n_rms, r.n_rms_without_pre, r.n_never_treated_rms) == (3, 1, 1)
    assert (r.n_quota_rm_months, r.n_pre_rm_months) == (8, 6)
    at_target = r.histogram[r.histogram["z"] == 0].set_index("period")
    assert at_target.loc["quota", "share"] == pytest.approx(0.75)
    assert at_target.loc["pre_quota", "share"] == pytest.approx(0.25)  # A's 1 month × 4/2
    assert at_target.loc["pre_quota", "n"] == 1
    shares = r.histogram.groupby("period")["share"].sum()
    assert shares["quota"] == pytest.approx(7 / 8)  # B's z = +50 month is beyond +40
    assert shares["pre_quota"] == pytest.approx(5 / 8)  # A 2 × 4/2, E 1 × 1; B below −60


def test_hand_made_frame_did_first_stage():
    r = bunching(_hand_frame(), n_boot=50)
    assert r.manufactured_adds == pytest.approx(38.75)
    assert r.excess_share == pytest.approx(0.5)  # the excess share does not use the DiD


def test_wider_window_counts_near_misses():
    frame = _hand_frame()
    frame.loc[(frame["rm_id"] == "A") & (frame["month"] == "2024-06"), "wecom_adds"] = 48
    r = bunching(frame, window=(-2, 0), n_boot=50, placebo_offsets=(-10, 10))
    assert r.excess_share == pytest.approx(5 / 8)  # A: 4 − 1 × 2 = 2
    assert r.where == "within -2 to +0 adds of the target"


# ------------------------------------------------------------------ bootstrap, errors, JSON


def test_bootstrap_is_reproducible_with_a_seed():
    frame, _ = _simulated(0.7, 1, n_rms=300)
    a = bunching(frame, n_boot=100, seed=11)
    b = bunching(frame, n_boot=100, seed=11)
    c = bunching(frame, n_boot=100, seed=12)
    assert a == b
    assert (a.ci_low, a.manufactured_ci_high) != (c.ci_low, c.manufactured_ci_high)
    assert a.excess_share == c.excess_share


def test_errors_are_input_errors_with_clear_messages():
    frame = _hand_frame()
    with pytest.raises(InputError, match="no quota months"):
        bunching(frame.assign(quota_target=0))
    with pytest.raises(InputError, match="no pre-quota months"):
        bunching(frame[frame["rm_id"].isin(["C", "D"])])
    with pytest.raises(InputError, match="first_stage='pre_post'"):
        bunching(frame[frame["rm_id"] != "C"])  # no never-treated RMs for the DiD
    with pytest.raises(InputError, match="lacks column"):
        bunching(frame.drop(columns="quota_target"))
    with pytest.raises(InputError, match="clear of itself"):
        bunching(frame, window=(-5, 0))


def test_json_is_nan_free_and_has_the_required_keys():
    r, _ = _estimate(0.7, 1)
    doc = r.to_json()
    required = {"excess_share", "ci_low", "ci_high", "manufactured_adds", "manufactured_ci_low"}
    assert required | {"manufactured_ci_high", "excess_mass", "placebo", "text"} <= set(doc)
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc
    assert f"{r.excess_share:.1%}" in doc["text"]
    assert f"{r.manufactured_adds:.1f}" in doc["text"]
    missing = dataclasses.replace(r, ci_low=float("nan")).to_json()
    assert missing["ci_low"] is None


def test_figure_states_the_finding(tmp_path):
    r, _ = _estimate(0.7, 1)
    fig = bunching_figure(r, source="wb simulate --rms 2000 --seed 1", simulated=True)
    ax = fig.axes[0]
    assert ax.get_title(loc="left").startswith(
        f"{r.excess_share:.0%} of quota RM-months sit exactly"
    )
    fig.savefig(tmp_path / "bunching.png")  # missing CJK glyphs fail the run (pyproject)
    plt.close(fig)
