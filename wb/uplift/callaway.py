"""Callaway–Sant'Anna (2021) event study, in numpy: the arithmetic behind
:mod:`wb.uplift.event_study`'s ``callaway_santanna`` event study and Wald-DiD.

The design is diff-diff's ``CallawaySantAnna(control_group="not_yet_treated",
estimation_method="reg", base_period="varying", cluster=...)`` without covariates (the tests
hold the numbers equal to diff-diff 3.13.0, which follows R ``did``):

* **ATT(g, t)** for cohort g (first quota month) and month t: the mean change of cohort g's
  RMs from the base month b to t minus the mean change of the control RMs, both over the RMs
  observed at t and at b (the unbalanced panel: within-cell differencing). Base month: the
  last observed month before t when t < g (a one-month change), the last before g when
  t ≥ g. Controls: never-treated RMs and RMs whose cohort is later than max(t, b), other
  than cohort g. A cell without treated or control RMs is not estimated.
* **Influence function** of a cell: (ΔY_i − mean)/n_treated for its treated RMs and
  −(ΔY_i − mean)/n_control for its controls, summed per branch.
* **Aggregation**: event time e = t − g averages its cells weighted by cohort size (every RM
  of the cohort, not only those observed in the cell); the overall ATT averages every
  post-adoption cell (t ≥ g) the same way. Each aggregate's influence function adds the
  estimation uncertainty of the weights (R ``did``'s ``wif``): for RM i of cohort c,
  (E_c/S − K_c·d/S²)/N, with N RMs, p_g = n_g/N, S = Σ p over the cells, d = Σ p·ATT,
  E_c and K_c the sum of ATTs and the number of cells of cohort c.
* **Variance**: per-branch sums of an influence function, centred, with the G/(G − 1)
  small-sample factor (diff-diff's survey-PSU cluster-robust meat); the event-study
  covariance the same with the per-event-time influence functions. Intervals t(G − 1).

Everything is vectorised over RMs: one pass over the (t, base) month pairs, branch × cohort
sums per pair by ``bincount``; no loop over RMs. Money is yuan of monthly AUM change, adds are
per RM-month: every estimate is in the unit of the outcome given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wb.stats.cluster import influence_vcov, t_interval


@dataclass(frozen=True)
class Cohorts:
    """A cohort frame (:func:`wb.uplift.event_study.cohort_frame`) indexed for CS: the RM and
    month positions of its rows (RMs ordered by cohort), each RM's branch code, and the (g, t)
    cells with their base months and event times (months since adoption)."""

    rows_unit: np.ndarray
    rows_time: np.ndarray
    n_units: int
    periods: np.ndarray
    cohort_values: np.ndarray
    #: Units are ordered by cohort: cohort c's are rows cohort_bounds[c]:cohort_bounds[c + 1].
    cohort_bounds: np.ndarray
    unit_cluster: np.ndarray
    n_clusters: int
    #: RMs per cohort × branch (all RMs of the cohort, for the weights' influence function).
    cohort_cluster_count: np.ndarray
    #: Cells: cohort code, month position, base month position, event time (months).
    cell_cohort: np.ndarray
    cell_time: np.ndarray
    cell_base: np.ndarray
    cell_event: np.ndarray

    @classmethod
    def build(cls, frame: pd.DataFrame, base: str = "varying") -> Cohorts:
        """Index ``frame`` (columns ``unit``, ``time``, ``cluster``, ``first_treat``; one row
        per RM-month, ``first_treat`` 0 for never-treated RMs) with base period ``base``
        (:meth:`with_base`)."""
        unit, units = pd.factorize(frame["unit"])
        periods, time = np.unique(frame["time"].to_numpy(), return_inverse=True)
        first = np.empty(len(units), dtype=np.int64)
        first[unit] = frame["first_treat"].to_numpy()
        branch = np.empty(len(units), dtype=np.int64)
        branch[unit] = pd.factorize(frame["cluster"])[0]
        n_clusters = int(branch.max()) + 1
        cohort_values, unit_cohort = np.unique(first, return_inverse=True)
        order = np.argsort(unit_cohort, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        counts = np.bincount(
            unit_cohort * n_clusters + branch, minlength=len(cohort_values) * n_clusters
        ).reshape(len(cohort_values), n_clusters)
        no_cells = np.empty(0, dtype=np.int64)
        return cls(
            rows_unit=rank[unit],
            rows_time=time,
            n_units=len(units),
            periods=periods,
            cohort_values=cohort_values,
            cohort_bounds=np.searchsorted(unit_cohort[order], np.arange(len(cohort_values) + 1)),
            unit_cluster=branch[order],
            n_clusters=n_clusters,
            cohort_cluster_count=counts.astype(float),
            cell_cohort=no_cells,
            cell_time=no_cells,
            cell_base=no_cells,
            cell_event=no_cells,
        ).with_base(base)

    def with_base(self, base: str) -> Cohorts:
        """The same index with the (g, t) cells of base period ``base``: "varying" (module
        docstring) or "universal": every cell of cohort g, before adoption too, compares with
        the last month before g, whose own cell (event time −1) is the reference and is not
        estimated (R ``did``'s and diff-diff's ``base_period="universal"``)."""
        if base not in ("varying", "universal"):
            raise ValueError(f"base must be 'varying' or 'universal', not {base!r}")
        cells = []
        for c, g in enumerate(self.cohort_values):
            if g <= 0:
                continue
            # positional base months, as R did and diff-diff choose them
            g_base = int(np.searchsorted(self.periods, g)) - 1
            for k, t in enumerate(self.periods):
                b = k - 1 if t < g and base == "varying" else g_base
                if b >= 0 and k != b:
                    cells.append((c, k, b, int(t - g)))
        cell = np.array(cells, dtype=np.int64).reshape(-1, 4)
        return dataclasses.replace(
            self, cell_cohort=cell[:, 0], cell_time=cell[:, 1], cell_base=cell[:, 2],
            cell_event=cell[:, 3],
        )  # fmt: skip

    def cells(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ATT(g, t) of every cell (NaN when not estimable) and its influence function summed
        per branch (cells × branches), in the unit of ``y`` (one value per frame row)."""
        wide = np.full((self.n_units, len(self.periods)), np.nan, order="F")
        wide[self.rows_unit, self.rows_time] = y
        bounds, branch, n_clusters = self.cohort_bounds, self.unit_cluster, self.n_clusters
        never = bounds[1] if self.cohort_values[0] == 0 else 0

        def by_branch(rows: slice, change: np.ndarray, ok: np.ndarray):
            return (
                np.bincount(branch[rows], change[rows], n_clusters),
                np.bincount(branch[rows], ok[rows], n_clusters),
            )

        att = np.full(len(self.cell_cohort), np.nan)
        phi = np.zeros((len(self.cell_cohort), n_clusters))
        pairs = pd.DataFrame({"t": self.cell_time, "b": self.cell_base}).groupby(["t", "b"]).indices
        for (t, b), cells in pairs.items():
            change = wide[:, t] - wide[:, b]
            ok = ~np.isnan(change)
            change[~ok] = 0.0
            # Controls: the never-treated RMs (first in unit order) and the cohorts later than
            # both months (a suffix; cohorts and months share a scale).
            later = int(
                np.searchsorted(self.cohort_values, max(self.periods[t], self.periods[b]), "right")
            )
            first_later = max(int(bounds[later]), never)
            never_sums, never_counts = by_branch(slice(0, never), change, ok)
            later_sums, later_counts = by_branch(slice(first_later, self.n_units), change, ok)
            control_sums, control_counts = never_sums + later_sums, never_counts + later_counts
            for i in cells:
                g = self.cell_cohort[i]
                sums, counts = by_branch(slice(bounds[g], bounds[g + 1]), change, ok)
                c_sums, c_counts = control_sums, control_counts
                if g >= later:
                    c_sums, c_counts = c_sums - sums, c_counts - counts
                n_t, n_c = counts.sum(), c_counts.sum()
                if n_t == 0 or n_c == 0:
                    continue
                mu_t, mu_c = sums.sum() / n_t, c_sums.sum() / n_c
                att[i] = mu_t - mu_c
                phi[i] = (sums - mu_t * counts) / n_t - (c_sums - mu_c * c_counts) / n_c
        return att, phi

    def aggregate(
        self, att: np.ndarray, phi: np.ndarray, cells: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Cohort-size weighted mean of the estimated cells among ``cells`` (a boolean mask)
        and its influence function per branch, with the weights' own term (module
        docstring). NaN and zeros when no cell is estimable."""
        keep = cells & np.isfinite(att)
        if not keep.any():
            return float("nan"), np.zeros(self.n_clusters)
        cohort = self.cell_cohort[keep]
        size = self.cohort_cluster_count.sum(axis=1)
        p = size[cohort] / self.n_units
        weights = p / p.sum()
        effects = att[keep]
        total, d = p.sum(), p @ effects
        n_cohorts = len(self.cohort_values)
        e_c = np.bincount(cohort, effects, n_cohorts)
        k_c = np.bincount(cohort, None, n_cohorts)
        wif = (e_c / total - k_c * d / total**2) @ self.cohort_cluster_count / self.n_units
        return float(weights @ effects), weights @ phi[keep] + wif


@dataclass(frozen=True)
class CsFit:
    """One outcome's CS estimates, in the outcome's unit (yuan or adds per RM-month).

    ``event_times`` (months since the first quota month) with ``coef``, ``se`` and the 95%
    t(G − 1) interval; ``vcov`` their covariance (event times × event times); ``att`` the
    overall post-adoption ATT with ``att_se`` and its interval; ``att_psi`` its influence
    function summed per branch (for the multiplier bootstrap); ``n_clusters`` the branches.
    """

    event_times: np.ndarray
    coef: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    vcov: np.ndarray
    att: float
    att_se: float
    att_ci_low: float
    att_ci_high: float
    att_psi: np.ndarray
    n_clusters: int


def fit(cohorts: Cohorts, y: np.ndarray) -> CsFit:
    """CS event study and overall ATT of outcome ``y`` (one value per row of the frame
    ``cohorts`` was built from)."""
    att, phi = cohorts.cells(np.asarray(y, dtype=float))
    estimated = np.isfinite(att)
    event_times = np.unique(cohorts.cell_event[estimated])
    coef = np.empty(len(event_times))
    psi = np.empty((cohorts.n_clusters, len(event_times)))
    for j, e in enumerate(event_times):
        coef[j], psi[:, j] = cohorts.aggregate(att, phi, cohorts.cell_event == e)
    vcov = influence_vcov(psi)
    se = np.sqrt(np.diag(vcov))
    low, high = t_interval(coef, se, cohorts.n_clusters)
    overall, overall_psi = cohorts.aggregate(att, phi, cohorts.cell_event >= 0)
    overall_se = float(np.sqrt(influence_vcov(overall_psi)[0, 0]))
    a_low, a_high = t_interval(overall, overall_se, cohorts.n_clusters)
    return CsFit(
        event_times=event_times,
        coef=coef,
        se=se,
        ci_low=low,
        ci_high=high,
        vcov=vcov,
        att=overall,
        att_se=overall_se,
        att_ci_low=float(a_low),
        att_ci_high=float(a_high),
        att_psi=overall_psi,
        n_clusters=cohorts.n_clusters,
    )
