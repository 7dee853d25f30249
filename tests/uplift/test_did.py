"""Staggered-adoption event studies and the Wald-DiD recover simulated truths and equal
independent implementations (diff-diff's CallawaySantAnna and ImputationDiD, csdid)."""

from __future__ import annotations

import json
import math
import warnings

import diff_diff
import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wb.errors import InputError, NotIdentified
from wb.plots.event_study import event_study_figure
from wb.uplift import callaway, event_study, wald_did
from wb.uplift.sample import prepare
from wb.uplift.simulate import SimulationConfig, simulate

matplotlib.use("Agg")

BETA_QUOTA, BETA_ORGANIC = -20_000.0, 20_000.0


@pytest.fixture(scope="module")
def sim():
    """2,000 RMs × 36 months; a quota-induced add is worth −20,000 yuan, an organic +20,000."""
    frame, truth = simulate(
        SimulationConfig(
            n_rms=2000, n_months=36, seed=1, beta_quota=BETA_QUOTA, beta_organic=BETA_ORGANIC
        )
    )
    return prepare(frame), truth


@pytest.fixture(scope="module")
def designs(sim):
    panel, _ = sim
    return {
        o: {
            e: event_study.event_study(event_study.cohort_frame(panel), o, e)
            for e in event_study.ESTIMATORS
        }
        for o in event_study.OUTCOMES
    }


def _quiet_fit(model, frame: pd.DataFrame, outcome: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(
            frame, outcome=outcome, unit="unit", time="time", first_treat="first_treat"
        )


def _diff_diff_cs(frame: pd.DataFrame, outcome: str):
    """diff-diff's ``CallawaySantAnna`` in the design of :mod:`wb.uplift.callaway`."""
    model = diff_diff.CallawaySantAnna(
        control_group="not_yet_treated", estimation_method="reg", cluster="cluster"
    )
    return _quiet_fit(model, frame, outcome)


def _diff_diff_imputation(frame: pd.DataFrame, outcome: str):
    model = diff_diff.ImputationDiD(
        cluster="cluster", horizon_max=event_study.WINDOW, pretrends=True
    )
    return _quiet_fit(model, frame, outcome)


# ------------------------------------------------------------------ sample


def test_cohort_frame_codes_absorbing_adoption(sim):
    panel, _ = sim
    frame = event_study.cohort_frame(panel)
    assert set(frame.columns) == {"unit", "time", "cluster", *event_study.OUTCOMES, "first_treat"}
    per_unit = frame.groupby("unit")
    assert (per_unit["first_treat"].nunique() == 1).all()
    assert (per_unit["cluster"].nunique() == 1).all()
    assert frame["time"].min() >= 1  # 0 is reserved for "never treated"
    # first_treat is the first usable month with a quota; it stays on afterwards.
    quota = pd.Series(panel.quota_on, index=panel.rm).groupby(level=0)
    months = pd.Series(panel.month_code + 1, index=panel.rm)
    first_quota = months[panel.quota_on > 0].groupby(level=0).min()
    treated = frame[frame["first_treat"] > 0].drop_duplicates("unit").set_index("unit")
    assert (treated["first_treat"] == first_quota.reindex(treated.index)).all()
    never = frame.loc[frame["first_treat"] == 0, "unit"].unique()
    assert (quota.max().reindex(never) == 0).all()
    # every kept adopter has at least one month before adoption; the others were dropped
    assert (per_unit["time"].min()[treated.index] < treated["first_treat"]).all()
    first_month = months.groupby(level=0).min()
    always = first_quota.index[first_quota.to_numpy() == first_month[first_quota.index]]
    assert len(always) > 0 and not frame["unit"].isin(always).any()


def test_unknown_names_are_rejected(sim):
    panel, _ = sim
    with pytest.raises(InputError, match="unknown outcome"):
        event_study.event_study(event_study.cohort_frame(panel), "aum_cny", "imputation")
    with pytest.raises(InputError, match="unknown estimator"):
        event_study.event_study(event_study.cohort_frame(panel), "wecom_adds", "twfe")


# ------------------------------------------------------------------ truth recovery


@pytest.mark.parametrize("outcome", list(event_study.OUTCOMES))
@pytest.mark.parametrize("estimator", event_study.ESTIMATORS)
def test_pre_periods_are_flat(designs, outcome, estimator):
    study = designs[outcome][estimator]
    pre = [p for p in study.points if p.event_time < 0 and math.isfinite(p.se)]
    assert study.points[0].event_time == -event_study.WINDOW
    assert len(pre) == study.pretrend_df >= 10
    # 11-12 correlated 95% intervals: a few may miss 0 by chance; none may be far off.
    covered = np.mean([p.ci_low <= 0 <= p.ci_high for p in pre])
    assert covered >= 2 / 3, f"only {covered:.0%} of pre-period intervals cover 0"
    assert max(abs(p.coef) / p.se for p in pre) < 3.5
    assert study.pretrend_p > 0.01


@pytest.mark.parametrize("estimator", event_study.ESTIMATORS)
def test_adds_att_matches_simulated_first_stage(designs, sim, estimator):
    _, truth = sim
    target = truth["realised"]["first_stage_adds_per_quota_month"]
    study = designs["wecom_adds"][estimator]
    assert abs(study.att - target) <= 3 * study.att_se, (study.att, study.att_se, target)
    assert study.point(0).ci_low > 20  # the jump at adoption is unmistakable


@pytest.mark.parametrize("outcome", list(event_study.OUTCOMES))
def test_estimators_agree_within_two_se(designs, outcome):
    cs, bjs = (designs[outcome][e] for e in event_study.ESTIMATORS)
    assert abs(cs.att - bjs.att) <= 2 * max(cs.att_se, bjs.att_se)
    assert cs.n_units == bjs.n_units and cs.n_cohorts == bjs.n_cohorts


@pytest.mark.parametrize("estimator", event_study.ESTIMATORS)
def test_wald_did_covers_the_true_per_add_effect(sim, estimator):
    panel, _ = sim
    w = wald_did.wald_did(event_study.cohort_frame(panel), estimator=estimator, n_boot=999, seed=1)
    assert w.ci_low <= BETA_QUOTA <= w.ci_high, w
    assert w.ci_high < 0  # clearly negative, and far from the organic +20,000
    assert w.coef == pytest.approx(w.numerator_att / w.denominator_att, rel=1e-12)


# ------------------------------------------------------------------ second implementations


@pytest.mark.parametrize("outcome", ["wecom_adds", "aum_change_cny"])
def test_in_house_imputation_equals_diff_diff(sim, designs, outcome):
    panel, _ = sim
    ours = designs[outcome]["imputation"]
    # diff-diff's lead regression demeans to an absolute 1e-10 and does not converge in its
    # 10,000 sweeps on yuan-scale values: hand it 万元 (everything is linear in the outcome).
    unit = 1e4 if outcome == "aum_change_cny" else 1.0
    frame = event_study.cohort_frame(panel)
    ref = _diff_diff_imputation(frame.assign(**{outcome: frame[outcome] / unit}), outcome)
    table = ref.aggregate("event_study").to_dataframe().set_index("event_time")
    tiny = 1e-10 * table["att"].abs().max()
    for point in ours.points:
        row = table.loc[point.event_time]
        assert point.coef / unit == pytest.approx(row["att"], rel=1e-8, abs=tiny)
        if point.event_time != -1:
            assert point.se / unit == pytest.approx(row["se"], rel=1e-6)
    assert set(table.index) == {p.event_time for p in ours.points}
    assert ours.att / unit == pytest.approx(ref.overall_att, rel=1e-8)
    assert ours.att_se / unit == pytest.approx(ref.overall_se, rel=1e-6)
    pretrend = ref.pretrend_test(n_leads=event_study.WINDOW - 1)
    assert ours.pretrend_df == pretrend["df"]
    # the same Wald statistic, read as Hotelling's T² (wb.stats.cluster.joint_wald): diff-diff
    # puts W/r on F(r, G − 1), which over-rejects with few branches
    g, r = ref.n_clusters, pretrend["df"]
    hotelling = pretrend["f_stat"] * (g - r) / (g - 1)
    assert ours.pretrend_p == pytest.approx(stats.f.sf(hotelling, r, g - r), rel=1e-6)


@pytest.mark.parametrize("balanced", [False, True], ids=["unbalanced", "balanced"])
@pytest.mark.parametrize("outcome", list(event_study.OUTCOMES))
def test_in_house_callaway_santanna_equals_diff_diff(sim, outcome, balanced):
    """Every event-time point, the event-study covariance (hence the pre-trend test) and the
    overall ATT equal diff-diff's, on the simulated panel (movers, gaps, late joiners) and on
    its balanced part (RMs seen every month)."""
    panel, _ = sim
    frame = event_study.cohort_frame(panel)
    if balanced:
        frame = _balanced(frame)
    ours = callaway.fit(callaway.Cohorts.build(frame), frame[outcome].to_numpy(dtype=float))
    ref = _diff_diff_cs(frame, outcome)
    es = ref.aggregate("event_study")
    table = es.to_dataframe().set_index("event_time")
    table = table[np.isfinite(table["att"])]
    assert list(table.index) == list(ours.event_times)
    tiny = 1e-10 * table["att"].abs().max()
    np.testing.assert_allclose(ours.coef, table["att"], rtol=1e-8, atol=tiny)
    np.testing.assert_allclose(ours.se, table["se"], rtol=1e-6)
    width = float(np.min(ours.ci_high - ours.ci_low))
    np.testing.assert_allclose(ours.ci_low, table["conf_int_lower"], rtol=0, atol=1e-6 * width)
    np.testing.assert_allclose(ours.ci_high, table["conf_int_upper"], rtol=0, atol=1e-6 * width)
    rows = [list(es.vcov_index).index(e) for e in ours.event_times]
    vcov = es.vcov[np.ix_(rows, rows)]
    np.testing.assert_allclose(ours.vcov, vcov, rtol=0, atol=1e-6 * np.abs(vcov).max())
    assert ours.att == pytest.approx(ref.overall_att, rel=1e-8)
    assert ours.att_se == pytest.approx(ref.overall_se, rel=1e-6)
    assert (ours.att_ci_low, ours.att_ci_high) == pytest.approx(ref.overall_conf_int, rel=1e-8)
    assert ours.n_clusters == ref.n_clusters
    # the production route reads the same numbers
    study = event_study.event_study(frame, outcome, "callaway_santanna")
    assert study.att == ours.att and study.point(0).coef == ours.coef[ours.event_times == 0][0]
    pre = [e for e in table.index if -event_study.WINDOW <= e < 0]
    lead_rows = [list(es.vcov_index).index(e) for e in pre]
    p, q = event_study._pretrend(
        table.loc[pre, "att"].to_numpy(), es.vcov[np.ix_(lead_rows, lead_rows)], ref.n_clusters
    )
    assert study.pretrend_df == q and study.pretrend_p == pytest.approx(p, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("estimator", event_study.ESTIMATORS)
def test_wald_did_without_a_first_stage_is_not_identified(estimator):
    """No adds at all: the ratio's denominator is exactly 0, a design the data cannot
    support (left out with a note), not a ZeroDivisionError (an internal error)."""
    frame, _ = simulate(SimulationConfig(n_rms=120, n_months=12, seed=4))
    cohorts = event_study.cohort_frame(prepare(frame)).assign(wecom_adds=0)
    with pytest.raises(NotIdentified, match="ATT on adds is exactly 0"):
        wald_did.wald_did(cohorts, estimator, n_boot=9)


def test_imputation_wald_did_is_diff_diff_ratio(sim):
    """The fast route's point estimate is the ratio of diff-diff's own ATTs, and its
    bootstrap SE is the delta-method SE diff-diff gives for the ATT of y − θ·adds."""
    panel, _ = sim
    frame = event_study.cohort_frame(panel)
    w = wald_did.wald_did(
        event_study.cohort_frame(panel), estimator="imputation", n_boot=4000, seed=2
    )
    num = _diff_diff_imputation(frame, "aum_change_cny").overall_att
    den = _diff_diff_imputation(frame, "wecom_adds").overall_att
    assert w.coef == pytest.approx(num / den, rel=1e-8)
    z = frame.assign(z=frame["aum_change_cny"] - w.coef * frame["wecom_adds"])
    ref_z = _diff_diff_imputation(z, "z")
    assert abs(ref_z.overall_att) <= 1e-8 * abs(num)  # linear in the outcome
    assert w.se == pytest.approx(ref_z.overall_se / abs(den), rel=0.05)  # Monte Carlo error


def test_callaway_santanna_wald_did_is_diff_diff_ratio(sim):
    panel, _ = sim
    frame = event_study.cohort_frame(panel)
    w = wald_did.wald_did(
        event_study.cohort_frame(panel), estimator="callaway_santanna", n_boot=999, seed=3
    )
    num = _diff_diff_cs(frame, "aum_change_cny")
    den = _diff_diff_cs(frame, "wecom_adds")
    assert w.coef == pytest.approx(num.overall_att / den.overall_att, rel=1e-8)
    z = frame.assign(z=frame["aum_change_cny"] - w.coef * frame["wecom_adds"])
    ref_z = _diff_diff_cs(z, "z")
    assert abs(ref_z.overall_att) <= 1e-8 * abs(num.overall_att)  # linear in the outcome
    assert w.se == pytest.approx(ref_z.overall_se / abs(den.overall_att), rel=0.1)


def _balanced(frame: pd.DataFrame) -> pd.DataFrame:
    n_times = frame["time"].nunique()
    return frame[frame.groupby("unit")["time"].transform("size") == n_times].reset_index(drop=True)


@pytest.mark.filterwarnings("ignore:Not returning pre-test Wald statistic")
def test_csdid_and_diff_diff_agree_on_att_gt():
    """csdid needs a balanced panel (IndexError otherwise, csdid#41): RMs seen every month."""
    from csdid.att_gt import ATTgt

    frame, _ = simulate(SimulationConfig(n_rms=400, n_months=12, seed=3))
    balanced = _balanced(event_study.cohort_frame(prepare(frame)))
    assert balanced["first_treat"].nunique() >= 4
    theirs = ATTgt(
        yname="wecom_adds",
        tname="time",
        idname="unit",
        gname="first_treat",
        data=balanced,
        control_group="notyettreated",
        clustervar="cluster",
    )
    theirs.fit(est_method="reg", base_period="varying", bstrap=False)
    ours = _diff_diff_cs(balanced, "wecom_adds")
    cells = {(int(g), int(t)): v["effect"] for (g, t), v in ours.group_time_effects.items()}
    got = theirs.results
    assert len(got["att"]) == len(cells)
    for g, t, att in zip(got["group"], got["year"], got["att"], strict=True):
        assert cells[(int(g), int(t))] == pytest.approx(att, rel=1e-6, abs=1e-9)
    theirs.aggte(typec="dynamic", bstrap=False)
    es = ours.aggregate("event_study").to_dataframe().set_index("event_time")["att"]
    for e, att in zip(theirs.atte["egt"], theirs.atte["att_egt"], strict=True):
        assert es[int(e)] == pytest.approx(att, rel=1e-6, abs=1e-9)


def test_diff_diff_pinned_numbers_have_not_drifted():
    """Fails loudly when diff-diff's numbers move (the 0.x package changes between minors).

    The values were recorded by running this fixture once with diff-diff 3.13.0.
    """
    assert diff_diff.__version__ == "3.13.0"
    frame, _ = simulate(SimulationConfig(n_rms=400, n_months=12, seed=3))
    cohorts = event_study.cohort_frame(prepare(frame))
    cs = _diff_diff_cs(cohorts, "wecom_adds").overall_att
    bjs = _diff_diff_imputation(cohorts, "wecom_adds").overall_att
    assert abs(cs - CS_PINNED) <= 1e-6, f"diff-diff CS overall ATT drifted: {cs!r}"
    assert abs(bjs - BJS_PINNED) <= 1e-6, f"diff-diff ImputationDiD ATT drifted: {bjs!r}"


# Recorded once (diff-diff 3.13.0, numpy 2.4.6, the fixture above); do not edit to make the
# test pass: a change means diff-diff's numbers moved and the release notes need reading.
CS_PINNED = 42.26994715432781
BJS_PINNED = 42.562394886373134


# ------------------------------------------------------------------ renderings


def test_to_json_is_json_safe(designs, sim):
    study = designs["aum_change_cny"]["imputation"]
    doc = study.to_json()
    json.dumps(doc, allow_nan=False)
    assert {"estimator", "points", "pretrend_p", "att"} <= set(doc)
    reference = next(p for p in doc["points"] if p["event_time"] == -1)
    assert reference == {"event_time": -1, "coef": 0.0, "se": None, "ci_low": None, "ci_high": None}
    assert set(doc["points"][0]) == {"event_time", "coef", "ci_low", "ci_high", "se"}
    panel, _ = sim
    json.dumps(
        wald_did.wald_did(event_study.cohort_frame(panel), n_boot=50).to_json(), allow_nan=False
    )


def test_event_study_figure_states_the_finding(designs, tmp_path):
    fig = event_study_figure(designs, source="test fixture", simulated=True)
    adds = designs["wecom_adds"]["imputation"].att
    title = fig.get_suptitle()
    assert f"{adds:+.0f}" in title
    assert len(fig.axes) == 3
    assert any("SIMULATED" in t.get_text() for t in fig.texts)
    fig.savefig(tmp_path / "event_study.png")
