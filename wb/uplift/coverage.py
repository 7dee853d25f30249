"""The WeCom coverage rate per RM (企微覆盖率; docs/methods.md, "outcomes"): described, not
estimated. Rates are fractions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from wb.door.display import Shown, records

_COVERAGE_STATS = ["n_rms", "mean", "median", "p10", "p90", "share_above_1"]


@dataclass(frozen=True)
class Coverage(Shown):
    """WeCom coverage rate per RM at its last month (fractions; :func:`wecom_coverage`)."""

    table: pd.DataFrame = field(repr=False)
    definition: str = (
        "cumulative certified adds over the export window / managed customers, each RM's last month"
    )

    def tidy(self) -> pd.DataFrame:
        """One row per group (``all``, ``ever_quota``, ``never_quota``): ``n_rms`` and the
        rate's ``mean``, ``median``, ``p10``, ``p90`` and ``share_above_1`` (fractions)."""
        return self.table.copy()

    def summary(self) -> str:
        rows = self.table.set_index("group")
        lines = [f"WeCom coverage rate: {self.definition}"]
        for group, r in rows.iterrows():
            if r["n_rms"]:
                lines.append(
                    f"{group}: median {r['median']:.0%} over {int(r['n_rms']):,} RMs; "
                    f"{r['share_above_1']:.0%} above 100%"
                )
        return "\n".join(lines)

    def view(self) -> pd.DataFrame:
        return self.tidy().rename(
            columns={c: f"{c} (share)" for c in ("mean", "median", "p10", "p90")}
            | {"share_above_1": "share of RMs above 100%"}
        )

    def to_json(self) -> dict:
        groups = {
            row["group"]: {k: v for k, v in row.items() if k != "group"}
            if row["n_rms"]
            else {"n_rms": 0}
            for row in records(self.table)
        }
        return {"definition": self.definition, **groups}


def wecom_coverage(frame: pd.DataFrame) -> Coverage | None:
    """WeCom coverage rate per RM at its last month: cumulative certified adds over the export
    window ÷ managed customers (企微覆盖率 as the 每日经济新闻 article of 2025-12-31 uses it,
    source ``src-20251231-7ec8`` in data/sources.csv: customers added and real-name certified
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

    def describe(group: str, values: pd.Series) -> dict:
        return {
            "group": group,
            "n_rms": int(values.size),
            "mean": float(values.mean()),
            "median": float(values.median()),
            "p10": float(values.quantile(0.1)),
            "p90": float(values.quantile(0.9)),
            "share_above_1": float((values > 1).mean()),
        }

    ever = ever.loc[last.index]
    groups = (("all", last), ("ever_quota", last[ever]), ("never_quota", last[~ever]))
    return Coverage(
        pd.DataFrame([describe(g, v) for g, v in groups], columns=["group", *_COVERAGE_STATS])
    )
