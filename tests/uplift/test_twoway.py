"""The exact two-way fixed-effects solver, dense and sparse, against least squares on dummies."""

from __future__ import annotations

import numpy as np
import pytest

from wb.uplift import twoway
from wb.uplift.twoway import TwoWay


def _codes(seed: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """An unbalanced design in two disconnected parts: units 0-29 only in levels 0-5, units
    30-59 only in levels 6-9 (so two components, each with its own constant)."""
    rng = np.random.default_rng(seed)
    a = np.r_[rng.integers(0, 30, 400), rng.integers(30, 60, 300)]
    b = np.r_[rng.integers(0, 6, 400), rng.integers(6, 10, 300)]
    return a, b, 60, 10


def _dummy_residual(x: np.ndarray, a: np.ndarray, b: np.ndarray, n_a: int, n_b: int):
    dummies = np.column_stack([np.eye(n_a)[a], np.eye(n_b)[b]])
    coef, *_ = np.linalg.lstsq(dummies, x, rcond=None)
    return x - dummies @ coef


@pytest.mark.parametrize("in_order", [True, False])
@pytest.mark.parametrize("dense", [True, False])
def test_residuals_equal_least_squares_on_dummies(dense, in_order, monkeypatch):
    """Dense or sparse normal equations; rows in ``a`` order (summed over runs) or not."""
    if not dense:
        monkeypatch.setattr(twoway, "DENSE_LEVELS", 0)
    a, b, n_a, n_b = _codes(3)
    if in_order:
        order = np.argsort(a, kind="stable")
        a, b = a[order], b[order]
    x = np.random.default_rng(4).normal(size=(len(a), 3)) * [1.0, 1e6, 1e-3]
    design = TwoWay.build(a, b, n_a, n_b)
    assert isinstance(design.incidence, np.ndarray) is dense
    assert (design.runs is not None) is in_order
    assert len(design.free) == n_b - 2  # one level pinned per component
    got = design.residual(x)
    want = _dummy_residual(x, a, b, n_a, n_b)
    scale = np.abs(x).max(axis=0)
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=1e-10)


def test_dense_and_sparse_give_the_same_effects(monkeypatch):
    a, b, n_a, n_b = _codes(5)
    x = np.random.default_rng(6).normal(size=(len(a), 2))
    dense = TwoWay.build(a, b, n_a, n_b).fit(x)
    monkeypatch.setattr(twoway, "DENSE_LEVELS", 0)
    sparse = TwoWay.build(a, b, n_a, n_b).fit(x)
    for d, s in zip(dense, sparse, strict=True):
        np.testing.assert_allclose(d, s, atol=1e-12)
