"""The uplift engine recovers simulated truths and equals independent implementations."""

from __future__ import annotations

import dataclasses

import jsonschema
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from wb.door import provenance
from wb.errors import ExportError
from wb.uplift import estimation
from wb.uplift.fixest import iv_formula
from wb.uplift.result import WEAK_F, UpliftResult
from wb.uplift.sample import prepare
from wb.uplift.schema import schema, validate_document
from wb.uplift.simulate import SimulationConfig, simulate


def _result(beta_quota: float, seed: int = 1, n_rms: int = 2000) -> UpliftResult:
    frame, truth = simulate(
        SimulationConfig(n_rms=n_rms, n_months=24, seed=seed, beta_quota=beta_quota)
    )
    return estimation.estimate(frame, simulated_truth=truth["true_effects"])


# ------------------------------------------------------------------ truth recovery


def test_null_effect_no_uplift_while_naive_is_positive():
    r = _result(0.0)
    iv, naive = r.estimate_of("iv_quota"), r.estimate_of("naive_ols")
    assert r.verdict.code == "no_detectable_uplift"
    assert iv.ci_low <= 0 <= iv.ci_high
    assert naive.ci_low > 0  # the dashboard number is significantly positive
    assert "no uplift can be detected" in r.verdict.text
    assert r.verdict.text_zh.endswith("检测不到提升。")
    assert any("would claim uplift" in c for c in r.verdict.caveats)
    # the sentence names the months it is about (a brief's period may be another one)
    assert r.verdict.text.startswith(f"In {r.first_month} to {r.last_month}, a quota-induced")
    assert r.verdict.text_zh.startswith(f"{r.first_month}至{r.last_month}，因配额")
    # as notebook 20 and wb uplift print it: marked simulated, the caveats after it; unmarked
    # when the same numbers come from data not known to be simulated
    said = r.verdict_text().splitlines()
    assert said[0] == f"{provenance.LABEL}: {r.verdict.text}"
    assert said[1:] == [f"- {c}" for c in r.verdict.caveats]
    real = dataclasses.replace(r, simulated_truth=None, stamped_simulated=False)
    assert real.verdict_text(caveats=False) == r.verdict.text


@pytest.mark.parametrize(
    ("beta", "code", "zh"),
    [(-20_000, "negative_uplift", "伴随 AUM 下降"), (20_000, "positive_uplift", "确实提升了 AUM")],
)
def test_clear_effects_get_the_right_verdict_and_cover_the_truth(beta, code, zh):
    r = _result(beta)
    iv = r.estimate_of("iv_quota")
    assert r.verdict.code == code
    assert zh in r.verdict.text_zh and f"{iv.coef:+,.0f} 元" in r.verdict.text_zh
    assert iv.ci_low <= beta <= iv.ci_high
    assert r.ar_interval.covers(beta)


def test_first_stage_matches_simulated_quota_adds():
    frame, truth = simulate(SimulationConfig(n_rms=2000, n_months=24, seed=3))
    r = estimation.estimate(frame)
    target = truth["realised"]["first_stage_adds_per_quota_month"]
    fs = r.first_stage
    assert fs.ci_low - 3 <= target <= fs.ci_high + 3
    assert r.effective_f > 100


# ------------------------------------------------------------------ second implementations


def _panel_frame(n_rms=400, seed=5, beta_quota=-5000.0) -> pd.DataFrame:
    frame, _ = simulate(
        SimulationConfig(n_rms=n_rms, n_months=18, seed=seed, beta_quota=beta_quota)
    )
    p = prepare(frame)
    return pd.DataFrame(
        {"y": p.y, "x": p.adds, "z": p.quota_on, "rm": p.rm, "month": p.month_code, "g": p.cluster}
    )


def _feols(fml: str, d: pd.DataFrame):
    return pf.feols(fml, d, vcov={"CRV1": "g"})


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_fast_path_equals_pyfixest_feols(seed):
    frame, _ = simulate(SimulationConfig(n_rms=400, n_months=18, seed=seed, beta_quota=-5000))
    r = estimation.estimate(frame)
    p = prepare(frame)
    d = pd.DataFrame(
        {"y": p.y, "x": p.adds, "z": p.quota_on, "rm": p.rm, "month": p.month_code, "g": p.cluster}
    )
    fits = {
        "naive_ols": (_feols("y ~ x", d), "x"),
        "twfe": (_feols("y ~ x | rm + month", d), "x"),
        "iv_quota": (_feols(iv_formula("y", "x", "z", ("rm", "month")), d), "x"),
        "first_stage": (_feols("x ~ z | rm + month", d), "z"),
        "reduced_form": (_feols("y ~ z | rm + month", d), "z"),
    }
    for model, (fit, term) in fits.items():
        e = r.estimate_of(model)
        assert e.coef == pytest.approx(fit.coef()[term], rel=1e-8), model
        assert e.se == pytest.approx(fit.se()[term], rel=1e-6), model
        low, high = fit.confint().loc[term]
        assert e.ci_low == pytest.approx(low, rel=1e-6, abs=1e-6)
        assert e.ci_high == pytest.approx(high, rel=1e-6, abs=1e-6)
        assert e.n_obs == fit._N
    iv = fits["iv_quota"][0]
    iv.IV_Diag()
    assert r.effective_f == pytest.approx(iv._eff_F, rel=1e-6)


def _fwl(d: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """A second demeaner: alternating projections with pandas group means."""
    Z = d[cols].astype("float64")
    while True:
        old = Z.to_numpy().copy()
        Z = Z - Z.groupby(d["rm"]).transform("mean")
        Z = Z - Z.groupby(d["month"]).transform("mean")
        if np.abs(Z.to_numpy() - old).max() < 1e-9 * np.abs(old).max():
            return Z


def _crv1_slope(y, x, w, g, k) -> tuple[float, float]:
    """Hand OLS (w = x) or just-identified 2SLS (w = z) with CRV1, fixest small-sample rule."""
    beta = (w @ y) / (w @ x)
    u = y - beta * x
    s = pd.Series(w * u).groupby(g).sum().to_numpy()
    n, G = len(y), np.unique(g).size
    var = (s @ s) / (w @ x) ** 2 * G / (G - 1) * (n - 1) / (n - k)
    return beta, float(np.sqrt(var))


def test_hand_fwl_2sls_crv1_equals_pyfixest():
    d = _panel_frame()
    Z = _fwl(d, ["y", "x", "z"])
    k = 1 + d["month"].nunique()
    y, x, z, g = Z["y"].to_numpy(), Z["x"].to_numpy(), Z["z"].to_numpy(), d["g"].to_numpy()
    for fml, w in (("y ~ x | rm + month", x), (iv_formula("y", "x", "z", ("rm", "month")), z)):
        fit = _feols(fml, d)
        beta, se = _crv1_slope(y, x, w, g, k)
        assert beta == pytest.approx(fit.coef()["x"], rel=1e-8)
        assert se == pytest.approx(fit.se()["x"], rel=1e-6)


def test_statsmodels_dummy_variables_agree_on_a_small_panel():
    import statsmodels.formula.api as smf

    d = _panel_frame(n_rms=80, seed=11)
    fit = _feols("y ~ x | rm + month", d)
    sm = smf.ols("y ~ x + C(rm) + C(month)", d).fit(cov_type="cluster", cov_kwds={"groups": d["g"]})
    assert sm.params["x"] == pytest.approx(fit.coef()["x"], rel=1e-8)
    # statsmodels counts every dummy in k; fixest does not count RM effects nested in clusters.
    n, k_sm, k_fx = len(d), sm.df_model + 1, 1 + d["month"].nunique()
    assert sm.bse["x"] * np.sqrt((n - k_sm) / (n - k_fx)) == pytest.approx(fit.se()["x"], rel=1e-6)


# ------------------------------------------------------------------ weak instrument, data prep


@pytest.mark.parametrize(("n_rms", "source"), [(1000, "anderson_rubin"), (300, "wild_bootstrap")])
def test_weak_first_stage_reads_the_verdict_from_anderson_rubin(n_rms, source):
    # 50 branches: the closed-form AR set; 15: the wild bootstrap of the same AR test
    frame, _ = simulate(SimulationConfig(n_rms=n_rms, n_months=18, seed=2))
    rng = np.random.default_rng(0)
    frame["wecom_adds"] = rng.poisson(10, len(frame))  # adds no longer respond to the quota
    frame["wecom_certified_adds"] = np.minimum(frame["wecom_certified_adds"], frame["wecom_adds"])
    r = estimation.estimate(frame)
    assert r.effective_f < WEAK_F
    assert r.verdict.read_from == source
    assert r.verdict.code == "no_detectable_uplift"
    iv = r.estimate_of("iv_quota")
    ar = r.ar_interval if source == "anderson_rubin" else r.few_clusters.interval
    assert ar.kind != "bounded" or (ar.high - ar.low) > (iv.ci_high - iv.ci_low) * 0.5


def test_anderson_rubin_close_to_wald_when_strong():
    r = _result(-20_000)
    iv, ar = r.estimate_of("iv_quota"), r.ar_interval
    assert ar.kind == "bounded"
    width = iv.ci_high - iv.ci_low
    assert abs(ar.low - iv.ci_low) < 0.15 * width and abs(ar.high - iv.ci_high) < 0.15 * width


def test_first_months_and_gaps_are_not_bridged():
    rows = []
    for rm, months in (
        ("A", ["2025-01", "2025-02", "2025-04", "2025-05"]),
        ("B", ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]),
        ("C", ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]),
    ):
        for i, m in enumerate(months):
            rows.append(
                {
                    "rm_id": rm,
                    "branch_id": "X" if rm != "C" else "Y",
                    "month": m,
                    "wecom_adds": i,
                    "wecom_certified_adds": 0,
                    "quota_target": 0,
                    "aum_cny": 100.0 * (i + 1) ** 2,
                }
            )
    p = prepare(pd.DataFrame(rows))
    assert p.counts["first_months_dropped"] == 3
    assert p.counts["gap_months_dropped"] == 1
    a = p.rm == 0
    assert list(p.y[a]) == [300.0, 700.0]  # 2025-02 and 2025-05; 2025-04 follows a gap


# ------------------------------------------------------------------ result object


def test_result_renders_and_validates():
    r = _result(0.0, n_rms=300)
    doc = r.to_json()
    validate_document(doc)
    jsonschema.validate(doc, schema())  # second implementation of the same check
    assert set(doc["estimates"]) == {"naive_ols", "twfe", "iv_quota"}
    assert doc["data"]["simulated"] is True
    tidy = r.tidy()
    assert list(tidy["model"]) == ["naive_ols", "twfe", "iv_quota", "first_stage", "reduced_form"]
    text = str(r.summary())
    assert "SIMULATED DATA" in text and "FE-2SLS" in text
    assert "<table>" in r._repr_html_()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.n_obs = 3


def test_schema_check_names_the_path_of_a_bad_value():
    doc = _result(0.0, n_rms=300).to_json()
    doc["verdict"]["code"] = "uplift!"
    with pytest.raises(ExportError, match=r"uplift\.json .*verdict\.code"):
        validate_document(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema())


@pytest.mark.slow
def test_monte_carlo_coverage_of_the_true_quota_effect():
    """≥ 40 small seeds: the 95% IV interval covers the truth 90–99% of the time."""
    covered = []
    for seed in range(40):
        frame, _ = simulate(
            SimulationConfig(n_rms=600, n_months=24, seed=1000 + seed, beta_quota=-8000)
        )
        iv = estimation.estimate(frame).estimate_of("iv_quota")
        covered.append(iv.ci_low <= -8000 <= iv.ci_high)
    coverage = float(np.mean(covered))
    print(f"Monte Carlo coverage over {len(covered)} seeds: {coverage:.1%}")
    assert 0.90 <= coverage <= 0.99


def test_row_order_does_not_matter_and_movers_cluster_with_their_home_branch():
    frame, _ = simulate(SimulationConfig(n_rms=300, seed=4))
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    a, b = prepare(frame), prepare(shuffled)
    assert a.counts == b.counts and a.counts["movers"] > 0
    ta, tb = estimation.fit(a).tidy(), estimation.fit(b).tidy()  # same up to summation order
    np.testing.assert_allclose(ta.select_dtypes("number"), tb.select_dtypes("number"), rtol=1e-9)
    # home branch by hand: the branch of most months (ties: the earlier one)
    spells = frame.groupby(["rm_id", "branch_id"]).agg(n=("month", "size"), first=("month", "min"))
    spells = spells.reset_index().sort_values(
        ["rm_id", "n", "first"], ascending=[True, False, True]
    )
    home = spells.drop_duplicates("rm_id").set_index("rm_id")["branch_id"]
    kept = frame["rm_id"].drop_duplicates().to_numpy()[np.unique(a.rm)]  # first-seen order
    by_rm = pd.DataFrame({"rm": a.rm, "cluster": a.cluster}).drop_duplicates()
    assert by_rm["rm"].is_unique  # every RM's months share one cluster
    hand = pd.factorize(pd.Series(kept).map(home))[0]
    ours = by_rm.set_index("rm").loc[np.unique(a.rm), "cluster"].to_numpy()
    assert len(set(zip(hand, ours, strict=True))) == len(set(hand)) == len(set(ours))
