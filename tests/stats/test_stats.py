"""The inference floor (wb.stats): one CRV1, one influence-function variance, one t quantile,
one joint Wald test, each against an independent implementation."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from wb.stats.cluster import (
    cluster_sums,
    crv1,
    influence_vcov,
    joint_wald,
    ratio_influence,
    t_interval,
    t_quantile,
)


@pytest.mark.parametrize("g", [2, 4, 5, 8, 20, 2000])
def test_t_quantile_is_scipys_on_g_minus_1_df(g):
    assert t_quantile(g) == pytest.approx(stats.t.ppf(0.975, g - 1), rel=1e-12)


def test_crv1_equals_statsmodels_cluster_ols():
    rng = np.random.default_rng(0)
    n, g = 400, 9
    cluster = rng.integers(0, g, n)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 2.0] + rng.normal(size=n) + rng.normal(size=g)[cluster]
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    ours = crv1(X, X, y - X @ beta, cluster, g, k=2)
    theirs = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": cluster}).cov_params()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_influence_vcov_counts_the_clusters_it_is_told():
    psi = np.array([[1.0], [-1.0], [0.0], [0.0]])  # two clusters with observations, two empty
    assert influence_vcov(psi)[0, 0] == pytest.approx(4 / 3 * 2)
    assert influence_vcov(psi, n_clusters=2)[0, 0] == pytest.approx(2 * 2)
    assert np.isnan(influence_vcov(psi[:1])).all()


def test_ratio_influence_is_the_delta_method_by_hand():
    # θ = N/D = 8/4 = 2: ψ = (ψ_N − 2·ψ_D) / 4
    psi = ratio_influence(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0]), 2.0, 4.0)
    np.testing.assert_allclose(psi, [-0.25, 0.0, -0.25], rtol=0, atol=1e-15)


def test_ratio_influence_is_the_derivative_of_the_ratio_in_each_rows_weight():
    """The influence function of θ = Σ wᵢyᵢ / Σ wᵢxᵢ is dθ/dwᵢ at w = 1: checked by finite
    differences, row by row."""
    rng = np.random.default_rng(1)
    y, x = rng.normal(3.0, 1.0, 50), rng.normal(2.0, 0.5, 50)
    theta = y.sum() / x.sum()
    psi = ratio_influence(y, x, theta, x.sum())
    eps = 1e-6
    numeric = [((y.sum() + eps * y[i]) / (x.sum() + eps * x[i]) - theta) / eps for i in range(50)]
    np.testing.assert_allclose(psi, numeric, rtol=1e-4, atol=1e-9)


def test_ratio_influence_of_a_just_identified_iv_gives_crv1():
    """FE-2SLS as the ratio z'y / z'x: its influence functions summed per cluster and read by
    influence_vcov give crv1's covariance with k = 1 (G/(G−1), no (n−1)/(n−k))."""
    rng = np.random.default_rng(2)
    n, g = 300, 7
    cluster = rng.integers(0, g, n)
    z = rng.normal(size=n)
    x = 0.8 * z + rng.normal(size=n)
    y = 1.5 * x + rng.normal(size=n) + rng.normal(size=g)[cluster]
    beta = (z @ y) / (z @ x)
    psi = ratio_influence(z * y, z * x, beta, z @ x)
    ours = influence_vcov(cluster_sums(psi[:, None], cluster, g), g)
    theirs = crv1(z[:, None], x[:, None], y - beta * x, cluster, g, k=1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_joint_wald_is_hotellings_t2_and_drops_collinear_constraints():
    b = np.array([0.5, -0.2])
    V = np.array([[0.04, 0.01], [0.01, 0.09]])
    test = joint_wald(b, V, 12)
    w = b @ np.linalg.solve(V, b)
    assert (test.df_num, test.df_den) == (2, 10)
    assert test.f_stat == pytest.approx(w / 2 * 10 / 11, rel=1e-12)
    assert test.p_value == pytest.approx(stats.f.sf(w / 2 * 10 / 11, 2, 10), rel=1e-12)
    # rank one: the second coefficient is the first, twice; the test keeps one constraint
    v = np.array([1.0, 2.0])
    single = joint_wald(np.array([0.3, 0.6]), 0.01 * np.outer(v, v), 4)
    assert single.df_num == 1
    assert single.f_stat == pytest.approx(0.3**2 / 0.01, rel=1e-9)
    assert np.isnan(joint_wald(np.array([]), np.zeros((0, 0)), 5).p_value)


def test_t_interval_is_nan_without_a_positive_se():
    low, high = t_interval(np.array([1.0, 1.0]), np.array([0.5, 0.0]), 5)
    assert low[0] == pytest.approx(1 - stats.t.ppf(0.975, 4) * 0.5)
    assert np.isnan(low[1]) and np.isnan(high[1])


def test_joint_wald_has_its_size_with_few_clusters():
    """Five leads, 10 clusters, a true null (normal cluster sums): the share of rejections at
    5% over 4,000 draws. W/r on F(r, G − 1) rejected 25%; Hotelling's reading holds 5%."""
    rng = np.random.default_rng(3)
    draws, g, r = 4000, 10, 5
    mixing = rng.normal(size=(r, r))
    rejected = 0
    for _ in range(draws):
        psi = rng.normal(size=(g, r)) @ mixing
        rejected += joint_wald(psi.sum(axis=0), influence_vcov(psi), g).p_value < 0.05
    assert 0.04 <= rejected / draws <= 0.06


def test_normal_pinv_cuts_a_null_eigenvalue_rounding_left_above_numpys_cutoff():
    """A singular normal matrix whose null eigenvalue rounding left above NumPy's default cutoff
    (the month system of tests/uplift/test_few_clusters.py had one at -1.4e-15 of the largest
    on one machine; planted here at -1.2e-14, clear of eigh's own rounding): NumPy inverts it,
    normal_pinv keeps the pseudo-inverse bounded and exact on the range."""
    from wb.stats.linalg import normal_pinv

    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(23, 23)))
    eigen = np.r_[-1e-12, np.linspace(75.9, 80, 22)]
    m = (basis * eigen) @ basis.T
    assert np.abs(np.linalg.pinv(m, hermitian=True)).max() > 1e10  # the default's answer
    p = normal_pinv(m)
    assert np.abs(p).max() < 0.1
    np.testing.assert_allclose(m @ p @ m, m, atol=1e-12)
