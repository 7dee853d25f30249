"""Borusyak–Jaravel–Spiess (2024) imputation, in numpy: the linear algebra behind
:mod:`wb.uplift.event_study`'s ``imputation`` event study and Wald-DiD.

:class:`~wb.uplift.twoway.TwoWay` fits RM and month effects exactly on the untreated RM-months
(the RM effects eliminated, a months × months system solved directly); :class:`Imputation` turns a cohort
frame (:func:`wb.uplift.event_study.cohort_frame`) into imputed effects, Theorem-3 influence functions summed
per branch, and the BJS Test 1 lead regression. diff-diff's ``ImputationDiD`` computes the
same numbers (the tests hold them equal) but takes a minute per outcome at 100,000 RMs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wb.stats.cluster import crv1
from wb.uplift.twoway import TwoWay


def _codes(keys: np.ndarray) -> np.ndarray:
    """Integer codes 0…k−1 of ``keys``."""
    return np.unique(keys, return_inverse=True)[1]


@dataclass(frozen=True)
class Imputation:
    """The BJS design of one cohort frame: the untreated model on rows ``untreated``, the
    treated RM-months (rows ``treated``) with their horizons and cohort × horizon groups."""

    design: TwoWay
    untreated: np.ndarray
    treated: np.ndarray
    unit1: np.ndarray
    time1: np.ndarray
    rel1: np.ndarray
    group1: np.ndarray
    rel0: np.ndarray
    cluster0: np.ndarray
    cluster1: np.ndarray
    n_clusters: int
    #: window → the lead regressors with RM and month effects swept out, and the branch codes
    #: of the untreated RM-months: the same for every outcome, so computed once.
    _lead_design: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def build(cls, frame: pd.DataFrame) -> Imputation:
        time, first = frame["time"].to_numpy(), frame["first_treat"].to_numpy()
        is_treated = (first > 0) & (time >= first)
        untreated = np.flatnonzero(~is_treated)
        # A treated month with no untreated RM-month cannot be imputed (BJS Proposition 5).
        months = np.unique(time[untreated])
        treated = np.flatnonzero(is_treated & np.isin(time, months))
        units, unit = np.unique(frame["unit"].to_numpy(), return_inverse=True)
        month = np.searchsorted(months, time)
        rel = time - first
        cluster = pd.factorize(frame["cluster"].to_numpy())[0]
        return cls(
            design=TwoWay.build(unit[untreated], month[untreated], len(units), len(months)),
            untreated=untreated,
            treated=treated,
            unit1=unit[treated],
            time1=month[treated],
            rel1=rel[treated],
            group1=_codes(first[treated] * (rel.max() + 1) + rel[treated]),
            rel0=np.where(first[untreated] > 0, rel[untreated], 0),
            cluster0=cluster[untreated],
            cluster1=cluster[treated],
            n_clusters=int(cluster.max()) + 1,
        )

    def effects(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Imputed effects τ̂ on the treated RM-months and the untreated model's residuals
        (``y``: one value per frame row)."""
        d = self.design
        a, b = d.fit(y[self.untreated][:, None])
        tau = y[self.treated] - a[self.unit1, 0] - b[self.time1, 0]
        return tau, y[self.untreated] - a[d.a, 0] - b[d.b, 0]

    def psi(
        self, codes: np.ndarray, weights: np.ndarray, tau: np.ndarray, resid: np.ndarray
    ) -> np.ndarray:
        """Per-branch sums Σ v·ε̃ of the Theorem-3 influence functions of K targets
        Σ_{codes = k} w·τ̂ (``weights`` on treated RM-months, uniform within each cohort ×
        horizon group, so the auxiliary τ̃ is the group mean): branches × K.

        The untreated imputation weights are v = −(α_z + β_z), the RM and month effects
        fitted to the target weights. The RM part drops out exactly: untreated residuals
        sum to zero within each RM, and each RM lies in one branch (its home branch).
        """
        d, g = self.design, self.n_clusters
        k, n_units, n_times = int(codes.max()) + 1, *d.incidence.shape
        _, beta = d.solve(
            np.bincount(self.unit1 * k + codes, weights, n_units * k).reshape(n_units, k),
            np.bincount(self.time1 * k + codes, weights, n_times * k).reshape(n_times, k),
        )
        resid_by_month = np.bincount(self.cluster0 * n_times + d.b, resid, g * n_times)
        aux = tau - (np.bincount(self.group1, tau) / np.bincount(self.group1))[self.group1]
        treated = np.bincount(self.cluster1 * k + codes, weights * aux, g * k).reshape(g, k)
        return treated - resid_by_month.reshape(g, n_times) @ beta

    def leads(self, y: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BJS Test 1: on untreated RM-months, regress ``y`` on RM and month effects and lead
        dummies −window…−2 (reference −1). Returns event times, coefficients and their CR1
        covariance clustered by branch (diff-diff's small-sample factor)."""
        if window not in self._lead_design:
            present = np.unique(self.rel0[self.rel0 < 0])
            times = present[(present >= -window) & (present <= -2)]
            dummies = (self.rel0[:, None] == times[None, :]).astype(float)
            # column-major: the CRV1 sums per branch then read each column contiguously
            x = np.asfortranarray(self.design.residual(dummies))
            cluster = pd.factorize(self.cluster0)[0]  # the branches with untreated RM-months
            self._lead_design[window] = (times, x, cluster)
        times, x, cluster = self._lead_design[window]
        yy = self.design.residual(y[self.untreated][:, None])[:, 0]
        coef = np.linalg.solve(x.T @ x, x.T @ yy)
        k = len(times) + self.design.incidence.shape[1]  # RM effects nest in branches: not counted
        vcov = crv1(x, x, yy - x @ coef, cluster, int(cluster.max()) + 1, k)
        return times, coef, vcov

    def horizons(self, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Event-study targets: horizons 0…window present, and per treated RM-month its
        horizon's code and weight 1/N_h (0 beyond the window)."""
        horizons, counts = np.unique(self.rel1[self.rel1 <= window], return_counts=True)
        codes = np.minimum(np.searchsorted(horizons, self.rel1), len(horizons) - 1)
        inside = self.rel1 <= window
        return horizons, codes, np.where(inside, 1 / counts[codes], 0.0)
