"""IV-WAS beside FE-2SLS and the dynamic effects of quota changes (DID_ℓ): known truths from
the simulator (quotas that start, change and stop) and the authors' packages as second
implementations (``did-multiplegt-stat`` 0.1.2, ``py-did-multiplegt-dyn`` 0.1.9; dev extras,
skipped with the reason when absent).

Tolerances: point estimates 1e-8 relative to the packages. Standard errors: DID_ℓ's of AUM
change within 25% of the package's (its cohort-demeaned "conservative" variance conditions on
each cohort's switch path; wb's is the unconditional cluster-robust one); IV-WAS's SE is not
compared to the package's (about 5× the Monte Carlo spread of the estimate, docs/methods.md) but
to the Monte Carlo spread itself (slow test).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest

from wb.uplift.designs import estimate_designs
from wb.uplift.dynamic import dynamic_effects
from wb.uplift.sample import prepare
from wb.uplift.simulate import SimulationConfig, simulate
from wb.uplift.was import iv_was

#: No RM joins, leaves, misses a month or moves: the simulator's dynamic truth is then exact.
CLEAN = {"leaver_share": 0.0, "joiner_share": 0.0, "gap_share": 0.0, "mover_share": 0.0}
CHANGING = {"quota_change_share": 0.4, "quota_stop_share": 0.3}


def _sample(n_rms: int, seed: int, beta: float = -20_000.0, **kw) -> tuple:
    frame, truth = simulate(
        SimulationConfig(n_rms=n_rms, n_months=24, seed=seed, beta_quota=beta, **kw)
    )
    return prepare(frame), truth["true_effects"]


def _iv_was(sample):
    return iv_was(sample, sample.demeaned)


def _columns(d):
    return d.y, d.x, d.z


def _long(sample) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": sample.rm,
            "t": sample.calendar_month,
            "y": sample.y,
            "adds": sample.adds,
            "z": sample.quota_on,
            "target": sample.quota_target.astype(float),
            "cl": sample.cluster,
        }
    )


# ------------------------------------------------------------------ IV-WAS


@pytest.mark.parametrize(("seed", "kw"), [(3, CLEAN), (4, {}), (5, CHANGING)])
def test_iv_was_equals_did_multiplegt_stat(seed, kw):
    stat = pytest.importorskip(
        "did_multiplegt_stat", reason="did-multiplegt-stat (dev extra) is not installed"
    )
    sample, _ = _sample(400, seed, **kw)
    ours = _iv_was(sample)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = stat.did_multiplegt_stat(
            df=_long(sample),
            Y="y",
            ID="id",
            Time="t",
            D="adds",
            Z="z",
            estimator=["iv-was"],
            cluster="cl",
        )
    row = ref["results"]["table"].loc["IV-WAS"]
    assert ours.coef == pytest.approx(row["Estimate"], rel=1e-8)
    assert ours.switchers == row["Switchers"]


def test_iv_was_recovers_the_per_add_effect_and_sits_beside_fe_2sls():
    sample, truth = _sample(2000, 7, **CHANGING)
    v = _iv_was(sample)
    beta = truth["beta_quota_cny_per_add"]
    assert v.ci_low < beta < v.ci_high, v.summary()
    assert v.difference == pytest.approx(v.coef - v.fe_2sls)
    fe = sample.demeaned.slope("iv_quota", "wecom_adds", *_columns(sample.demeaned))
    assert v.fe_2sls == pytest.approx(fe.coef, rel=1e-12)
    assert v.difference_ci_low < 0 < v.difference_ci_high  # one effect: the two agree
    assert v.first_stage > 20  # adds per switch on


@pytest.mark.slow
def test_iv_was_se_and_difference_test_hold_over_seeds():
    """60 exports with a known effect: IV-WAS's SE matches the spread of the estimate, its
    interval covers the truth and the test of IV-WAS = FE-2SLS keeps its size (one effect)."""
    coefs, ses, cover, reject = [], [], 0, 0
    for seed in range(60):
        sample, _ = _sample(600, 100 + seed, beta=-5_000.0, **CLEAN)
        v = _iv_was(sample)
        coefs.append(v.coef)
        ses.append(v.se)
        cover += v.ci_low <= -5_000.0 <= v.ci_high
        reject += v.difference_p < 0.05
    assert 0.8 < np.mean(ses) / np.std(coefs) < 1.25
    assert cover >= 53  # ≥ 88% of 60 (95% nominal, binomial slack)
    assert reject <= 7


# ------------------------------------------------------------------ DID_ℓ


def _dyn_reference(sample, outcome: str, effects: int, placebos: int):
    pytest.importorskip("polars", reason="py-did-multiplegt-dyn needs polars (dev extra)")
    dyn = pytest.importorskip(
        "did_multiplegt_dyn", reason="py-did-multiplegt-dyn (dev extra) is not installed"
    )
    import polars as pl

    frame = pl.from_pandas(_long(sample))
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = dyn.DidMultiplegtDyn(
            frame, outcome, "id", "t", "target", cluster="cl", effects=effects, placebo=placebos
        ).fit()
    return fit.result["did_multiplegt_dyn"]


@pytest.mark.parametrize(("seed", "kw"), [(5, CLEAN | CHANGING), (6, CHANGING), (8, {})])
def test_dynamic_effects_equal_did_multiplegt_dyn(seed, kw):
    sample, _ = _sample(800, seed, **kw)
    ours = dynamic_effects(sample, effects=6, placebos=3)
    for outcome, column in (("aum_change_cny", "y"), ("wecom_adds", "adds")):
        ref = _dyn_reference(sample, column, 6, 3)
        for kind, table in (("effect", ref["Effects"]), ("placebo", ref["Placebos"])):
            for label, row in table.iterrows():
                h = int(str(label).split("_")[1]) * (1 if kind == "effect" else -1)
                mine = ours.effect(outcome, h)
                assert mine["coef"] == pytest.approx(row["Estimate"], rel=1e-8), (outcome, h)
                assert mine["switchers"] == row["Switchers"], (outcome, h)
                if outcome == "aum_change_cny":
                    assert mine["se"] == pytest.approx(row["SE"], rel=0.25), (outcome, h)


def test_dynamic_effects_recover_the_simulated_truth_when_quotas_change_and_stop():
    sample, truth = _sample(3000, 11, **CLEAN | CHANGING)
    dyn = dynamic_effects(sample)
    true = truth["dynamic"]
    for outcome in ("wecom_adds", "aum_change_cny"):
        for h in range(1, 9):
            row = dyn.effect(outcome, h)
            target = true[outcome][h - 1]
            assert abs(row["coef"] - target) < 3.5 * row["se"], (outcome, h, row["coef"], target)
    # stops pull the adds effect down at later horizons: the truth falls and so does the estimate
    assert true["wecom_adds"][7] < true["wecom_adds"][0] - 3
    assert dyn.effect("wecom_adds", 8)["coef"] < dyn.effect("wecom_adds", 1)["coef"]
    assert dyn.pretrend_p["aum_change_cny"] > 0.01


def test_the_simulator_changes_and_stops_quotas_only_when_asked():
    plain, plain_truth = simulate(SimulationConfig(n_rms=400, n_months=24, seed=2, **CLEAN))
    changed, truth = simulate(SimulationConfig(n_rms=400, n_months=24, seed=2, **CLEAN | CHANGING))
    design = truth["design"]
    assert design["rms_whose_target_changes"] > 0 and design["rms_whose_quota_stops"] > 0
    assert plain_truth["design"]["rms_whose_target_changes"] == 0
    assert plain_truth["design"]["rms_whose_quota_stops"] == 0
    same = plain.drop(
        columns=[
            "quota_target",
            "wecom_adds",
            "wecom_certified_adds",
            "aum_cny",
            "customers",
            "net_new_money_cny",
            "product_sales_cny",
        ]
    )
    pd.testing.assert_frame_equal(same, changed[same.columns])


def test_designs_carry_both_with_their_notes_and_json():
    frame, _ = simulate(
        SimulationConfig(n_rms=500, n_months=24, seed=9, beta_quota=-20_000, **CHANGING)
    )
    designs = estimate_designs(frame, prepare(frame), workers=1)
    doc = designs.to_json()
    assert doc["iv_was"]["coef"] == designs.iv_was.coef
    points = doc["dynamic_effects"]["outcomes"]["aum_change_cny"]["points"]
    assert [p["horizon"] for p in points] == [-3, -2, -1, *range(1, 9)]
    tidy = designs.tidy()
    assert set(tidy["design"]) >= {"iv_was", "dynamic_effects"}
    assert "IV-WAS" in designs.summary() and "Dynamic effects" in designs.summary()
    assert "<table>" in designs.iv_was._repr_html_()
    assert "<table>" in designs.dynamic_effects._repr_html_()
