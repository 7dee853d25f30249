"""Fixed-effects designs on the uplift sample beyond the contract's three numbers (METHODS §2.5,
§2.6): the certified/uncertified split, more outcomes with a multiple-testing adjustment, the
WeCom coverage rate, and robustness checks.

Every estimate reuses :mod:`wb.uplift`'s machinery (pyfixest's demeaner, CRV1 by home branch
with fixest's small-sample rule, t(G−1) intervals), so it is held to the same standard the
tests hold the contract numbers to. Money in yuan; adds in adds per RM-month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from wb.uplift.estimation import (
    Design,
    Panel,
    cluster_sums,
    demean_columns,
    demeaned,
    n_clusters_of,
)
from wb.uplift.result import OUTCOME, Estimate

#: The outcome family: AUM change plus the optional columns of the export, when present.
FAMILY = (OUTCOME, "net_new_money_cny", "product_sales_cny")
WINSOR = (1.0, 99.0)
QUARTER_END_MONTHS = (3, 6, 9, 12)


def _subset_design(
    panel: Panel,
    mask: np.ndarray,
    fe: tuple[np.ndarray, ...],
    y: np.ndarray,
    x: np.ndarray,
    c: np.ndarray | None = None,
    z: np.ndarray | None = None,
    solver: str = "map",
) -> Design:
    """A :class:`Design` on the rows in ``mask``: ``y``, ``x`` and optionally ``c``, ``z``
    (full-panel arrays; missing ones repeat ``x``) demeaned with the fixed effects ``fe``
    (full-panel codes), clustered by home branch."""
    cols = np.column_stack([y, x, x if c is None else c, x if z is None else z])[mask]
    cluster = pd.factorize(panel.cluster[mask])[0]
    codes = [pd.factorize(f[mask])[0] for f in fe]
    out = demean_columns(cols, *codes, solver=solver)
    # RM effects nest in the clusters (not counted); every other FE level is (fixest's rule).
    k_fe = sum(int(code.max()) + 1 for code in codes[1:])
    return Design(
        out[:, 0],
        out[:, 1],
        out[:, 2],
        out[:, 3],
        cluster,
        int(cluster.max()) + 1,
        int(mask.sum()),
        k_fe=k_fe,
    )


def regress(
    d: Design, model: str, terms: tuple[str, ...], y: np.ndarray, X: np.ndarray
) -> tuple[Estimate, ...]:
    """OLS of demeaned ``y`` on demeaned columns ``X`` (n, k) with CRV1 errors; one
    :class:`Estimate` per term (the multi-regressor twin of :meth:`Design.slope`)."""
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ (X.T @ y)
    meat = cluster_sums(X * (y - X @ beta)[:, None], d.cluster, d.n_clusters)
    v = d.scale(X.shape[1] + d.k_fe) * bread @ (meat.T @ meat) @ bread
    return tuple(d.estimate(model, term, beta[j], v[j, j]) for j, term in enumerate(terms))


# --------------------------------------------------------------------------- certified split


@dataclass(frozen=True)
class Split:
    """One kind of add as an outcome: how many the quota makes, and AUM per such add."""

    kind: str
    first_stage: Estimate
    reduced_form: Estimate
    per_add: Estimate
    mean_per_rm_month: float

    def to_json(self) -> dict:
        return {
            "first_stage": self.first_stage.to_json(),
            "reduced_form": self.reduced_form.to_json(),
            "per_add": self.per_add.to_json(),
            "mean_adds_per_rm_month": self.mean_per_rm_month,
        }


def by_certification(panel: Panel, d: Design) -> dict[str, Split]:
    """First stage, reduced form and per-add effect with certified and with uncertified adds as
    the outcome of the quota (never as controls: certification happens after the add).

    Each per-add ratio (reduced form ÷ that kind's first stage) assumes the other kind moves AUM
    not at all; with one instrument the two cannot be told apart (METHODS §2.5). The first
    stages are the robust part: how many real-name certified adds a quota buys.
    """
    reduced = d.slope("reduced_form", "quota_in_force", d.y, d.z)
    kinds = {
        "certified": (d.c, panel.certified),
        "uncertified": (d.x - d.c, panel.adds - panel.certified),
    }
    return {
        kind: Split(
            kind=kind,
            first_stage=d.slope("first_stage", "quota_in_force", within, d.z),
            reduced_form=reduced,
            per_add=d.slope("iv_quota", f"wecom_{kind}_adds", d.y, within, z=d.z),
            mean_per_rm_month=float(raw.mean()),
        )
        for kind, (within, raw) in kinds.items()
    }


# --------------------------------------------------------------------------- outcome family


def outcome_family(panel: Panel, d: Design) -> dict:
    """Reduced form and yuan per quota-induced add for every outcome of :data:`FAMILY` present,
    with Holm-adjusted p-values (family-wise error rate 5%) on the per-add effects.

    An optional outcome missing in some rows is estimated on the rows that have it.
    """
    results: dict[str, dict] = {}
    for name in FAMILY:
        if name == OUTCOME:
            dd, y = d, d.y
        elif name in panel.extra:
            values = panel.extra[name]
            mask = np.isfinite(values)
            if mask.sum() < 10:
                continue
            dd = _subset_design(
                panel, mask, (panel.rm, panel.month), values, panel.adds, z=panel.quota_on
            )
            y = dd.y
        else:
            continue
        results[name] = {
            "reduced_form": dd.slope("reduced_form", "quota_in_force", y, dd.z).to_json(),
            "per_add": dd.slope("iv_quota", "wecom_adds", y, dd.x, z=dd.z).to_json(),
            "unit": "yuan per RM-month",
        }
    pvalues = [r["per_add"]["pvalue"] for r in results.values()]
    adjusted = multipletests(pvalues, alpha=0.05, method="holm")[1] if pvalues else []
    for r, p in zip(results.values(), adjusted, strict=True):
        r["per_add"]["pvalue_holm"] = float(p)
    return {"adjustment": "holm", "family": list(results), "results": results}


def wecom_coverage(frame: pd.DataFrame) -> dict | None:
    """WeCom coverage rate per RM at its last month: cumulative certified adds over the export
    window ÷ managed customers (seed 002's 企微覆盖率: customers added and real-name certified
    over customers managed). Described, not estimated; ``None`` without a ``customers`` column.

    A rate above 100% means more certified adds than customers: adds who are not the RM's
    customers (colleagues, bought contacts) or customers counted twice.
    """
    if "customers" not in frame.columns:
        return None
    f = frame[["rm_id", "month", "wecom_certified_adds", "quota_target", "customers"]]
    f = f.sort_values(["rm_id", "month"])
    cum = f.groupby("rm_id", sort=False)["wecom_certified_adds"].cumsum()
    rate = cum / f["customers"].astype("float64").where(lambda c: c > 0)
    last = pd.DataFrame({"rm_id": f["rm_id"], "rate": rate}).groupby("rm_id").last()["rate"]
    ever = f.groupby("rm_id")["quota_target"].max().gt(0).reindex(last.index)
    last = last.dropna()

    def describe(values: pd.Series) -> dict:
        if values.empty:
            return {"n_rms": 0}
        return {
            "n_rms": int(values.size),
            "mean": float(values.mean()),
            "median": float(values.median()),
            "p10": float(values.quantile(0.1)),
            "p90": float(values.quantile(0.9)),
            "share_above_1": float((values > 1).mean()),
        }

    return {
        "definition": "cumulative certified adds over the export window / managed customers, "
        "each RM's last month",
        "all": describe(last),
        "ever_quota": describe(last[ever.loc[last.index]]),
        "never_quota": describe(last[~ever.loc[last.index]]),
    }


# --------------------------------------------------------------------------- robustness


def robustness(panel: Panel, d: Design) -> dict:
    """Checks a referee asks for, each beside the baseline FE-2SLS / TWFE number:

    * ``winsorised``: FE-2SLS with the AUM change clipped at its 1st/99th percentiles;
    * ``leads``: TWFE of this month's AUM change on adds and *next* month's adds; the lead must
      not predict (strict exogeneity), so its interval should cover 0;
    * ``branch_month_fe``: TWFE with RM and branch × month fixed effects (branch-level shocks
      such as campaigns). FE-2SLS is not identified there: the quota is set per branch-month;
    * ``no_quarter_end``: FE-2SLS without March, June, September, December (window dressing).
    """
    out: dict[str, dict] = {
        "baseline_iv": d.slope("iv_quota", "wecom_adds", d.y, d.x, z=d.z).to_json(),
        "baseline_twfe": d.slope("twfe", "wecom_adds", d.y, d.x).to_json(),
    }
    lo, hi = np.percentile(panel.y, WINSOR)
    yw = demean_columns(np.clip(panel.y, lo, hi)[:, None], panel.rm, panel.month)[:, 0]
    out["winsorised"] = {
        **d.slope("iv_quota", "wecom_adds", yw, d.x, z=d.z).to_json(),
        "note": f"AUM change clipped to [{lo:,.0f}, {hi:,.0f}] yuan (1st/99th percentiles)",
    }

    nxt = np.r_[panel.rm[1:] == panel.rm[:-1], False] & np.r_[np.diff(panel.t) == 1, False]
    lead = np.r_[panel.adds[1:], np.nan]
    ld = _subset_design(panel, nxt, (panel.rm, panel.month), panel.y, panel.adds, c=lead)
    _, lead_est = regress(
        ld, "twfe_leads", ("wecom_adds", "wecom_adds_lead"), ld.y, np.column_stack([ld.x, ld.c])
    )
    out["leads"] = {
        **lead_est.to_json(),
        "passes": bool(lead_est.ci_low <= 0 <= lead_est.ci_high),
        "note": "coefficient on next month's adds; it should be 0",
    }

    branch_month = panel.branch.astype(np.int64) * (int(panel.month.max()) + 1) + panel.month
    everything = np.ones(panel.y.size, dtype=bool)
    bm = _subset_design(
        panel, everything, (panel.rm, branch_month), panel.y, panel.adds, solver="lsmr"
    )
    out["branch_month_fe"] = {
        **bm.slope("twfe_branch_month", "wecom_adds", bm.y, bm.x).to_json(),
        "note": "TWFE with RM and branch x month fixed effects; FE-2SLS is not identified "
        "(the quota is constant within a branch-month)",
    }

    calendar_month = panel.t % 12 + 1
    keep = ~np.isin(calendar_month, QUARTER_END_MONTHS)
    q = _subset_design(panel, keep, (panel.rm, panel.month), panel.y, panel.adds, z=panel.quota_on)
    out["no_quarter_end"] = {
        **q.slope("iv_quota", "wecom_adds", q.y, q.x, z=q.z).to_json(),
        "note": "FE-2SLS without quarter-end months (3, 6, 9, 12)",
    }
    return out


def fixed_effect_designs(frame: pd.DataFrame, panel: Panel) -> tuple[dict, list[str]]:
    """``by_certification``, ``outcomes`` (with ``wecom_coverage``) and ``robustness`` for
    ``uplift.json``, from the validated frame and its estimation sample, and notes on the
    robustness checks the data leave undefined (no variation left in their subsample): those
    are left out, never written as NaN."""
    d = demeaned(panel, n_clusters_of(panel))
    outcomes = outcome_family(panel, d)
    coverage = wecom_coverage(frame)
    if coverage is not None:
        outcomes["wecom_coverage"] = coverage
    split = by_certification(panel, d)
    checks = robustness(panel, d)
    undefined = [name for name, e in checks.items() if e["coef"] is None or e["se"] is None]
    notes = [
        f"robustness check {name} not estimated: its subsample leaves no variation to estimate it"
        for name in undefined
    ]
    doc = {
        "by_certification": {k: v.to_json() for k, v in split.items()},
        "outcomes": outcomes,
        "robustness": {k: v for k, v in checks.items() if k not in undefined},
    }
    return doc, notes
