"""The estimation sample of the quota uplift (docs/methods.md, "Quota uplift"): from a validated
``rm_month`` frame, one row per RM-month with an observable AUM change.

* outcome ``aum_change_cny``: the month-on-month change of ``aum_cny`` within an RM, in yuan.
  Each RM's first month is dropped; after a gap in an RM's months the change is missing (not
  bridged); then singleton RMs and months, iterating as fixed effects do;
* clusters: an RM who changes branch is clustered with the branch where they spent most
  months (ties: the earlier), so all of an RM's months share one cluster; the instrument uses
  the branch of each month.

The RM + month effects are swept out of outcome, adds, certified adds and instrument **once**
(:attr:`Sample.demeaned`, an exact sparse solve, :mod:`wb.uplift.twoway`); every design reads
them from there, or sweeps another pair of effects on a subset (:meth:`Sample.demeaned_on`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from wb.door.calendar import month_numbers
from wb.errors import NotIdentified
from wb.uplift.demeaned import Demeaned
from wb.uplift.twoway import TwoWay

#: Fewest branch clusters for clustered standard errors.
MIN_CLUSTERS = 2
#: Optional ``rm_month`` columns carried into the estimation sample when present.
OPTIONAL_OUTCOMES = ("net_new_money_cny", "product_sales_cny", "customers")


@dataclass(frozen=True)
class Sample:
    """The estimation sample: one row per RM-month with an observable AUM change.

    Arrays are aligned, sorted by RM then month; money in yuan. ``rm``, ``month_code`` (0 = the
    first estimation month), ``cluster`` (home branch) and ``branch`` (branch that month) are
    integer codes; ``calendar_month`` is the month as ``year * 12 + month − 1``;
    ``quota_target`` the target in force (0 = none). ``extra`` holds the optional outcome
    columns present in the export (``net_new_money_cny``, ``product_sales_cny``,
    ``customers``) and any add-quality counts asked for, NaN where missing.

    :attr:`demeaned` sweeps the RM and month effects out of the outcome, adds, certified adds
    and the instrument once, on first use; every fixed-effects design reads it from there.
    """

    y: np.ndarray
    adds: np.ndarray
    certified: np.ndarray
    quota_on: np.ndarray
    rm: np.ndarray
    month_code: np.ndarray
    cluster: np.ndarray
    counts: dict
    first_month: str
    last_month: str
    branch: np.ndarray
    calendar_month: np.ndarray
    quota_target: np.ndarray
    extra: dict[str, np.ndarray]

    @property
    def n_clusters(self) -> int:
        """Number of branch clusters; :class:`~wb.errors.NotIdentified` below :data:`MIN_CLUSTERS`."""
        n_clusters = int(self.cluster.max()) + 1
        if n_clusters < MIN_CLUSTERS:
            raise NotIdentified(
                f"too few clusters: clustered standard errors need at least {MIN_CLUSTERS} "
                f"branches (the export has {n_clusters})"
            )
        return n_clusters

    @cached_property
    def design(self) -> TwoWay:
        """The RM + month fixed effects of the sample, factorised once: every column with
        these effects swept out is ``sample.design.residual(columns)``."""
        return TwoWay.of(self.rm, self.month_code)

    @cached_property
    def demeaned(self) -> Demeaned:
        """The RM + month fixed-effects design: computed once, shared by every design."""
        cols = np.column_stack([self.y, self.adds, self.certified, self.quota_on])
        out = self.design.residual(cols)
        # fixest's "nested" rule: RM effects nest in the branch clusters and are not counted;
        # the month effects are (all of them, as pyfixest counts: k = 1 + months).
        n_months = int(self.month_code.max()) + 1
        n_clusters = self.n_clusters
        return Demeaned(*out.T, self.cluster, n_clusters, len(cols), k_fe=n_months)

    def demeaned_on(
        self,
        mask: np.ndarray,
        fe: tuple[np.ndarray, np.ndarray],
        y: np.ndarray,
        x: np.ndarray,
        c: np.ndarray | None = None,
        z: np.ndarray | None = None,
    ) -> Demeaned:
        """A :class:`Demeaned` design on the rows in ``mask``: ``y``, ``x`` and optionally
        ``c``, ``z`` (full-sample arrays; missing ones repeat ``x``) with the two fixed effects
        ``fe`` (full-sample codes, RM first) swept out, clustered by home branch."""
        cols = np.column_stack([y, x, x if c is None else c, x if z is None else z])[mask]
        cluster = pd.factorize(self.cluster[mask])[0]
        codes = [pd.factorize(f[mask])[0] for f in fe]
        if mask.all() and fe[0] is self.rm and fe[1] is self.month_code:
            out = self.design.residual(cols)  # the sample's RM + month design, factorised once
        else:
            out = TwoWay.of(*codes).residual(cols)
        # RM effects nest in the clusters (not counted); every other FE level is (fixest's rule).
        k_fe = sum(int(code.max()) + 1 for code in codes[1:])
        return Demeaned(*out.T, cluster, int(cluster.max()) + 1, int(mask.sum()), k_fe=k_fe)


def prepare(
    frame: pd.DataFrame,
    extra: tuple[str, ...] = (),
    coded: dict[str, tuple[np.ndarray, pd.Series]] | None = None,
    outcomes: bool = True,
) -> Sample:
    """Build the estimation sample from a validated ``rm_month`` frame.

    Drops each RM's first month and months after a gap (their change is not observable), then
    singleton RMs (one usable month: no within-RM variation), iterating with months as fixed
    effects do. ``extra`` names more numeric columns to carry along (the add-quality counts),
    beside the optional outcomes present (unless ``outcomes`` is False: the contract's fits,
    all ``--quick`` runs, use none; 27 MB each at 3.4M rows). ``coded``: the frame's ``rm_id``, ``branch_id`` and
    ``month`` as validation coded them (:attr:`wb.door.io.Loaded.coded`), else factorised here.
    Raises :class:`~wb.errors.NotIdentified` when too little is left to estimate.
    """
    rm_codes, _ = _factorised(frame, "rm_id", coded)
    row_month, months = _factorised(frame, "month", coded)
    t = month_numbers(months)[row_month]
    t0 = int(t.min())
    t = t - t0  # months since the export's first month: small dense codes
    order = _rm_month_order(rm_codes, t)
    rm = rm_codes[order]
    t = t[order]
    aum = _column(frame, "aum_cny", order)
    branch_codes, _ = _factorised(frame, "branch_id", coded)
    branch = branch_codes[order]

    same_rm = np.r_[False, rm[1:] == rm[:-1]]
    consecutive = np.r_[False, t[1:] - t[:-1] == 1]
    usable = same_rm & consecutive
    y = np.full(len(rm), np.nan)
    y[1:] = aum[1:] - aum[:-1]
    counts = {
        "rows": len(rm),
        "first_months_dropped": int((~same_rm).sum()),
        "gap_months_dropped": int((same_rm & ~consecutive).sum()),
    }

    moved = np.zeros(int(rm.max()) + 1, dtype=bool)
    moved[rm[1:][same_rm[1:] & (branch[1:] != branch[:-1])]] = True
    home = _home_branch(rm, branch, t, moved)
    idx = np.flatnonzero(usable)
    idx, singletons = _drop_singletons(idx, rm, t)
    counts["singletons_dropped"] = int(singletons)
    counts["movers"] = int(moved.sum())
    if idx.size < 10 or rm[idx].min() == rm[idx].max():
        raise NotIdentified(
            "too few RM-months with an observable AUM change to estimate "
            f"(after dropping first months and gaps: {idx.size})"
        )
    rows = idx if isinstance(order, slice) else order[idx]  # the sample's rows of the frame
    quota = frame["quota_target"].to_numpy()[rows]
    month_codes, _ = pd.factorize(t[idx], sort=True)
    extra = {
        name: _column(frame, name, rows)
        for name in (*(OPTIONAL_OUTCOMES if outcomes else ()), *extra)
        if name in frame.columns
    }
    return Sample(
        y=y[idx],
        adds=_column(frame, "wecom_adds", rows),
        certified=_column(frame, "wecom_certified_adds", rows),
        quota_on=(quota > 0).astype("float64"),
        rm=pd.factorize(rm[idx], sort=False)[0],
        month_code=month_codes,
        cluster=pd.factorize(home[idx], sort=False)[0],
        counts=counts,
        first_month=str(months.min()),
        last_month=str(months.max()),
        branch=branch[idx],
        calendar_month=t[idx] + t0,
        quota_target=quota,
        extra=extra,
    )


def _factorised(
    frame: pd.DataFrame, name: str, coded: dict[str, tuple[np.ndarray, pd.Series]] | None
) -> tuple[np.ndarray, pd.Series]:
    """A text column as (each row's code, the distinct values): from ``coded`` when it holds
    the column, else ``pandas.factorize`` (the same codes)."""
    if coded and name in coded:
        return coded[name]
    codes, uniques = pd.factorize(frame[name], sort=False)
    return codes, pd.Series(uniques)


def _column(frame: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    """A numeric column's values at ``rows`` (positions), as float64, NaN where missing."""
    return frame[name].to_numpy(dtype="float64", na_value=np.nan)[rows]


def _rm_month_order(rm: np.ndarray, t: np.ndarray) -> np.ndarray | slice:
    """Row order by RM, then month (positions); when the export is already sorted so, every
    row as it is: ``slice(None)``, so that ordering a column copies nothing."""
    key = rm.astype(np.int64) * (int(t.max()) + 1) + t
    if np.all(key[1:] > key[:-1]):
        return slice(None)
    return np.lexsort((t, rm))


def _home_branch(
    rm: np.ndarray, branch: np.ndarray, t: np.ndarray, moved: np.ndarray
) -> np.ndarray:
    """Per row: the RM's home branch (most months; ties → the earlier one). ``moved`` flags
    (per RM code) the RMs seen in more than one branch; the others' home is their branch."""
    rows = moved[rm]
    if not rows.any():  # no RM moved: each one's home is its branch (the usual export)
        return branch.copy()
    spells = (
        pd.DataFrame({"rm": rm[rows], "branch": branch[rows], "t": t[rows]})
        .groupby(["rm", "branch"], sort=False)
        .agg(n=("t", "size"), first=("t", "min"))
        .reset_index()
    )
    spells = spells.sort_values(["rm", "n", "first"], ascending=[True, False, True])
    home_of_mover = spells.drop_duplicates("rm").set_index("rm")["branch"]
    home = branch.copy()
    home[rows] = home_of_mover.reindex(rm[rows]).to_numpy()
    return home


def _drop_singletons(idx: np.ndarray, rm: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, int]:
    """Iteratively drop rows whose RM or month appears once; return kept rows and count dropped.
    ``rm`` and ``t`` are small non-negative integer codes."""
    dropped = 0
    while True:
        keep = np.ones(idx.size, dtype=bool)
        for codes in (rm[idx], t[idx]):
            keep &= np.bincount(codes)[codes] > 1
        if keep.all():
            return idx, dropped
        dropped += int((~keep).sum())
        idx = idx[keep]
