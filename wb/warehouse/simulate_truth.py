"""What is true of a simulated warehouse (:mod:`wb.warehouse.simulate`): the realised
add-quality counts (:class:`Tally`), the realised effect of each customer's first binding
(:class:`BindingTruth`, the truth ``wb warehouse uplift`` estimates), the true effects per add
every file's provenance stamp carries (:func:`stamp`), and ``truth.json`` (:func:`truth`).
Money in yuan."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from wb.door import provenance, simulation

if TYPE_CHECKING:
    from wb.warehouse.simulate import CustomerSimulationConfig, World

SCHEMA = "wb.warehouse.simulate/1"


class Tally:
    """Realised add-quality counts by kind (organic / quota-induced), for the truth file."""

    FIELDS = ("adds", "bound", "certified_30d", "existing_customer", "removed_30d",
              "removed_90d", "ring", "last3days")  # fmt: skip

    def __init__(self) -> None:
        self.counts = {k: dict.fromkeys(self.FIELDS, 0) for k in ("organic", "quota_induced")}

    def add(self, kind: str, **values: np.ndarray) -> None:
        for name, mask in values.items():
            self.counts[kind][name] += int(np.count_nonzero(mask))

    def shares(self) -> dict:
        out = {}
        for kind, c in self.counts.items():
            n = max(1, c["adds"])
            out[kind] = {"adds": c["adds"]} | {
                f"share_{k}": round(c[k] / n, 6) for k in self.FIELDS if k != "adds"
            }
        return out


class BindingTruth:
    """Realised effect of each customer's *first* binding on its AUM, by kind of binding month
    (the RM had a quota in force or not) and AUM tier in the month before binding, per month
    since binding: the truth ``wb warehouse uplift`` estimates. The effect at month ``g + e``
    is the customer's AUM less the AUM it would have had without any binding gain (so it
    includes later bindings of the same customer). Only customers with an RM, present in the
    month before binding and bound inside the panel count."""

    EVENT_MONTHS = 13  # event months 0..12
    TIER_BOUNDS = (50_000.0, 500_000.0, 6_000_000.0)  # yuan: < 5万, 5万–50万, 50万–600万, ≥ 600万

    def __init__(self) -> None:
        shape = (2, len(self.TIER_BOUNDS) + 1, self.EVENT_MONTHS)
        self.level = np.zeros(shape)
        self.change = np.zeros(shape)
        self.count = np.zeros(shape)
        self.customers = np.zeros(2, dtype=np.int64)

    def add(self, effect: np.ndarray, aum: np.ndarray, first: np.ndarray, kind: np.ndarray,
            eligible: np.ndarray) -> None:  # fmt: skip
        """``effect`` and ``aum`` (customers x months, yuan); ``first`` binding month index,
        ``kind`` 1 for a quota month, ``eligible`` customers that count."""
        T = effect.shape[1]
        idx = np.flatnonzero(eligible)
        g, k = first[idx], kind[idx]
        tier = np.searchsorted(self.TIER_BOUNDS, aum[idx, g - 1], side="right")
        np.add.at(self.customers, k, 1)
        previous = np.zeros(len(idx))
        for e in range(self.EVENT_MONTHS):
            live = g + e < T
            if not live.any():
                break
            now = effect[idx[live], g[live] + e]
            where = (k[live], tier[live], np.full(int(live.sum()), e))
            np.add.at(self.level, where, now)
            np.add.at(self.change, where, now - previous[live])
            np.add.at(self.count, where, 1.0)
            previous[live] = now

    def as_dict(self) -> dict:
        def means(values: np.ndarray, counts: np.ndarray) -> list:
            return [
                None if n == 0 else round(float(v / n), 4)
                for v, n in zip(values, counts, strict=True)
            ]

        def block(sel: tuple) -> dict:
            lv, ch, n = (x[sel] for x in (self.level, self.change, self.count))
            if lv.ndim == 2:  # all tiers
                lv, ch, n = lv.sum(axis=0), ch.sum(axis=0), n.sum(axis=0)
            return {"level": means(lv, n), "change": means(ch, n), "n": [int(v) for v in n]}

        kinds = ("no_quota", "quota_month")
        out: dict = {
            "event_months": list(range(self.EVENT_MONTHS)),
            "customers": {k: int(self.customers[i]) for i, k in enumerate(kinds)},
        }
        overall = {k: block((i,)) for i, k in enumerate(kinds)}
        out["level_by_event_month"] = {k: v["level"] for k, v in overall.items()}
        out["change_by_event_month"] = {k: v["change"] for k, v in overall.items()}
        out["customer_months_by_event_month"] = {k: v["n"] for k, v in overall.items()}
        lows = (0.0, *self.TIER_BOUNDS)
        highs = (*self.TIER_BOUNDS, None)
        out["by_tier"] = []
        for j in range(len(lows)):
            per = {k: block((i, j)) for i, k in enumerate(kinds)}
            out["by_tier"].append(
                {
                    "low_cny": lows[j],
                    "high_cny": highs[j],
                    "level_by_event_month": {k: v["level"] for k, v in per.items()},
                    "change_by_event_month": {k: v["change"] for k, v in per.items()},
                }
            )
        return out


def stamp(c: CustomerSimulationConfig) -> dict:
    """The provenance stamp of every table file (:mod:`wb.door.provenance`): the simulator,
    seed and true effects per add (those ``wb uplift`` estimates on the panel built from it)."""
    return provenance.make(SCHEMA, "customer", c.seed, true_effects(c))


def true_effects(c: CustomerSimulationConfig) -> dict:
    return {
        "beta_quota_cny_per_add": c.beta_quota,
        "beta_organic_cny_per_add": c.beta_organic,
        "meaning": "yuan of monthly AUM change of the RM's customers per WeCom add, "
        "quota-induced vs organic (what wb uplift estimates on the built panel)",
        "gain_per_bound_customer_cny": {
            "organic": c.gain_organic_cny,
            "quota": c.gain_quota_cny,
            "meaning": "AUM gain of a customer bound through an add, from the month of "
            "certification on (organic and quota-induced bindings separately)",
        },
        "expected_verdict": _expected_verdict(c.beta_quota),
    }


def _expected_verdict(beta: float) -> str:
    if beta > 0:
        return "positive_uplift"
    if beta < 0:
        return "negative_uplift"
    return "no_detectable_uplift"


def truth(
    c: CustomerSimulationConfig, w: World, tally: Tally, rows: dict, binding: BindingTruth
) -> dict:
    months = pd.period_range(c.first_month, periods=c.n_months, freq="M")
    return {
        "schema": SCHEMA,
        "level": "customer",
        "arguments": asdict(c),
        "true_effects": true_effects(c),
        "customer_level": binding.as_dict()
        | {
            "gain_per_binding_cny": {"organic": c.gain_organic_cny, "quota": c.gain_quota_cny},
            "meaning": "realised effect of a customer's first binding on its AUM (yuan), by "
            "kind of binding month (no_quota: the binding RM had no quota in force; "
            "quota_month: it had) and months since binding: mean level and mean monthly change "
            "over the customers observed then; includes later bindings of the same customer "
            "(what wb warehouse uplift estimates)",
        },
        "add_quality": {
            "probabilities": {
                "bound": {"organic": c.bind_organic, "quota_induced": c.bind_quota},
                "removed_30d": {"organic": c.removed30_organic, "quota_induced": c.removed30_quota},
                "ring": {"organic": c.ring_organic, "quota_induced": c.ring_quota},
                "month_end": {"quota_induced": c.month_end_quota},
                "certified_after_31_60d": c.late_cert_share,
            },
            "realised": tally.shares(),
        },
        "design": {
            "n_branches": int(w.branch_quota.shape[0]),
            "cohort_months": [
                months[m].strftime("%Y-%m")
                for m in simulation.cohort_months(c.n_months)
                if m < c.n_months
            ],
            "never_treated_branches": int(w.never.sum()),
            "rm_movers": int(w.movers.sum()),
            "rm_level_quota_rows": int(np.count_nonzero(w.rm_override)),
        },
        "rows": rows,
    }
