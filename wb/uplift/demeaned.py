"""One-regressor fits on columns with the fixed effects swept out, and their clustered
inference (docs/methods.md, "Quota uplift").

A :class:`Demeaned` holds the outcome, adds, certified adds and the instrument with the RM and
month effects (or another pair, :meth:`wb.uplift.sample.Sample.demeaned_on`) swept out, and the
constants every estimate on them shares: the branch clusters and the fixed effects counted in
fixest's small-sample factor. Each fit is exact by Frisch–Waugh–Lovell; standard errors are
CRV1 by home branch, intervals on t(G−1) (:mod:`wb.stats.cluster`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wb.stats.cluster import crv1, small_sample_factor, t_pvalue, t_quantile
from wb.uplift.result import Estimate


@dataclass(frozen=True)
class Demeaned:
    """Demeaned columns and the inference constants shared by the fixed-effects models.

    ``y`` AUM change (yuan), ``x`` adds, ``c`` certified adds, ``z`` quota in force, all with
    the fixed effects swept out; ``k_fe`` the fixed effects counted in the small-sample factor.
    """

    y: np.ndarray
    x: np.ndarray
    c: np.ndarray
    z: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    n: int
    k_fe: int

    def scale(self, k: int) -> float:
        """The CRV1 small-sample factor for ``k`` parameters."""
        return small_sample_factor(self.n_clusters, self.n, k)

    def tcrit(self) -> float:
        return t_quantile(self.n_clusters)

    def estimate(self, model: str, term: str, coef: float, var: float) -> Estimate:
        se = math.sqrt(var)
        q = self.tcrit()
        p = t_pvalue(coef / se, self.n_clusters) if se > 0 else float("nan")
        return Estimate(model, term, float(coef), se, coef - q * se, coef + q * se, p, self.n)

    def slope(
        self, model: str, term: str, y: np.ndarray, x: np.ndarray, z: np.ndarray | None = None
    ) -> Estimate:
        """OLS of y on x (or just-identified IV with instrument z) on demeaned columns."""
        w = x if z is None else z
        coef = (w @ y) / (w @ x)
        var = crv1(
            w[:, None], x[:, None], y - coef * x, self.cluster, self.n_clusters, 1 + self.k_fe
        )
        return self.estimate(model, term, coef, float(var[0, 0]))

    def regress(
        self, model: str, terms: tuple[str, ...], y: np.ndarray, X: np.ndarray
    ) -> tuple[Estimate, ...]:
        """OLS of demeaned ``y`` on demeaned columns ``X`` (n, k); one :class:`Estimate` per
        term (:meth:`slope` with several regressors)."""
        beta = np.linalg.solve(X.T @ X, X.T @ y)
        v = crv1(X, X, y - X @ beta, self.cluster, self.n_clusters, X.shape[1] + self.k_fe)
        return tuple(self.estimate(model, term, beta[j], v[j, j]) for j, term in enumerate(terms))
