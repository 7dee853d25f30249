"""What a quota-induced add is: the make-up of the marginal add a quota produces.

With the add-quality counts of each RM-month (``add_quality.parquet`` from
``wb warehouse build``: adds certified to a customer, existing customers, removed within 30 and
90 days, ring contacts that three or more RMs added, added in the month's last three days), the
quota-uplift machinery answers: of the extra adds a quota produces, what share has each
property? For a count ``c`` the FE-2SLS slope of ``c`` on adds, adds instrumented by the quota
in force, RM and month fixed effects, is ``d c / d adds`` for quota-induced adds: the share of
the marginal, quota-induced add with that property (it assumes the quota moves the count only
through the adds it induces, the same exclusion as the AUM estimate). Beside it, the same
share among the adds of RM-months without a quota: Σ c ÷ Σ adds, with a branch-clustered
interval from the ratio's linearisation. Shares are fractions of one add; intervals 95%,
clustered by home branch with t(G−1) quantiles, as every uplift estimate.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wb.door import io, schemas
from wb.door.display import table
from wb.errors import InputError
from wb.stats.cluster import cluster_sums, influence_vcov, t_quantile
from wb.uplift.estimation import check_supported
from wb.uplift.sample import Sample

#: Count column → what the share means (the certified count is the export's own column; the
#: others are the add-quality table's, :data:`wb.door.schemas.ADD_QUALITY`).
COUNTS: dict[str, str] = {
    "wecom_certified_adds": "certified to a customer within 30 days",
    **schemas.ADD_QUALITY_COUNTS,
}
QUALITY_COLUMNS = ("rm_id", "month", *schemas.ADD_QUALITY_COUNTS)


def read_quality(path: str | Path) -> pd.DataFrame:
    """Read ``add_quality.parquet`` (or CSV): one row per (rm_id, month), counts ≥ 0.

    Raises :class:`InputError` (exit 2) naming the file, the column and what was expected."""
    p = Path(path)
    frame = io.read_table(p)
    missing = [c for c in QUALITY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"{p}: not an add-quality table; missing columns {', '.join(missing)} "
            "(wb warehouse build writes it as add_quality.parquet)"
        )
    out = frame[list(QUALITY_COLUMNS)].copy()
    for column in QUALITY_COLUMNS[2:]:
        values = pd.to_numeric(out[column], errors="coerce")
        bad = values.isna() | (values < 0) | (values != np.floor(values))
        if bad.any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
            raise InputError(f"{p}: column '{column}', rows {rows}: expected a count >= 0")
        out[column] = values.astype("float64")
    out["month"] = out["month"].astype(str).str[:7]
    duplicated = out.duplicated(["rm_id", "month"])
    if duplicated.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(duplicated.to_numpy())[:5])
        raise InputError(f"{p}: rows {rows}: expected one row per (rm_id, month)")
    return out


def attach(frame: pd.DataFrame, quality: pd.DataFrame) -> pd.DataFrame:
    """The ``rm_month`` frame with the add-quality counts beside it (0 where an RM-month has
    no adds); an RM-month of the counts that the export lacks is an error (exit 2)."""
    merged = frame.merge(quality, on=["rm_id", "month"], how="left", indicator=True)
    orphans = quality.merge(frame[["rm_id", "month"]], how="left", indicator=True)
    if (orphans["_merge"] == "left_only").any():
        n = int((orphans["_merge"] == "left_only").sum())
        raise InputError(
            f"the add-quality table has {n} RM-month(s) the export lacks; "
            "build both from the same warehouse (wb warehouse build)"
        )
    counts = list(QUALITY_COLUMNS[2:])
    merged[counts] = merged[counts].fillna(0.0)
    return merged.drop(columns="_merge")


@dataclass(frozen=True)
class Share:
    """The share of adds with one property: quota-induced (IV) and in months without a quota."""

    count: str
    meaning: str
    share: float
    ci_low: float
    ci_high: float
    no_quota_share: float
    no_quota_ci_low: float
    no_quota_ci_high: float


@dataclass(frozen=True)
class AddQuality:
    """The make-up of the quota-induced add, beside that of adds in months without a quota."""

    shares: tuple[Share, ...]
    n_obs: int
    n_clusters: int
    first_stage_adds: float
    note: str = field(
        default="Shares of one add (fractions). Quota-induced: FE-2SLS slope of the count on "
        "adds, instrumented by the quota in force, RM and month effects; assumes the quota "
        "moves each count only through the adds it induces. No quota: adds in RM-months "
        "without a quota. 95% intervals clustered by home branch."
    )

    def tidy(self) -> pd.DataFrame:
        """One row per count: count, meaning, share, ci_low, ci_high and the no-quota three."""
        shares = (
            "share",
            "ci_low",
            "ci_high",
            "no_quota_share",
            "no_quota_ci_low",
            "no_quota_ci_high",
        )
        return table(pd.DataFrame([s.__dict__ for s in self.shares]), percents=shares)

    def summary(self) -> str:
        lines = [f"The quota-induced add vs adds without a quota ({self.n_clusters} branches)"]
        for s in self.shares:
            lines.append(
                f"- {s.meaning}: {s.share:.1%} [{s.ci_low:.1%}, {s.ci_high:.1%}] vs "
                f"{s.no_quota_share:.1%} [{s.no_quota_ci_low:.1%}, {s.no_quota_ci_high:.1%}]"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(s.meaning)}</td>"
            f"<td>{s.share:.1%} [{s.ci_low:.1%}, {s.ci_high:.1%}]</td>"
            f"<td>{s.no_quota_share:.1%} [{s.no_quota_ci_low:.1%}, {s.no_quota_ci_high:.1%}]</td></tr>"
            for s in self.shares
        )
        return (
            "<div><b>What a quota-induced add is (share of one add, 95% CI)</b><table><thead>"
            "<tr><th>property</th><th>quota-induced add</th><th>adds without a quota</th></tr>"
            f"</thead><tbody>{rows}</tbody></table><p>{html.escape(self.note)}</p></div>"
        )

    def to_json(self) -> dict:
        """The ``add_quality`` block of ``uplift.json``: one entry per count."""
        return {
            "counts": {
                s.count: {
                    "meaning": s.meaning,
                    "share": s.share,
                    "ci_low": s.ci_low,
                    "ci_high": s.ci_high,
                    "no_quota": {
                        "share": s.no_quota_share,
                        "ci_low": s.no_quota_ci_low,
                        "ci_high": s.no_quota_ci_high,
                    },
                }
                for s in self.shares
            },
            "n_obs": self.n_obs,
            "clusters": self.n_clusters,
            "first_stage_adds_per_quota_month": self.first_stage_adds,
            "unit": "share of one add (fraction)",
            "note": self.note,
        }


def _ratio_ci(num: np.ndarray, den: np.ndarray, cluster: np.ndarray) -> tuple[float, float, float]:
    """Σnum ÷ Σden with a cluster-robust 95% interval (linearised ratio, t(G−1))."""
    total = den.sum()
    ratio = num.sum() / total
    g = int(cluster.max()) + 1
    influence = cluster_sums((num - ratio * den)[:, None], cluster, g) / total
    se = math.sqrt(float(influence_vcov(influence)[0, 0]))  # the sums total 0: centring is moot
    q = t_quantile(g)
    return float(ratio), float(ratio - q * se), float(ratio + q * se)


def estimate_quality(sample: Sample) -> AddQuality:
    """The add-quality shares of :mod:`this module <wb.uplift.quality>` on ``sample`` (built by
    :func:`wb.uplift.sample.prepare` from a frame with the counts attached)."""
    missing = [c for c in COUNTS if c != "wecom_certified_adds" and c not in sample.extra]
    if missing:
        raise InputError(f"no add-quality counts in the sample ({', '.join(missing)})")
    n_clusters = check_supported(sample)  # no quota, no adds: the RM-level analysis's reasons
    counts = {"wecom_certified_adds": sample.certified} | {
        c: sample.extra[c] for c in COUNTS if c != "wecom_certified_adds"
    }
    design = sample.demeaned  # adds and the instrument, demeaned once for the whole run
    x, z = design.x, design.z
    # the certified count is demeaned already; the other counts once, here
    others = sample.design.residual(np.column_stack(list(counts.values())[1:]))
    within = {"wecom_certified_adds": design.c} | {
        name: others[:, j] for j, name in enumerate(list(counts)[1:])
    }
    first = design.slope("first_stage", "quota_in_force", x, z)
    if not math.isfinite(first.coef) or abs(first.coef / first.se) < 2:
        raise InputError(
            "the quota does not move adds clearly enough (first-stage t "
            f"{first.coef / first.se:.1f}) to say what a quota-induced add is"
        )
    idle = sample.quota_on == 0
    idle_cluster = pd.factorize(sample.cluster[idle])[0]
    shares = []
    for name, raw in counts.items():
        iv = design.slope("iv_quota", name, within[name], x, z=z)
        free = _ratio_ci(raw[idle], sample.adds[idle], idle_cluster)
        shares.append(Share(name, COUNTS[name], iv.coef, iv.ci_low, iv.ci_high, *free))
    return AddQuality(tuple(shares), len(x), n_clusters, first.coef)
