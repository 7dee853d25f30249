"""Does a quota-driven WeCom add raise customers' AUM? The contract's three estimates
(docs/methods.md, "Quota uplift").

On the estimation sample (:func:`wb.uplift.sample.prepare`: the monthly AUM change per
RM-month, yuan, with home-branch clusters):

* ``naive_ols``: pooled regression of the change on adds (the dashboard correlation);
* ``twfe``: RM and month fixed effects (an association: adds are chosen);
* ``iv_quota``: FE-2SLS, adds instrumented by the quota in force (``quota_target > 0``), RM and
  month fixed effects: yuan per *quota-induced* add (a LATE).

Standard errors are clustered by branch (CRV1 with fixest's small-sample rule: G/(G−1) ·
(n−1)/(n−k), RM effects nested in clusters not counted in k); intervals use t(G−1). With few
branches the verdict is read from the wild cluster restricted bootstrap (:func:`few_clusters`).

Every model is fitted from the sample's demeaned columns (:attr:`wb.uplift.sample.Sample.demeaned`;
each has one regressor), which is exact (Frisch–Waugh–Lovell) and several times cheaper than
one ``pf.feols`` call per model. The tests hold every number to full ``pf.feols`` fits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from wb.errors import NotIdentified
from wb.stats.cluster import cluster_sums
from wb.stats.wild import WildTest
from wb.uplift.demeaned import Demeaned
from wb.uplift.result import (
    OUTCOME,
    WEAK_F,
    Estimate,
    FewClusters,
    Interval,
    UpliftResult,
)
from wb.uplift.sample import Sample, prepare
from wb.uplift.verdict import make_verdict

#: Below this many branch clusters the verdict is read from the wild cluster restricted
#: bootstrap (:mod:`wb.stats.wild`), not from the CRV1 interval: with 4–20 branches the CRV1
#: interval of FE-2SLS called a null effect positive or negative in 6–12% of simulated
#: exports (docs/methods.md, "Few branches").
WILD_MAX_CLUSTERS = 50
#: Fewest branches in which the quota switches on or off within the window: with fewer the
#: instrument's variation sits in one branch, every clustered statistic (the first-stage F
#: too) is meaningless and the verdict is "cannot tell".
MIN_QUOTA_CLUSTERS = 2


# --------------------------------------------------------------------------- estimates


def _naive(sample: Sample) -> Estimate:
    """Pooled OLS of the AUM change on adds with an intercept; the slope on adds."""
    y, x = sample.y, sample.adds
    # the raw columns as a design with no fixed effects swept out (k_fe = 0)
    pooled = Demeaned(y, x, x, x, sample.cluster, sample.n_clusters, len(y), k_fe=0)
    return pooled.regress(
        "naive_ols", ("intercept", "wecom_adds"), y, np.column_stack([np.ones_like(x), x])
    )[1]


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
