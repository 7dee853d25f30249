"""A brute-force, unit-level implementation of the customer-level event study on customer rows
in pandas/numpy: the second implementation the engine cells must equal.

It follows the definitions of :mod:`wb.warehouse.uplift` literally, customer by customer: first
binding and its kind, the customer's branch and spell, the outcome, then one least-squares fit
of customer dummies and branch x month dummies on the not-yet-bound customer-months (dense
``lstsq``), an imputed effect per bound customer-month (kept only when its prediction is
estimable, i.e. lies in the row space of the fit's design) and the estimates and their
branch-clustered standard errors from the imputed effects.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def _month_index(text: pd.Series) -> pd.Series:
    return text.str[:4].astype(int) * 12 + text.str[5:7].astype(int) - 1


def first_bindings(tables: dict[str, pd.DataFrame], onset: str = "certified") -> pd.DataFrame:
    """Per bound customer: ``g`` (month index of the first certification, or with ``onset``
    "added" the earliest add month of the contacts certified then) and ``kind``."""
    wc = tables["wecom_contact"]
    cm = tables["customer_month"]
    q = tables["quota"]
    wc = wc[wc.customer_id.notna() & wc.certified_at.notna()].copy()
    wc["cm"] = pd.to_datetime(wc.certified_at).dt.strftime("%Y-%m")
    wc["gi"] = _month_index(wc["cm"])
    first = wc.groupby("customer_id")["gi"].min()
    at = wc[wc.gi == wc.customer_id.map(first)]
    if onset == "added":
        at = at.assign(cm=pd.to_datetime(at.added_at).dt.strftime("%Y-%m"))
        at = at.assign(gi=_month_index(at["cm"]))
        first = at.groupby("customer_id")["gi"].min()
        at = at[at.gi == at.customer_id.map(first)]
    rm_branch = cm[cm.rm_id.notna()].groupby(["rm_id", "month"])["branch_id"].max()
    rm_q = q[q.rm_id.notna()].set_index(["rm_id", "month"])["quota_target"]
    br_q = q[q.rm_id.isna()].set_index(["branch_id", "month"])["quota_target"]
    kinds = {}
    for row in at.itertuples():
        if (row.rm_id, row.cm) in rm_q.index:
            target = rm_q[(row.rm_id, row.cm)]
        else:
            branch = rm_branch.get((row.rm_id, row.cm))
            target = br_q.get((branch, row.cm), 0) if branch is not None else 0
        kinds[row.customer_id] = max(kinds.get(row.customer_id, 0), int(target > 0))
    return pd.DataFrame({"g": first, "kind": pd.Series(kinds)})


def customer_rows(
    tables: dict[str, pd.DataFrame],
    bounds: tuple[float, ...],
    leads: int,
    post: int,
    model: str,
    first: str | None = None,
    last: str | None = None,
    onset: str = "certified",
) -> pd.DataFrame:
    """One row per used customer-month with ``customer``, ``branch``, ``t``, ``y``, ``g``,
    ``kind``, ``tier``, ``e``, ``fit`` and ``target``."""
    cm = tables["customer_month"].copy()
    cm["month"] = cm["month"].astype(str)
    cm = cm[cm.rm_id.notna() & cm.branch_id.notna()]
    if first:
        cm = cm[cm.month >= first]
    if last:
        cm = cm[cm.month <= last]
    cm["t"] = _month_index(cm["month"])
    cm = cm.sort_values(["customer_id", "t"])
    bind = first_bindings(tables, onset)
    out = []
    for cid, rows in cm.groupby("customer_id", sort=True):
        t = rows.t.to_numpy()
        a, z = t.min(), t.max()
        if z - a + 1 != len(t):
            continue  # gaps: left out
        branch = rows.branch_id.iloc[0]
        g = bind.g.get(cid, np.nan)
        if not np.isnan(g) and g - 1 > z:
            g = np.nan  # bound after the last month: a control
        if not np.isnan(g) and g <= a:
            continue  # no month before binding
        aum = rows.aum_cny.to_numpy(dtype=float)
        if np.isnan(g):
            kind, tier = -1, -1
        else:
            g = int(g)
            kind = int(bind.kind[cid])
            base = aum[t == g - 1][0]
            tier = int(np.searchsorted(bounds, base, side="right"))
        if model == "trends":
            y, tt = np.diff(aum), t[1:]
        else:
            y, tt = aum, t
        for ti, yi in zip(tt, y, strict=True):
            if np.isnan(g):
                out.append((cid, branch, ti, yi, -1, kind, tier, 0, True, False))
                continue
            e = ti - g
            if e > post:
                continue
            out.append((cid, branch, ti, yi, g, kind, tier, e, e < -leads, -leads <= e))
    return pd.DataFrame(
        out,
        columns=["customer", "branch", "t", "y", "g", "kind", "tier", "e", "fit", "target"],
    )


def impute_units(rows: pd.DataFrame) -> pd.DataFrame:
    """Fit customer + branch x month dummies on ``fit`` rows by least squares; return the
    ``target`` rows whose prediction is estimable, with ``tau`` = y - prediction."""
    fit = rows[rows.fit]
    cust = {c: i for i, c in enumerate(sorted(fit.customer.unique()))}
    bm = {k: i for i, k in enumerate(sorted(set(zip(fit.branch, fit.t, strict=True))))}
    P = len(cust) + len(bm)

    def design(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        X = np.zeros((len(frame), P))
        ok = np.ones(len(frame), dtype=bool)
        for i, (c, b, t) in enumerate(zip(frame.customer, frame.branch, frame.t, strict=True)):
            if c in cust and (b, t) in bm:
                X[i, cust[c]] = 1.0
                X[i, len(cust) + bm[(b, t)]] = 1.0
            else:
                ok[i] = False
        return X, ok

    X, _ = design(fit)
    coef, *_ = np.linalg.lstsq(X, fit.y.to_numpy(), rcond=None)
    tgt = rows[rows.target].copy()
    Xt, ok = design(tgt)
    # estimable: the target's row lies in the row space of X
    _, sv, vt = np.linalg.svd(X, full_matrices=False)
    basis = vt[sv > 1e-9 * sv.max()]
    resid = Xt - (Xt @ basis.T) @ basis
    ok &= np.abs(resid).max(axis=1) < 1e-8
    tgt["tau"] = tgt.y.to_numpy() - Xt @ coef
    return tgt[ok]


def estimates(
    imputed: pd.DataFrame, kind: int, leads: int, post: int, model: str, tier: int | None = None
) -> dict:
    """Monthly effects ``delta`` (event month -> yuan), ``att`` (window average of the path)
    with its branch-clustered ``se``, straight from the imputed customer-months."""
    sel = imputed[imputed.kind == kind]
    if tier is not None:
        sel = sel[sel.tier == tier]
    months = range(-leads, post + 1)
    delta = {e: sel.tau[sel.e == e].mean() for e in months}
    # path: levels as is; trends cumulated from event month 0
    if model == "trends":
        path = {e: sum(delta[m] for m in range(0, e + 1)) for e in range(post + 1)}
    else:
        path = {e: delta[e] for e in range(post + 1)}
    att = float(np.mean([path[e] for e in range(post + 1)]))
    # weights of each delta in the att, then the ratio influence functions per branch
    w = {e: 0.0 for e in months}
    for e in range(post + 1):
        for m in range(0, e + 1) if model == "trends" else [e]:
            w[m] += 1.0 / (post + 1)
    branches = sorted(sel.branch.unique())
    psi = []
    for b in branches:
        part = sel[sel.branch == b]
        value = 0.0
        for e in months:
            n_all = (sel.e == e).sum()
            if n_all:
                value += (
                    w[e] * (part.tau[part.e == e].sum() - delta[e] * (part.e == e).sum()) / n_all
                )
        psi.append(value)
    G = len(branches)
    psi = np.asarray(psi)
    se = math.sqrt(G / (G - 1) * float(psi @ psi))
    q = float(stats.t.ppf(0.975, G - 1))
    return {"delta": delta, "path": path, "att": att, "se": se, "ci": (att - q * se, att + q * se)}
