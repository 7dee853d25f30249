"""Certified split, outcome family, coverage rate and robustness: known truths from the
simulator, and pyfixest / statsmodels as second implementations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.formula.api as smf

from wb.uplift import checks, coverage, outcomes
from wb.uplift.fixest import iv_formula
from wb.uplift.sample import Sample, prepare
from wb.uplift.simulate import SimulationConfig, simulate

FE = ("rm", "month")


@pytest.fixture(scope="module")
def negative():
    frame, truth = simulate(
        SimulationConfig(n_rms=1500, seed=3, beta_quota=-20_000, sales_quota=5_000)
    )
    sample = prepare(frame)
    return frame, truth, sample, sample.demeaned


def _frame(sample: Sample) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "y": sample.y,
            "adds": sample.adds,
            "quota": sample.quota_on,
            "rm": sample.rm,
            "month": sample.month_code,
            "branch": sample.cluster,
            **{k: v for k, v in sample.extra.items()},
        }
    )


def test_certified_split_recovers_certification_of_quota_adds(negative):
    _, truth, sample, d = negative
    split = outcomes.by_certification(sample, d)
    cert, uncert = split["certified"].first_stage, split["uncertified"].first_stage
    total = d.slope("first_stage", "quota_in_force", d.x, d.z)
    assert cert.coef + uncert.coef == pytest.approx(total.coef, rel=1e-10)
    # quota-induced adds are certified with probability 0.35, organic ones are not moved
    share = cert.coef / total.coef
    assert share == pytest.approx(truth["realised"]["certified_share_quota"], abs=0.04)
    # per certified add the AUM effect is larger in size: fewer of them carry the same total
    assert split["certified"].per_add.coef < split["uncertified"].per_add.coef < 0


def test_outcome_family_covers_each_true_per_add_effect(negative):
    _, truth, sample, d = negative
    fam = outcomes.outcome_family(sample, d)
    table = fam.tidy()
    assert list(table["outcome"]) == ["aum_change_cny", "net_new_money_cny", "product_sales_cny"]
    for name, true in truth["true_effects"]["per_quota_add"].items():
        est = fam[name].per_add
        assert est.ci_low <= true <= est.ci_high, (name, est, true)
    raw = table["per_add_pvalue"].to_numpy()
    holm = table["pvalue_holm"].to_numpy()
    order = np.argsort(raw)  # Holm by hand: step-down, cumulative max of (m − rank) · p
    by_hand = np.maximum.accumulate((len(raw) - np.arange(len(raw))) * raw[order]).clip(max=1)
    np.testing.assert_allclose(holm[order], by_hand, rtol=1e-12)


def test_outcome_with_missing_rows_equals_pyfixest_on_those_rows(negative):
    frame, _, _, _ = negative
    frame = frame.copy()
    gone = np.random.default_rng(0).random(len(frame)) < 0.2
    frame["net_new_money_cny"] = frame["net_new_money_cny"].astype("Float64").mask(gone)
    sample = prepare(frame)
    d = sample.demeaned
    ours = outcomes.outcome_family(sample, d)["net_new_money_cny"].per_add.to_json()
    df = _frame(sample).dropna(subset=["net_new_money_cny"])
    ref = pf.feols(
        iv_formula("net_new_money_cny", "adds", "quota", FE), df, vcov={"CRV1": "branch"}
    )
    assert ours["n_obs"] == len(df)
    assert ours["coef"] == pytest.approx(ref.coef()["adds"], rel=1e-8)
    assert ours["se"] == pytest.approx(ref.se()["adds"], rel=1e-6)


def test_robustness_checks_equal_reference_fits(negative):
    _, _, sample, d = negative
    rob = checks.robustness(sample, d)[0].to_json()
    df = _frame(sample)
    df["t"] = sample.calendar_month
    lo, hi = np.percentile(df["y"], checks.WINSOR)
    df["y_w"] = df["y"].clip(lo, hi)
    ref = pf.feols(iv_formula("y_w", "adds", "quota", FE), df, vcov={"CRV1": "branch"})
    assert rob["winsorised"]["coef"] == pytest.approx(ref.coef()["adds"], rel=1e-8)
    assert rob["winsorised"]["se"] == pytest.approx(ref.se()["adds"], rel=1e-6)

    sub = df[~np.isin(df["t"] % 12 + 1, checks.QUARTER_END_MONTHS)]
    ref = pf.feols(iv_formula("y", "adds", "quota", FE), sub, vcov={"CRV1": "branch"})
    assert rob["no_quarter_end"]["coef"] == pytest.approx(ref.coef()["adds"], rel=1e-8)
    assert rob["no_quarter_end"]["se"] == pytest.approx(ref.se()["adds"], rel=1e-6)
    assert rob["leads"]["passes"], rob["leads"]  # the DGP has no anticipation


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_branch_month_effects_equal_a_dummy_variable_fit():
    """RM + branch × month effects: alternating projections do not converge here; the exact
    two-way solve (wb.uplift.twoway) must equal plain OLS with dummies (statsmodels) on a small
    sample."""
    frame, _ = simulate(SimulationConfig(n_rms=160, n_months=12, seed=5, rms_per_branch=20))
    sample = prepare(frame)
    rob = checks.robustness(sample, sample.demeaned)[0].to_json()
    df = _frame(sample)
    df["bm"] = [f"{b}-{m}" for b, m in zip(sample.branch, sample.month_code, strict=True)]
    ref = smf.ols("y ~ adds + C(rm) + C(bm)", df).fit()
    assert rob["branch_month_fe"]["coef"] == pytest.approx(ref.params["adds"], rel=1e-7)


def test_leads_test_fails_when_aum_moves_before_the_adds(negative):
    frame, _, _, _ = negative
    frame = frame.sort_values(["rm_id", "month"]).copy()
    nxt = frame.groupby("rm_id")["wecom_adds"].shift(-1).fillna(0)
    frame["aum_cny"] += (30_000 * nxt).groupby(frame["rm_id"]).cumsum().astype("int64")
    sample = prepare(frame)
    leads = checks.robustness(sample, sample.demeaned)[0]["leads"].to_json()
    assert not leads["passes"] and leads["coef"] == pytest.approx(30_000, rel=0.1)


def test_coverage_rate_by_hand():
    frame = pd.DataFrame(
        {
            "rm_id": ["A", "A", "A", "B", "B"],
            "month": ["2025-01", "2025-02", "2025-03", "2025-01", "2025-02"],
            "wecom_certified_adds": [5, 5, 10, 30, 0],
            "quota_target": [0, 50, 50, 0, 0],
            "customers": [40, 40, 40, 20, 20],
        }
    )
    cov = coverage.wecom_coverage(frame).to_json()
    assert cov["all"]["n_rms"] == 2
    assert cov["ever_quota"]["mean"] == pytest.approx(20 / 40)
    assert cov["never_quota"]["mean"] == pytest.approx(30 / 20)
    assert cov["all"]["share_above_1"] == pytest.approx(0.5)
    assert coverage.wecom_coverage(frame.drop(columns="customers")) is None
