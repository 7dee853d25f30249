"""A simulated RM × month export with known true effects (the ``rm_month`` schema).

The data-generating process (DGP) has what makes the real question hard:

* **Skill confounds.** Each RM has a skill ``s ~ N(0, 1)``. Skill raises organic adds
  (``Poisson(10·exp(0.45·s − 0.45²/2))`` a month) *and* AUM growth (``0.6%·s`` of the RM's
  book a month). Skilled RMs both add more and grow more, so the pooled correlation of adds and
  AUM change is spurious: **naive pooled OLS is biased upward**, well above both true effects.
* **Staggered rollout.** Quotas come branch by branch: 25% of branches never get one, the rest
  adopt in one of four cohorts spread over the window; the target is 50 (80% of branches) or
  100 adds a month. A static TWFE "quota" dummy mixes cohorts; heterogeneity-robust DiD is needed
  for the policy effect.
* **Partial compliance and bunching.** In a quota month an RM short of target fills up exactly
  to the target with probability ``fill_prob`` (0.7), which makes a spike at the target;
  otherwise they add a random 0–50% of the gap. RMs already above target add nothing extra.
* **Quota-induced adds are worse.** They are certified with probability 0.35, organic ones 0.9.
  Each organic add brings ``beta_organic`` yuan of AUM change that month; each quota-induced add
  ``beta_quota`` yuan. **TWFE** (RM and month fixed effects) with adds on the right-hand side
  mixes the two (mostly quota variation within an RM), so it is an association, not either
  effect. **FE-2SLS with the quota in force as instrument** recovers ``beta_quota``.
* **Heavy tails and scale.** Books are log-normal (median 80 million yuan); monthly shocks are
  Student-t with 3 degrees of freedom, 1.2% of the book.
* **Month effects.** A common yuan amount per month: a January push (开门红), quarter-end
  window dressing and its reversal the month after.
* **More outcomes.** ``net_new_money_cny`` is ``nnm_share`` (0.6) of the per-add AUM effects
  (organic and quota-induced alike) plus half the skill growth and its own t(3) noise;
  ``product_sales_cny`` (≥ 0) is a skill-dependent base of 0.3% of the book plus
  ``sales_organic`` (3,000) yuan per organic add and ``sales_quota`` (0) per quota-induced add,
  plus noise. Their true per-quota-add effects are in the
  truth file.
* **Unbalanced panel.** 3% of RMs move branch once; 5% leave early; 5% join late; 1% miss one
  month (the AUM change after the gap is not observable).

``quota_target`` is the target in force (0 = none). AUM is floored at 0 yuan. The truth file
(``PATH.truth.json``) holds every parameter and the realised first stage (mean quota-induced
adds in quota months) and bunching share.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wb.door import provenance, simulation
from wb.door.arguments import DEFAULTS
from wb.door.atomic import writable_file, write_json
from wb.door.writers import XLSX_MAX_ROWS, write_table
from wb.errors import InputError

SCHEMA = "wb.simulate/1"
#: Size bounds of a simulated export, for ``wb simulate`` and params ``simulate:`` alike: at
#: the largest, about 1.5 GB and a minute on one core.
RMS_RANGE = (20, 200_000)
MONTHS_RANGE = (8, 240)
MAX_ROWS = 5_000_000
#: Fewest branches: a small export still has clusters and a staggered quota rollout.
MIN_BRANCHES = 4
#: A branch's monthly add target: the first for 80% of branches, the second for the rest.
TARGETS = (50, 100)


@dataclass(frozen=True)
class SimulationConfig(simulation.WorldArguments):
    """Arguments of the DGP. Money in yuan (CNY); effects are yuan of monthly AUM change per add."""

    n_rms: int = DEFAULTS.rm_level_rms
    rms_per_branch: int = 20
    organic_mean: float = 10.0
    cert_organic: float = 0.9
    cert_quota: float = 0.35
    book_median_cny: float = 8e7
    shock_scale: float = 0.012
    mover_share: float = 0.03
    leaver_share: float = 0.05
    joiner_share: float = 0.05
    gap_share: float = 0.01
    nnm_share: float = 0.6
    sales_organic: float = 3000.0
    sales_quota: float = 0.0
    #: Shares of quota branches whose target later changes (50 ↔ 100) or whose quota stops
    #: (drawn from a second generator, so the default 0 leaves every other column as it was).
    quota_change_share: float = 0.0
    quota_stop_share: float = 0.0

    def check(self) -> None:
        """Raise :class:`InputError` (exit 2) for arguments the DGP cannot honour."""
        simulation.check_range("--rms", self.n_rms, *RMS_RANGE)
        simulation.check_range("--months", self.n_months, *MONTHS_RANGE)
        if self.n_rms * self.n_months > MAX_ROWS:
            raise InputError(
                f"--rms x --months must be at most {MAX_ROWS:,} rows "
                f"(got {self.n_rms:,} x {self.n_months:,})"
            )
        self.check_world()
        for name in ("quota_change_share", "quota_stop_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be between 0 and 1 (got {getattr(self, name)})")


#: Months after a branch's adoption when its target changes (or its quota stops), drawn
#: uniformly from these bounds (inclusive).
CHANGE_AFTER = (2, 6)
STOP_AFTER = (3, 8)


def branch_targets(
    config: SimulationConfig, adopt: np.ndarray, never: np.ndarray, level: np.ndarray, n_months: int
) -> np.ndarray:
    """Each branch's target in each month (B, T; 0 = no quota): ``level`` from its adoption
    month; a share ``quota_change_share`` of quota branches switch to the other target of
    :data:`TARGETS` :data:`CHANGE_AFTER` months later, a share ``quota_stop_share`` drop the
    quota :data:`STOP_AFTER` months after adoption (a stop ends any change too)."""
    t = np.arange(n_months)[None, :]
    on = adopt[:, None] <= t
    targets = np.where(on, level[:, None], 0)
    if not (config.quota_change_share or config.quota_stop_share):
        return targets
    extra = np.random.default_rng([config.seed, 23])
    n = len(adopt)
    changes = ~never & (extra.random(n) < config.quota_change_share)
    stops = ~never & (extra.random(n) < config.quota_stop_share)
    change_at = adopt + extra.integers(CHANGE_AFTER[0], CHANGE_AFTER[1] + 1, size=n)
    stop_at = adopt + extra.integers(STOP_AFTER[0], STOP_AFTER[1] + 1, size=n)
    other = np.where(level == TARGETS[0], TARGETS[1], TARGETS[0])
    targets = np.where(changes[:, None] & (t >= change_at[:, None]), other[:, None], targets)
    return np.where(stops[:, None] & (t >= stop_at[:, None]), 0, targets)


def dynamic_truth(
    quota: np.ndarray, induced: np.ndarray, beta_quota: float, horizons: int = 12
) -> dict:
    """The true dynamic effects of quota changes (DID_ℓ with the target as treatment): for
    each RM whose target changes from its first-month value, ℓ = 1… months from that first
    change, the mean quota-induced adds and ``beta_quota`` times them (yuan of monthly AUM
    change), over the RMs observed ℓ months on (up to ``horizons``, while any is). Exact when every RM starts without a quota and
    no RM joins, leaves or misses a month (then the baseline kept means no induced adds)."""
    n_t = quota.shape[1]
    differs = quota != quota[:, :1]
    first = np.where(differs.any(axis=1), differs.argmax(axis=1), n_t)
    adds, aum = [], []
    for ell in range(1, horizons + 1):
        at = first + ell - 1
        ok = at < n_t
        if not ok.any():  # no RM is seen this long after a change: the horizons stop here
            break
        mean = float(induced[ok, at[ok]].mean())
        adds.append(mean)
        aum.append(beta_quota * mean)
    return {
        "horizons": list(range(1, len(adds) + 1)),
        "wecom_adds": adds,
        "aum_change_cny": aum,
        "meaning": "l months from an RM's first quota change (l = 1: the change month), "
        "mean quota-induced adds and beta_quota times them",
    }


def simulate(config: SimulationConfig) -> tuple[pd.DataFrame, dict]:
    """Draw one export. Returns the ``rm_month`` frame and the truth dictionary."""
    config.check()
    rng = np.random.default_rng(config.seed)
    R, T = config.n_rms, config.n_months
    months = pd.period_range(config.first_month, periods=T, freq="M")
    t = np.arange(T)

    n_branches = max(MIN_BRANCHES, math.ceil(R / config.rms_per_branch))
    cohorts = simulation.cohort_months(T)
    world = simulation.draw_branches(
        rng, R, T, n_branches, config.never_share, TARGETS, config.mover_share
    )
    never, adopt, target, movers, branch = (
        world.never,
        world.adopt,
        world.level,
        world.movers,
        world.branch,
    )
    if np.unique(adopt).size < 2:  # few branches drew one rollout: keep it staggered
        adopt[:2] = (T + simulation.NEVER, cohorts[0])

    quota = branch_targets(config, adopt, never, target, T)[branch, t[None, :]]
    quota_on = quota > 0

    skill = rng.standard_normal(R)
    organic, induced, fills = simulation.draw_adds(
        rng, skill, quota, months, config.organic_mean, config.skill_on_adds, config.fill_prob
    )
    adds = organic + induced
    certified = rng.binomial(organic, config.cert_organic) + rng.binomial(
        induced, config.cert_quota
    )

    book = config.book_median_cny * np.exp(0.7 * rng.standard_normal(R))
    growth = config.skill_on_growth * skill * book
    shock = rng.standard_t(3, size=(R, T)) * config.shock_scale * book[:, None]
    d_aum = (
        (simulation.month_effect_share(months) * config.book_median_cny)[None, :]
        + growth[:, None]
        + config.beta_organic * organic
        + config.beta_quota * induced
        + shock
    )
    d_aum[:, 0] = 0.0
    aum = np.maximum(book[:, None] + np.cumsum(d_aum, axis=1), 0.0)

    customers = np.round(book / 3e5).astype(int)[:, None] + np.cumsum(
        rng.binomial(organic, 0.5), axis=1
    )

    present = np.ones((R, T), dtype=bool)
    leavers = rng.random(R) < config.leaver_share
    leave_at = rng.integers(T // 2, T, size=R)
    present &= ~(leavers[:, None] & (t[None, :] >= leave_at[:, None]))
    joiners = rng.random(R) < config.joiner_share
    join_at = rng.integers(1, T // 2, size=R)
    present &= ~(joiners[:, None] & (t[None, :] < join_at[:, None]))
    gappers = rng.random(R) < config.gap_share
    gap_at = rng.integers(2, T - 1, size=R)
    present &= ~(gappers[:, None] & (t[None, :] == gap_at[:, None]))

    # Drawn last, so every column above is the same as without these outcomes.
    net_new_money = (
        config.nnm_share * (config.beta_organic * organic + config.beta_quota * induced)
        + 0.5 * growth[:, None]
        + rng.standard_t(3, size=(R, T)) * 0.006 * book[:, None]
    )
    sales = np.maximum(
        0.003 * (1 + 0.3 * skill[:, None]) * book[:, None]
        + config.sales_organic * organic
        + config.sales_quota * induced
        + rng.standard_t(3, size=(R, T)) * 0.001 * book[:, None],
        0.0,
    )

    month_str = months.strftime("%Y-%m").to_numpy()
    keep = present.ravel()
    frame = pd.DataFrame(
        {
            "rm_id": np.repeat(simulation.rm_ids(R), T)[keep],
            "branch_id": simulation.branch_ids(n_branches)[branch.ravel()][keep],
            "month": np.tile(month_str, R)[keep],
            "wecom_adds": adds.ravel()[keep].astype("int64"),
            "wecom_certified_adds": certified.ravel()[keep].astype("int64"),
            "quota_target": quota.ravel()[keep].astype("int64"),
            "aum_cny": np.round(aum.ravel()[keep]).astype("int64"),
            "customers": customers.ravel()[keep].astype("int64"),
            "net_new_money_cny": np.round(net_new_money.ravel()[keep]).astype("int64"),
            "product_sales_cny": np.round(sales.ravel()[keep]).astype("int64"),
        }
    )

    in_quota = quota_on & present & (organic < quota)
    truth = {
        "schema": SCHEMA,
        "arguments": asdict(config),
        "true_effects": {
            "beta_quota_cny_per_add": config.beta_quota,
            "beta_organic_cny_per_add": config.beta_organic,
            "meaning": "yuan of monthly AUM change per WeCom add, quota-induced vs organic",
            "dynamic": dynamic_truth(quota, induced, config.beta_quota),
            "per_quota_add": {
                "aum_change_cny": config.beta_quota,
                "net_new_money_cny": config.nnm_share * config.beta_quota,
                "product_sales_cny": config.sales_quota,
            },
        },
        "design": {
            "n_branches": int(n_branches),
            "cohort_months": [months[c].strftime("%Y-%m") for c in cohorts if c < T],
            "never_treated_branches": int(never.sum()),
            "targets": {str(k): int((target == k).sum()) for k in TARGETS},
            "movers": int(movers.sum()),
            "leavers": int(leavers.sum()),
            "joiners": int(joiners.sum()),
            "one_month_gaps": int(gappers.sum()),
            "rms_whose_target_changes": int(
                ((quota[:, :-1] > 0) & (quota[:, 1:] > 0) & (quota[:, :-1] != quota[:, 1:]))
                .any(axis=1)
                .sum()
            ),
            "rms_whose_quota_stops": int(
                ((quota[:, :-1] > 0) & (quota[:, 1:] == 0)).any(axis=1).sum()
            ),
        },
        "realised": {
            "rows": len(frame),
            "mean_organic_adds": float(organic[present].mean()),
            "first_stage_adds_per_quota_month": float(induced[quota_on & present].mean()),
            "quota_rm_months": int((quota_on & present).sum()),
            "bunching_share_at_target": float(
                ((adds == quota) & in_quota).sum() / max(1, (quota_on & present).sum())
            ),
            "fill_share_of_short_rm_months": float(fills[in_quota].mean())
            if in_quota.any()
            else None,
            "certified_share_organic": config.cert_organic,
            "certified_share_quota": config.cert_quota,
        },
        "expected_bias": {
            "naive_ols": "upward: skill raises both adds and AUM growth",
            "twfe": "between beta_quota and beta_organic, near beta_quota: within an RM most "
            "variation in adds is quota-induced; an association, not a per-add value",
            "iv_quota": "none (exclusion holds by construction): recovers beta_quota",
        },
    }
    return frame, truth


def truth_path(out: Path) -> Path:
    """Where the truth file of an export at ``out`` goes: ``out`` + ``.truth.json``."""
    return out.with_name(out.name + ".truth.json")


def stamp(truth: dict) -> dict:
    """The provenance stamp of an export (:mod:`wb.door.provenance`): simulator, seed and
    true effects, taken from its truth dictionary."""
    return provenance.make(SCHEMA, "rm", truth["arguments"]["seed"], truth["true_effects"])


def write(config: SimulationConfig, out: str | os.PathLike[str]) -> tuple[Path, Path, pd.DataFrame]:
    """Simulate and write the export (CSV, Parquet or XLSX by suffix) and its truth file,
    atomically. The export is stamped simulated (:func:`stamp`): it says so wherever it is
    copied, without its truth file."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".xlsx"):
        raise InputError(f"--out {path}: expected a .csv, .parquet or .xlsx path")
    config.check()
    if suffix == ".xlsx" and config.n_rms * config.n_months > XLSX_MAX_ROWS:
        raise InputError(
            f"--rms x --months must be at most {XLSX_MAX_ROWS:,} rows for an .xlsx export "
            f"(got {config.n_rms:,} x {config.n_months:,}); write .parquet or .csv"
        )
    writable_file(path)
    frame, truth = simulate(config)
    write_table(frame, path, stamp=stamp(truth))
    tpath = write_json(truth, truth_path(path), sort_keys=True)
    return path, tpath, frame
