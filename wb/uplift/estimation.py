"""Does a quota-driven WeCom add raise customers' AUM? The contract's three estimates
(docs/methods.md, "Quota uplift").

From a validated ``rm_month`` frame:

* outcome ``aum_change_cny``: the month-on-month change of ``aum_cny`` within an RM, in yuan.
  Each RM's first month is dropped; after a gap in an RM's months the change is missing (not
  bridged);
* ``naive_ols``: pooled regression of the change on adds (the dashboard correlation);
* ``twfe``: RM and month fixed effects (an association: adds are chosen);
* ``iv_quota``: FE-2SLS, adds instrumented by the quota in force (``quota_target > 0``), RM and
  month fixed effects: yuan per *quota-induced* add (a LATE).

Standard errors are clustered by branch (CRV1 with fixest's small-sample rule: G/(G−1) ·
(n−1)/(n−k), RM effects nested in clusters not counted in k); intervals use t(G−1). An RM who
changes branch is clustered with the branch where they spent most months (ties: the earlier),
so all of an RM's months share one cluster; the instrument uses the branch of each month.

The computation demeans outcome, adds, certified adds and instrument **once** (an exact
sparse solve of the RM + month normal equations, :mod:`wb.uplift.twoway`) and fits every model
from those columns (each has one regressor), which is exact (Frisch–Waugh–Lovell) and several
times cheaper than one ``pf.feols`` call per model. The tests hold every number to full
``pf.feols`` fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from wb.door.calendar import month_numbers
from wb.errors import NotIdentified
from wb.stats.cluster import (
    cluster_sums,
    crv1,
    small_sample_factor,
    t_pvalue,
    t_quantile,
)
from wb.stats.wild import WildTest
from wb.uplift.result import (
    OUTCOME,
    WEAK_F,
    Estimate,
    FewClusters,
    Interval,
    UpliftResult,
    make_verdict,
)
from wb.uplift.twoway import TwoWay

#: Fewest branch clusters for clustered standard errors.
MIN_CLUSTERS = 2
#: Below this many branch clusters the verdict is read from the wild cluster restricted
#: bootstrap (:mod:`wb.stats.wild`), not from the CRV1 interval: with 4–20 branches the CRV1
#: interval of FE-2SLS called a null effect positive or negative in 6–12% of simulated
#: exports (docs/methods.md, "Few branches").
WILD_MAX_CLUSTERS = 50
#: Fewest branches in which the quota switches on or off within the window: with fewer the
#: instrument's variation sits in one branch, every clustered statistic (the first-stage F
#: too) is meaningless and the verdict is "cannot tell".
MIN_QUOTA_CLUSTERS = 2
#: Optional ``rm_month`` columns carried into the estimation sample when present.
OPTIONAL_OUTCOMES = ("net_new_money_cny", "product_sales_cny", "customers")


# --------------------------------------------------------------------------- data


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
        return _design(self.rm, self.month_code)

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


# --------------------------------------------------------------------------- estimates


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


def _naive(sample: Sample) -> Estimate:
    """Pooled OLS of the AUM change on adds with an intercept; the slope on adds."""
    y, x = sample.y, sample.adds
    # the raw columns as a design with no fixed effects swept out (k_fe = 0)
    pooled = Demeaned(y, x, x, x, sample.cluster, sample.n_clusters, len(y), k_fe=0)
    return pooled.regress(
        "naive_ols", ("intercept", "wecom_adds"), y, np.column_stack([np.ones_like(x), x])
    )[1]


def demean_columns(cols: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Columns (n, k) with two sets of fixed effects swept out: ``a`` and ``b`` are integer
    codes 0…levels−1, each length n (RM and month, RM and branch × month, ...). Exact to
    rounding (:class:`wb.uplift.twoway.TwoWay`, a direct sparse solve); the units of ``cols``
    are kept."""
    return _design(a, b).residual(cols)


def _design(a: np.ndarray, b: np.ndarray) -> TwoWay:
    """The :class:`TwoWay` design of codes ``a`` and ``b``, the factor with more levels
    eliminated."""
    n_a, n_b = int(a.max()) + 1, int(b.max()) + 1
    return TwoWay.build(a, b, n_a, n_b) if n_a >= n_b else TwoWay.build(b, a, n_b, n_a)


def anderson_rubin(d: Demeaned, first: Estimate, reduced: Estimate) -> Interval:
    """Anderson–Rubin 95% confidence set for the IV coefficient, in closed form.

    For each β0 the reduced form of (y − β0·adds) on the instrument is ρ − β0·π with a CRV1
    variance that is quadratic in β0; the set {β0 : t² ≤ t_{G−1}²} solves a quadratic
    inequality. Robust to a weak first stage.
    """
    zz = d.z @ d.z
    e_y = d.y - reduced.coef * d.z
    e_x = d.x - first.coef * d.z
    s = cluster_sums(np.column_stack([d.z * e_y, d.z * e_x]), d.cluster, d.n_clusters)
    a, b, dd = s[:, 0] @ s[:, 0], s[:, 0] @ s[:, 1], s[:, 1] @ s[:, 1]
    q = d.tcrit() ** 2 * d.scale(1 + d.k_fe) / zz**2
    rho, pi = reduced.coef, first.coef
    a2, a1, a0 = pi**2 - q * dd, -2 * (rho * pi - q * b), rho**2 - q * a
    disc = a1**2 - 4 * a2 * a0
    if disc < 0:
        return Interval("whole_line" if a2 < 0 else "bounded", -math.inf, math.inf)
    r1, r2 = sorted(((-a1 - math.sqrt(disc)) / (2 * a2), (-a1 + math.sqrt(disc)) / (2 * a2)))
    return Interval("bounded" if a2 > 0 else "two_rays", r1, r2)


def quota_clusters(sample: Sample) -> int:
    """Branch clusters in which the quota switches on or off: some of their RM-months have a
    quota in force and some have none."""
    on = np.bincount(sample.cluster, weights=sample.quota_on)
    rows = np.bincount(sample.cluster)
    return int(np.count_nonzero((on > 0) & (on < rows)))


def few_clusters(sample: Sample, d: Demeaned, iv: Estimate) -> FewClusters:
    """How the verdict is inferred with the branches at hand (docs/methods.md, "Few
    branches").

    * The quota switches in fewer than :data:`MIN_QUOTA_CLUSTERS` branches: no inference
      holds (all the instrument's variation is in one cluster); the verdict is "cannot tell"
      (``refusal`` says why).
    * Fewer than :data:`WILD_MAX_CLUSTERS` branches: the wild cluster restricted bootstrap of
      the Anderson–Rubin test (:class:`wb.stats.wild.WildTest`: the reduced form with the
      null ``β = β₀`` imposed), its p-value at ``β = 0`` and its confidence set by inversion.
    * Otherwise the CRV1 interval on t(G − 1), as the contract's estimate.
    """
    g = d.n_clusters
    switching = quota_clusters(sample)
    if switching < MIN_QUOTA_CLUSTERS:
        return FewClusters(
            g,
            switching,
            "none",
            refusal=(
                f"the quota switches on or off in {switching} of {g} branches; with fewer than "
                f"{MIN_QUOTA_CLUSTERS} all of the instrument's variation sits in one branch, so "
                "no clustered interval or first-stage F means anything"
            ),
        )
    if g >= WILD_MAX_CLUSTERS:
        return FewClusters(g, switching, "crv1")
    test = WildTest.build(d.y, d.x, d.z, d.cluster, sample.month_code, sample.rm)
    cs = test.confidence_set(iv.coef, iv.se)
    return FewClusters(
        g,
        switching,
        "wild_bootstrap",
        pvalue=test.pvalue(0.0),
        interval=Interval(cs.kind, cs.low, cs.high),
        reps=test.reps,
        weights=test.weights,
        enumerated=test.enumerated,
    )


# --------------------------------------------------------------------------- descriptives


def _binned(x: np.ndarray, y: np.ndarray, kind: str, n_bins: int = 20) -> pd.DataFrame:
    """Binned scatter: equal-count bins of x; mean x, mean y and the SE of mean y per bin."""
    edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": which, "x": x, "y": y})
    g = frame.groupby("bin")
    out = pd.DataFrame(
        {
            "x_mean": g["x"].mean(),
            "y_mean": g["y"].mean(),
            "y_se": g["y"].std() / np.sqrt(g["y"].size()),
            "n": g["y"].size(),
        }
    )
    out.insert(0, "kind", kind)
    return out.reset_index()


def _by_quota(sample: Sample) -> pd.DataFrame:
    """Raw means (and SEs) of adds, certified adds and AUM change by quota status."""
    rows = []
    for flag in (False, True):
        mask = (sample.quota_on > 0) == flag
        for variable, values in (
            ("wecom_adds", sample.adds),
            ("wecom_certified_adds", sample.certified),
            (OUTCOME, sample.y),
        ):
            v = values[mask]
            se = v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else float("nan")
            rows.append(
                {
                    "variable": variable,
                    "quota_in_force": flag,
                    "mean": float(v.mean()) if v.size else float("nan"),
                    "se": se,
                    "n": int(v.size),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- entry point


def _no_variation(values: np.ndarray) -> bool:
    return values.size == 0 or float(np.ptp(values)) == 0.0


def check_supported(sample: Sample) -> int:
    """Raise :class:`~wb.errors.NotIdentified` (exit 2) with the reason when the data cannot
    support the contract's estimates: no quota variation, no variation in adds or in AUM, too
    few clusters, and the same within RMs beyond the common month pattern (on
    ``sample.demeaned``, cached: the estimates and the designs reuse it). Returns the number
    of clusters. ``wb uplift`` calls it before any worker process starts, so an export the
    analysis cannot use is exit 2 however the work would have been shared out."""
    n_clusters = sample.n_clusters
    if _no_variation(sample.quota_on):
        state = "has a quota in force" if sample.quota_on[0] else "has quota_target 0 (no quota)"
        raise NotIdentified(
            f"no quota variation: every RM-month {state}, so the quota cannot instrument "
            "adds; the uplift analysis needs months with and without a quota"
        )
    if _no_variation(sample.adds):
        raise NotIdentified(
            f"no variation in adds: every RM-month has {sample.adds[0]:g} WeCom adds, so no "
            "effect per add can be estimated"
        )
    if _no_variation(sample.y):
        raise NotIdentified(
            "no variation in AUM: the month-on-month change of aum_cny is the same in every "
            "RM-month, so there is nothing to explain"
        )
    _check_within(sample.demeaned)
    return n_clusters


def _check_within(d: Demeaned) -> None:
    """After the RM and month effects: the quota and the adds must still vary, and the quota
    must move adds (else the IV coefficient is infinite)."""
    tiny = 1e-9 * d.n
    if d.z @ d.z <= tiny:
        raise NotIdentified(
            "no quota variation within RMs beyond the common month pattern (every RM starts "
            "its quota in the same month), so RM and month effects absorb the instrument"
        )
    if d.x @ d.x <= tiny:
        raise NotIdentified(
            "no variation in adds within RMs beyond the common month pattern, so no effect "
            "per add can be estimated"
        )
    if abs(d.z @ d.x) <= 1e-12 * math.sqrt(float(d.z @ d.z) * float(d.x @ d.x)):
        raise NotIdentified("the quota does not move adds at all (a first stage of exactly zero)")


def estimate(
    frame: pd.DataFrame,
    *,
    data_label: str = "RM x month export",
    simulated_truth: dict | None = None,
) -> UpliftResult:
    """Fit the three contract models and the diagnostics on an ``rm_month`` frame.

    Parameters
    ----------
    frame
        ``rm_month`` rows (``wb.door.io.load(path).frame``, or a frame of one's own), checked
        first with ``wb validate``'s rules.
    data_label
        Describes the data in every rendering (e.g. "simulated export, seed 1") and in errors.
    simulated_truth
        For simulated data: the simulator's truth, as :func:`wb.uplift.simulate.simulate`
        returns it or its ``true_effects`` (what the truth file holds under that key); the true
        effects are shown beside the estimates and mark every output as simulated. A frame
        the door read from a ``wb simulate`` file (``frame.attrs["wb.simulated"]``,
        :mod:`wb.door.provenance`) is marked simulated, with the stamp's true effects when
        none are given.

    Raises
    ------
    InputError
        The frame breaks the ``rm_month`` schema (each missing column, bad value and row
        named) or cannot support the estimates.
    """
    from wb.door.provenance import KEY
    from wb.door.validation import validate

    stamp = frame.attrs.get(KEY)
    checked = validate(frame, "rm_month", data_label)
    if simulated_truth is None and stamp is not None:
        simulated_truth = stamp.get("true_effects")
    if simulated_truth is not None and "true_effects" in simulated_truth:
        simulated_truth = simulated_truth["true_effects"]
    return fit(
        prepare(checked),
        data_label=data_label,
        simulated_truth=simulated_truth,
        simulated=stamp is not None,
    )


def fit(
    sample: Sample,
    *,
    data_label: str = "RM x month export",
    simulated_truth: dict | None = None,
    binned: bool = True,
    simulated: bool = False,
) -> UpliftResult:
    """:func:`estimate` on an estimation sample already built with :func:`prepare`.

    ``simulated``: the data are simulated even if ``simulated_truth`` is unknown (a stamped
    file copied without its truth file). ``binned=False`` skips the binned-scatter table (``bins`` is then empty), which only the
    figures use: ~1 s of a 3.5M-row ``--quick`` run. Raises :class:`~wb.errors.NotIdentified` with the
    reason when the data cannot support the estimates (:func:`check_supported`).
    """
    n_clusters = check_supported(sample)
    naive = _naive(sample)
    d = sample.demeaned
    twfe = d.slope("twfe", "wecom_adds", d.y, d.x)
    iv = d.slope("iv_quota", "wecom_adds", d.y, d.x, z=d.z)
    first = d.slope("first_stage", "quota_in_force", d.x, d.z)
    reduced = d.slope("reduced_form", "quota_in_force", d.y, d.z)
    ar = anderson_rubin(d, first, reduced)
    few = few_clusters(sample, d, iv)
    weak = (first.coef / first.se) ** 2 < WEAK_F or few.refusal is not None
    verdict = make_verdict(iv, ar, weak, naive, twfe, few, (sample.first_month, sample.last_month))
    bins = (
        pd.concat(
            [_binned(sample.adds, sample.y, "pooled"), _binned(d.x, d.y, "within")],
            ignore_index=True,
        )
        if binned
        else pd.DataFrame(columns=["bin", "kind", "x_mean", "y_mean", "y_se", "n"])
    )
    return UpliftResult(
        estimates=(naive, twfe, iv),
        first_stage=first,
        reduced_form=reduced,
        ar_interval=ar,
        counts={**sample.counts, "estimation_rows": len(sample.y)},
        n_obs=len(sample.y),
        n_rms=int(sample.rm.max()) + 1,
        n_branches=n_clusters,
        first_month=sample.first_month,
        last_month=sample.last_month,
        verdict=verdict,
        few_clusters=few,
        bins=bins,
        by_quota=_by_quota(sample),
        data_label=data_label,
        simulated_truth=simulated_truth,
        stamped_simulated=simulated,
    )
