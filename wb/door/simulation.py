"""What the two simulators share: the RM-level export (:mod:`wb.uplift.simulate`) and the
customer-level warehouse (:mod:`wb.warehouse.simulate`) draw the same world, and the two may
not import each other.

The shared pieces: the size checks, the branches' staggered quota rollout and RMs' branch
moves, the month effects, each RM-month's organic and quota-induced adds (fill to target) and
the RM and branch ids. Each function draws from the generator it is given in a fixed order, so
the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from wb.door.arguments import DEFAULTS, check_dgp
from wb.errors import InputError

#: A cohort's adoption month never comes before this many months of the window (pre-periods).
MIN_PRE_MONTHS = 3
#: Adoption month of a branch that never gets a quota: beyond any window.
NEVER = 10_000


@dataclass(frozen=True)
class WorldArguments:
    """The arguments both simulators take (each adds its own): the window, the seed, the true
    effects (yuan of monthly AUM change per organic / quota-induced add), the quota rollout's
    never-treated share, the fill-to-target probability and the RM skill's pull on adds and on
    AUM growth (a share of the book a month per standard deviation)."""

    n_months: int = DEFAULTS.n_months
    seed: int = DEFAULTS.seed
    beta_quota: float = DEFAULTS.beta_quota
    beta_organic: float = DEFAULTS.beta_organic
    first_month: str = DEFAULTS.first_month
    never_share: float = 0.25
    fill_prob: float = 0.7
    skill_on_adds: float = 0.45
    skill_on_growth: float = 0.006

    def check_world(self) -> None:
        """Raise :class:`InputError` (exit 2) for a bad seed, effect or first month."""
        check_dgp(
            self.seed,
            {"beta_quota": self.beta_quota, "beta_organic": self.beta_organic},
            self.first_month,
        )


def check_range(option: str, value: int, low: int, high: int) -> None:
    """Raise :class:`InputError` (exit 2) unless ``low <= value <= high``, naming ``option``."""
    if not low <= value <= high:
        raise InputError(f"{option} must be at least {low:,} and at most {high:,} (got {value:,})")


def cohort_months(n_months: int) -> list[int]:
    """Adoption months (0-based) of the four cohorts, spread over the window, each with at
    least :data:`MIN_PRE_MONTHS` pre-periods."""
    return sorted({max(MIN_PRE_MONTHS, round(n_months * f)) for f in (0.35, 0.5, 0.65, 0.8)})


def month_effect_share(months: pd.PeriodIndex) -> np.ndarray:
    """The common monthly AUM change of each month as a share of a book: a January push
    (开门红, +2%), quarter-end window dressing (+1%) and its reversal the month after (−0.8%)."""
    m = months.month.to_numpy()
    return (
        np.where(m == 1, 0.02, 0.0)
        + np.where(m % 3 == 0, 0.01, 0.0)
        - np.where((m % 3 == 1) & (m != 1), 0.008, 0.0)
    )


@dataclass(frozen=True)
class Branches:
    """The branches' quota rollout and the RMs' branches: ``home`` (R,) each RM's first branch,
    ``never`` (B,) branches that never get a quota, ``adopt`` (B,) each branch's adoption month
    (0-based; :data:`NEVER` when never), ``level`` (B,) its target (adds a month), ``movers``
    (R,) RMs that change branch once and ``branch`` (R, T) each RM's branch in each month."""

    home: np.ndarray
    never: np.ndarray
    adopt: np.ndarray
    level: np.ndarray
    movers: np.ndarray
    branch: np.ndarray


def draw_branches(
    rng: np.random.Generator,
    n_rms: int,
    n_months: int,
    n_branches: int,
    never_share: float,
    targets: tuple[int, int],
    mover_share: float,
) -> Branches:
    """Draw the rollout: a share ``never_share`` of branches never gets a quota, the others
    adopt in one of the :func:`cohort_months`; a branch's target is ``targets[0]`` (80%) or
    ``targets[1]``; a share ``mover_share`` of RMs moves to another branch once."""
    R, T, B = n_rms, n_months, n_branches
    t = np.arange(T)
    home = rng.permutation(np.arange(R) % B)
    never = rng.random(B) < never_share
    adopt = np.where(never, T + NEVER, rng.choice(cohort_months(T), size=B))
    level = np.where(rng.random(B) < 0.8, targets[0], targets[1])
    movers = rng.random(R) < mover_share
    move_at = rng.integers(1, T, size=R)
    new = (home + rng.integers(1, B, size=R)) % B
    moved = movers[:, None] & (t[None, :] >= move_at[:, None])
    branch = np.where(moved, new[:, None], home[:, None])
    return Branches(home, never, adopt, level, movers, branch)


def draw_adds(
    rng: np.random.Generator,
    skill: np.ndarray,
    target: np.ndarray,
    months: pd.PeriodIndex,
    organic_mean: float,
    skill_on_adds: float,
    fill_prob: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each RM-month's adds, for RMs of ``skill`` (R,) under the quota ``target`` (R, T; 0 =
    none) over ``months``: organic adds are Poisson with mean
    ``organic_mean·exp(skill_on_adds·s − skill_on_adds²/2)`` (15% more in January); an RM short
    of its target fills up to it exactly with probability ``fill_prob``, else adds a random
    0–50% of the gap. Returns ``(organic, induced, fills)``, each (R, T)."""
    season = np.where(months.month.to_numpy() == 1, 1.15, 1.0)
    lam = organic_mean * np.exp(skill_on_adds * skill - skill_on_adds**2 / 2)
    organic = rng.poisson(lam[:, None] * season[None, :])
    gap = np.maximum(target - organic, 0)
    fills = rng.random(target.shape) < fill_prob
    partial = np.floor(gap * rng.uniform(0.0, 0.5, size=target.shape)).astype(int)
    induced = np.where(target > 0, np.where(fills, gap, partial), 0)
    return organic, induced, fills


def rm_ids(n_rms: int) -> np.ndarray:
    """RM ids ``RM00001`` ... (at least five digits, more when there are more RMs)."""
    width = max(5, len(str(n_rms)))
    return np.array([f"RM{i + 1:0{width}d}" for i in range(n_rms)])


def branch_ids(n_branches: int) -> np.ndarray:
    """Branch ids ``BR0001`` ..."""
    return np.array([f"BR{b + 1:04d}" for b in range(n_branches)])
