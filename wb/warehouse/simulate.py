"""A simulated bank warehouse (docs/warehouse.md) with known truth: ``wb simulate --level customer``.

The same data-generating process as the RM-level simulator (:mod:`wb.uplift.simulate`),
reimplemented here at customer level (``wb.warehouse`` may not import ``wb.uplift``), so that
building the panel and running ``wb uplift`` on it recovers the same kind of truth:

* **RM skill confounds.** Skill ``s ~ N(0, 1)`` raises an RM's organic adds
  (``Poisson(organic_mean·exp(0.45·s − 0.45²/2))`` a month) *and* the AUM growth of the RM's
  customers (``0.6%·s`` of each customer's starting AUM a month): naive OLS is biased upward.
* **Staggered branch quotas, fill-to-target.** 25% of branches never get a quota; the rest adopt
  in one of four cohorts; the target is 20 (80%) or 40 adds a month. Some RMs get their own
  quota row (1.5× the branch's), which overrides the branch's. An RM short of target fills to
  it exactly with probability 0.7, else adds 0–50% of the gap.
* **Quota adds are worse adds.** A quota-induced add is bound to a customer (real-name
  certified) with probability 0.35 (organic 0.9), removed within 30 days with probability 0.35
  (0.05), is a *ring* contact (an id from a shared pool of bought lists and swapped adds, added
  by several RMs, never bound) with probability 0.25 (0.01), and half are added in the last
  three days of the month.
* **AUM responds to binding.** A customer bound through an add gains
  ``beta / (bind_prob·(1 − ring_prob))`` yuan of AUM from the month of certification on
  (organic and quota-induced separately), so an add is worth ``beta_organic`` / ``beta_quota``
  yuan of monthly AUM change of its RM: the per-add truth is the RM-level simulator's, the
  per-bound-customer truth is in the truth file too. Quota adds cluster at month end and some
  certify in the next month, so a contemporaneous per-add estimate is slightly attenuated.
  5% of bindings are certified 31–60 days after the add (not counted as certified adds).
* **Customers and RMs move.** Customers have log-normal AUM (median 300,000 yuan) with t(3)
  random-walk shocks; 5% change RM once, 3% of RMs change branch once, 8% of customers join
  late, 2% are unassigned (no RM). Adds whose RM has no customer that month are possible.
* **Variants with one feature changed** (held-out truths, docs/methods.md): ``aum_process=
  "multiplicative"`` (log-AUM random walk, customer-specific drift ``N(0, drift_sd)`` a month,
  ``mult_shock`` · t(3) shocks; the binding gain stays a level shift in yuan) and
  ``no_rm_month_share`` (customer-months inside a spell with no RM).

Tables are written chunk by chunk (2,000 RMs at a time, each chunk with its own seeded stream),
as Parquet folders ``SRC/customer_month/``, ``SRC/wecom_contact/``, ``SRC/quota/``, with the
truth in ``SRC/truth.json``. Every Parquet file carries the ``wb.simulated`` stamp in its
metadata (:mod:`wb.door.provenance`: simulator, seed, true effects), so a table copied without
``truth.json`` still says it is simulated. Same arguments, same bytes. What is true of the
source (the stamp, ``truth.json`` and the tallies behind it) is written by
:mod:`wb.warehouse.simulate_truth`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from wb.door import provenance, simulation
from wb.door.arguments import DEFAULTS
from wb.door.atomic import staged_dir
from wb.errors import InputError
from wb.warehouse.simulate_truth import BindingTruth, Tally, stamp, truth

TRUTH = "truth.json"
#: Size bounds of a simulated source (``--rms``, ``--months``, ``--customers`` per RM).
RMS_RANGE = (20, 500_000)
MONTHS_RANGE = (8, 240)
CUSTOMERS_RANGE = (1, 5000)
#: Largest source the simulator writes, in expected customer-months.
MAX_CUSTOMER_MONTHS = 250_000_000

_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class CustomerSimulationConfig(simulation.WorldArguments):
    """Arguments of the customer-level DGP. Money in yuan; ``beta_*`` are yuan of monthly AUM
    change per add (as in the RM-level simulator); probabilities are per add."""

    n_rms: int = DEFAULTS.customer_level_rms
    customers_per_rm: int = DEFAULTS.customers_per_rm
    rms_per_branch: int = 10
    organic_mean: float = 6.0
    targets: tuple[int, int] = (20, 40)
    rm_quota_share: float = 0.1
    bind_organic: float = 0.9
    bind_quota: float = 0.35
    late_cert_share: float = 0.05
    removed30_organic: float = 0.05
    removed30_quota: float = 0.35
    removed90_organic: float = 0.03
    removed90_quota: float = 0.10
    ring_organic: float = 0.01
    ring_quota: float = 0.25
    ring_removed30: float = 0.6
    month_end_quota: float = 0.5
    aum_median_cny: float = 3e5
    aum_sigma: float = 1.0
    shock_scale: float = 0.01
    #: ``additive``: monthly AUM steps in yuan (shares of the starting AUM, t(3) shocks);
    #: ``multiplicative``: log-AUM steps (the same shares as log changes) plus a
    #: customer-specific drift ``N(0, drift_sd)`` a month and ``mult_shock`` · t(3) shocks.
    aum_process: str = "additive"
    drift_sd: float = 0.01
    mult_shock: float = 0.03
    #: Share of customer-months inside a customer's spell with no RM (rm_id and branch null).
    no_rm_month_share: float = 0.0
    customer_mover_share: float = 0.05
    rm_mover_share: float = 0.03
    joiner_share: float = 0.08
    unassigned_share: float = 0.02
    chunk_rms: int = 2000

    @property
    def gain_organic_cny(self) -> float:
        """AUM gain of a customer bound through an organic add, yuan."""
        return self.beta_organic / (self.bind_organic * (1 - self.ring_organic))

    @property
    def gain_quota_cny(self) -> float:
        """AUM gain of a customer bound through a quota-induced add, yuan."""
        return self.beta_quota / (self.bind_quota * (1 - self.ring_quota))

    def check(self) -> None:
        """Raise :class:`InputError` (exit 2) for sizes or arguments the DGP cannot honour."""
        simulation.check_range("--rms", self.n_rms, *RMS_RANGE)
        simulation.check_range("--months", self.n_months, *MONTHS_RANGE)
        simulation.check_range("--customers", self.customers_per_rm, *CUSTOMERS_RANGE)
        size = self.n_rms * self.n_months * self.customers_per_rm
        if size > MAX_CUSTOMER_MONTHS:
            raise InputError(
                f"--rms x --months x --customers = {size:,} customer-months; at most "
                f"{MAX_CUSTOMER_MONTHS:,}"
            )
        self.check_world()


def _ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pa.array(values, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


@dataclass
class World:
    """RM- and branch-level draws shared by all chunks."""

    skill: np.ndarray  # (R,)
    branch: np.ndarray  # (R, T) branch index
    target: np.ndarray  # (R, T) quota in force, 0 = none
    branch_quota: np.ndarray  # (B, T)
    rm_override: np.ndarray  # (R, T) RM-level quota row, 0 = none
    never: np.ndarray
    movers: np.ndarray


def _world(c: CustomerSimulationConfig) -> World:
    rng = np.random.default_rng([c.seed, 0])
    R, T = c.n_rms, c.n_months
    t = np.arange(T)
    B = max(2, math.ceil(R / c.rms_per_branch))
    drawn = simulation.draw_branches(rng, R, T, B, c.never_share, c.targets, c.rm_mover_share)
    branch = drawn.branch
    branch_quota = np.where(drawn.adopt[:, None] <= t[None, :], drawn.level[:, None], 0)
    own = rng.random(R) < c.rm_quota_share
    bq = branch_quota[branch, t[None, :]]
    rm_override = np.where(own[:, None] & (bq > 0), np.round(bq * 1.5).astype(int), 0)
    target = np.where(rm_override > 0, rm_override, bq)
    skill = rng.standard_normal(R)
    return World(skill, branch, target, branch_quota, rm_override, drawn.never, drawn.movers)


def _chunk(
    c: CustomerSimulationConfig,
    w: World,
    index: int,
    r0: int,
    r1: int,
    month_start: np.ndarray,
    rm_names: np.ndarray,
    tally: Tally,
    binding: BindingTruth | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Customers, their months and the adds of RMs ``r0 .. r1 - 1``."""
    rng = np.random.default_rng([c.seed, index + 1])
    T = c.n_months
    Rc = r1 - r0
    t = np.arange(T)
    months = pd.period_range(c.first_month, periods=T, freq="M")
    days_in_month = months.days_in_month.to_numpy()

    # --- customers: home RM (local index), joining month, moves, starting AUM
    n_per = np.maximum(1, rng.poisson(c.customers_per_rm, Rc))
    Nc = int(n_per.sum())
    home = np.repeat(np.arange(Rc), n_per)
    join = np.where(rng.random(Nc) < c.joiner_share, rng.integers(1, T, Nc), 0)
    unassigned = rng.random(Nc) < c.unassigned_share
    mover = rng.random(Nc) < c.customer_mover_share
    move_at = rng.integers(1, T, Nc)
    other = (home + rng.integers(1, max(2, Rc), Nc)) % Rc
    rm_ct = np.where(
        mover[:, None] & (t[None, :] >= move_at[:, None]), other[:, None], home[:, None]
    )
    present = t[None, :] >= join[:, None]
    base = c.aum_median_cny * np.exp(c.aum_sigma * rng.standard_normal(Nc))

    # --- adds per RM-month
    skill = w.skill[r0:r1]
    target = w.target[r0:r1]
    organic, induced, _ = simulation.draw_adds(
        rng, skill, target, months, c.organic_mean, c.skill_on_adds, c.fill_prob
    )
    per_cell = (organic + induced).ravel()
    Na = int(per_cell.sum())
    cell = np.repeat(np.arange(Rc * T), per_cell)
    start = np.cumsum(per_cell) - per_cell
    quota_kind = (np.arange(Na) - start[cell]) >= organic.ravel()[cell]
    a_rm, a_t = cell // T, cell % T

    # day and time of the add: quota adds cluster in the last three days of the month
    dim = days_in_month[a_t]
    day = np.floor(rng.random(Na) * dim).astype(int)  # 0-based
    end = quota_kind & (rng.random(Na) < c.month_end_quota)
    day = np.where(end, dim - 3 + rng.integers(0, 3, Na), day)
    added = month_start[a_t] + day * _US_PER_DAY + rng.integers(8 * 3600, 22 * 3600, Na) * 1_000_000

    ring = rng.random(Na) < np.where(quota_kind, c.ring_quota, c.ring_organic)
    bind_p = np.where(quota_kind, c.bind_quota, c.bind_organic)
    bound = ~ring & (rng.random(Na) < bind_p)

    # the bound customer: one of the RM's assigned customers present that month
    live = present & ~unassigned[:, None]
    cust_idx, month_idx = np.nonzero(live)
    key = rm_ct[cust_idx, month_idx] * T + month_idx
    order = np.argsort(key, kind="stable")
    sorted_cust = cust_idx[order]
    count = np.bincount(key, minlength=Rc * T)
    first = np.cumsum(count) - count
    avail = count[cell]
    bound &= avail > 0
    pick = first[cell] + np.floor(rng.random(Na) * np.maximum(avail, 1)).astype(int)
    customer = np.where(bound, sorted_cust[np.minimum(pick, max(len(sorted_cust) - 1, 0))], -1)

    late = rng.random(Na) < c.late_cert_share
    delay = np.where(
        late,
        rng.uniform(31, 60, Na) * _US_PER_DAY,
        rng.exponential(0.5, Na) * _US_PER_DAY,
    ).astype(np.int64)
    delay = np.minimum(delay, np.where(late, 60, 30) * _US_PER_DAY)
    certified = added + delay
    cert_month = np.searchsorted(month_start, certified, side="right") - 1

    p30 = np.where(
        ring, c.ring_removed30, np.where(quota_kind, c.removed30_quota, c.removed30_organic)
    )
    p90 = np.where(quota_kind, c.removed90_quota, c.removed90_organic)
    u = rng.random(Na)
    removed_delay = np.where(
        u < p30,
        rng.uniform(0.05, 30, Na),
        np.where(u < p30 + p90, rng.uniform(30.5, 90, Na), np.nan),
    )
    removed = added + np.nan_to_num(removed_delay * _US_PER_DAY).astype(np.int64)
    is_removed = ~np.isnan(removed_delay)

    # --- AUM: growth from the current RM's skill, month effects, shocks, gains from binding
    gain = np.zeros((Nc, T))
    hit = bound & (cert_month < T)
    per_bound = np.where(quota_kind, c.gain_quota_cny, c.gain_organic_cny)
    np.add.at(gain, (customer[hit], cert_month[hit]), per_bound[hit])
    if c.aum_process == "multiplicative":
        drift = c.drift_sd * rng.standard_normal(Nc)
        log_step = (
            c.skill_on_growth * skill[rm_ct]
            + simulation.month_effect_share(months)[None, :]
            + drift[:, None]
            + c.mult_shock * rng.standard_t(3, size=(Nc, T))
        )
        log_step[:, 0] = 0.0
        untouched = base[:, None] * np.exp(np.cumsum(log_step, axis=1))
    else:
        step = (
            base[:, None] * c.skill_on_growth * skill[rm_ct]
            + base[:, None] * simulation.month_effect_share(months)[None, :]
            + base[:, None] * c.shock_scale * rng.standard_t(3, size=(Nc, T))
        )
        step[:, 0] = 0.0
        untouched = base[:, None] + np.cumsum(step, axis=1)
    aum = np.maximum(untouched + np.cumsum(gain, axis=1), 0.0)
    if binding is not None:
        # first binding per customer (any RM, certified in or after the panel) and its kind
        first = np.full(Nc, np.iinfo(np.int64).max)
        np.minimum.at(first, customer[bound], cert_month[bound])
        at_first = bound & (cert_month == first[np.maximum(customer, 0)]) & (cert_month < T)
        had_quota = np.zeros(Nc, dtype=np.int64)
        quota_then = target[a_rm, np.minimum(cert_month, T - 1)] > 0
        np.maximum.at(had_quota, customer[at_first], quota_then[at_first].astype(np.int64))
        eligible = (first < T) & (first >= 1) & (join <= first - 1) & ~unassigned
        first_ok = np.where(eligible, first, 1)
        binding.add(aum - np.maximum(untouched, 0.0), aum, first_ok, had_quota, eligible)

    # --- tally of the add-quality truth
    existing = bound & ~late & (join[np.maximum(customer, 0)] < a_t)
    last3 = day >= dim - 3
    for kind, mask in (("organic", ~quota_kind), ("quota_induced", quota_kind)):
        tally.add(
            kind,
            adds=mask,
            bound=mask & bound,
            certified_30d=mask & bound & ~late,
            existing_customer=mask & existing,
            removed_30d=mask & is_removed & (removed_delay <= 30),
            removed_90d=mask & is_removed,
            ring=mask & ring,
            last3days=mask & last3,
        )

    # --- customer_month rows
    ci, ti = np.nonzero(present)
    rm_local = rm_ct[ci, ti]
    rm_global = r0 + rm_local
    assigned = ~unassigned[ci]
    if c.no_rm_month_share > 0:
        assigned &= rng.random(len(ci)) >= c.no_rm_month_share
    month_names = pa.array(months.strftime("%Y-%m").to_numpy())
    branch_names = simulation.branch_ids(w.branch_quota.shape[0])
    cm = pa.table(
        {
            "customer_id": _ids(f"C{index:04d}_", ci, 7),
            "month": month_names.take(pa.array(ti)),
            "rm_id": pa.array(rm_names[rm_global], mask=~assigned),
            "branch_id": pa.array(branch_names[w.branch[rm_global, ti]], mask=~assigned),
            "aum_cny": pa.array(np.round(aum[ci, ti], 2)),
        }
    )

    # --- wecom_contact rows
    ring_pool = max(1000, 2 * c.n_rms)
    ring_start = rng.integers(0, ring_pool, Rc)
    ring_rank = np.cumsum(ring) - 1  # ring adds numbered in (rm, month) order within the chunk
    rm_first_ring = np.zeros(Rc, dtype=np.int64)
    ring_per_rm = np.bincount(a_rm[ring], minlength=Rc)
    rm_first_ring[1:] = np.cumsum(ring_per_rm)[:-1]
    ring_id = (ring_start[a_rm] + ring_rank - rm_first_ring[a_rm]) % ring_pool
    contact = pc.if_else(
        pa.array(ring),
        _ids("ring_", ring_id, 6),
        _ids(f"wm{index:04d}_", np.arange(Na), 9),
    )
    cust_text = _ids(f"C{index:04d}_", np.maximum(customer, 0), 7)
    wc = pa.table(
        {
            "rm_id": pa.array(rm_names[r0 + a_rm]),
            "contact_id": contact,
            "added_at": pa.array(added, pa.timestamp("us")),
            "customer_id": pc.if_else(pa.array(bound), cust_text, pa.nulls(Na, pa.string())),
            "certified_at": pa.array(certified, pa.timestamp("us"), mask=~bound),
            "removed_at": pa.array(removed, pa.timestamp("us"), mask=~is_removed),
        }
    )
    return cm, wc


def _quota_table(c: CustomerSimulationConfig, w: World, rm_names: np.ndarray) -> pa.Table:
    months = pd.period_range(c.first_month, periods=c.n_months, freq="M").strftime("%Y-%m")
    names = simulation.branch_ids(w.branch_quota.shape[0])
    b, bt = np.nonzero(w.branch_quota)
    r, rt = np.nonzero(w.rm_override)
    n_b, n_r = len(b), len(r)
    return pa.table(
        {
            "branch_id": pa.array(
                np.concatenate([names[b], np.full(n_r, "")]),
                mask=np.concatenate([np.zeros(n_b, bool), np.ones(n_r, bool)]),
            ),
            "rm_id": pa.array(
                np.concatenate([np.full(n_b, ""), rm_names[r]]),
                mask=np.concatenate([np.ones(n_b, bool), np.zeros(n_r, bool)]),
            ),
            "month": pa.array(np.concatenate([months[bt], months[rt]])),
            "quota_target": pa.array(
                np.concatenate([w.branch_quota[b, bt], w.rm_override[r, rt]]).astype(np.int64)
            ),
        }
    )


def write(config: CustomerSimulationConfig, out: str | os.PathLike[str]) -> tuple[Path, dict]:
    """Simulate and write the three tables and ``truth.json`` into the folder ``out``.

    The folder is staged beside ``out`` and renamed at the end; an existing ``out`` is replaced
    only if it is an earlier simulated source (it holds ``truth.json``) or empty.
    Returns the folder and the truth dictionary.
    """
    config.check()
    target = Path(out)
    if target.suffix.lower() in (".csv", ".parquet"):
        raise InputError(f"--out {target}: --level customer writes a folder, not a file")
    with staged_dir(target, TRUTH, "simulated source", "simulating") as staging:
        truth = _write_into(config, staging)
    return target, truth


def _write_into(c: CustomerSimulationConfig, root: Path) -> dict:
    R, T = c.n_rms, c.n_months
    w = _world(c)
    months = pd.period_range(c.first_month, periods=T + 1, freq="M")
    month_start = (
        months.to_timestamp().to_numpy().astype("datetime64[us]").astype(np.int64)
    )  # T+1 bounds, microseconds
    rm_names = simulation.rm_ids(R)
    for name in ("customer_month", "wecom_contact", "quota"):
        (root / name).mkdir(parents=True)
    tally = Tally()
    binding = BindingTruth()
    rows = {"customer_month": 0, "wecom_contact": 0}
    mark = stamp(c)
    for index, r0 in enumerate(range(0, R, c.chunk_rms)):
        r1 = min(R, r0 + c.chunk_rms)
        cm, wc = _chunk(c, w, index, r0, r1, month_start, rm_names, tally, binding)
        for name, table in (("customer_month", cm), ("wecom_contact", wc)):
            pq.write_table(
                provenance.stamp_arrow(table, mark),
                root / name / f"part-{index:05d}.parquet",
                compression="zstd",
            )
        rows["customer_month"] += cm.num_rows
        rows["wecom_contact"] += wc.num_rows
    quota = _quota_table(c, w, rm_names)
    pq.write_table(provenance.stamp_arrow(quota, mark), root / "quota" / "part-00000.parquet")
    rows["quota"] = quota.num_rows
    text = json.dumps(
        truth(c, w, tally, rows, binding), indent=2, sort_keys=True, ensure_ascii=False
    )
    (root / TRUTH).write_text(text + "\n", encoding="utf-8")
    return json.loads(text)
