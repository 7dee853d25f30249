"""Difference-in-bunching at each RM's monthly WeCom-add quota target (docs/methods.md,
"Designs a referee asks for").

For every RM-month the running variable is ``z = adds − Q`` (adds a month minus the target):

* in **quota months** (``quota_target > 0``) Q is the target in force that month, so an RM whose
  target changes is measured against the target it faced;
* in the same RM's **pre-quota months** (before its first quota month) Q is the first target it
  later receives. This pre-quota distribution is the counterfactual density: round-number heaping
  at 50 or 100 adds, which exists without any quota, cancels out.

Months with no quota after an RM's first quota month (it moved to a branch without one) are
in neither period. RMs with a quota but no pre-quota month (they joined after the rollout) are
dropped and counted. Never-treated RMs (no quota in any month) do not enter the bunching
comparison; they only supply the common month trend of the DiD first stage.

Pre-quota months are reweighted so that each RM counts as often as it has quota months: RM i's
counterfactual count in the window is ``n_quota_i × c_pre_i / n_pre_i``. This makes the
comparison within RM even when early-adopting cohorts have few pre months and many quota months.

The cluster bootstrap resamples RMs with replacement (multinomial counts per RM, computed on
per-RM sums, no loop over RMs); never-treated RMs are resampled as a separate stratum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from wb.door.calendar import month_index
from wb.door.display import Shown, finite
from wb.errors import InputError, NoNeverTreated, NotIdentified

REQUIRED = ("rm_id", "month", "wecom_adds", "quota_target")
FirstStage = Literal["did", "pre_post"]
_CHUNK = 4_000_000  # bootstrap weights drawn per block: reps × RMs ≤ this (≈ 32 MB each)


@dataclass(frozen=True)
class Placebo:
    """Excess share at a placebo threshold: the bunching window shifted by ``offset`` adds."""

    offset: int
    excess_share: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Bunching(Shown):
    """Difference-in-bunching at the quota target.

    Shares are fractions of quota RM-months; ``excess_mass`` is in RM-months; manufactured adds
    are WeCom adds per quota RM-month (``manufactured_total``: adds in all quota RM-months used).
    Intervals are 95% percentile intervals of the RM cluster bootstrap.
    """

    excess_share: float
    ci_low: float
    ci_high: float
    excess_mass: float
    manufactured_adds: float
    manufactured_ci_low: float
    manufactured_ci_high: float
    manufactured_total: float
    first_stage: FirstStage
    placebo: tuple[Placebo, ...]
    n_rms: int
    n_rms_without_pre: int
    n_never_treated_rms: int
    n_quota_rm_months: int
    n_pre_rm_months: int
    window: tuple[int, int]
    n_boot: int
    seed: int
    histogram: pd.DataFrame = field(compare=False, repr=False)

    @property
    def significant(self) -> bool:
        """True when the 95% interval of the excess share lies above 0."""
        return self.ci_low > 0

    @property
    def where(self) -> str:
        """The bunching window in words."""
        lo, hi = self.window
        if lo == hi == 0:
            return "exactly at the target"
        return f"within {lo:+d} to {hi:+d} adds of the target"

    @property
    def text(self) -> str:
        """The finding in one plain-English sentence with its numbers."""
        share = (
            f"{_pct(self.excess_share)} of quota RM-months (95% CI {_pct(self.ci_low)} to "
            f"{_pct(self.ci_high)}, about {self.excess_mass + 0.0:,.0f} RM-months) sit "
            f"{self.where} beyond the same RMs' pre-quota share"
        )
        lead = share if self.significant else f"No detectable bunching: {share}"
        return (
            f"{lead}; the quota manufactured {self.manufactured_adds:.1f} WeCom adds per quota "
            f"RM-month (95% CI {self.manufactured_ci_low:.1f} to "
            f"{self.manufactured_ci_high:.1f}), {self.manufactured_total:,.0f} adds in all."
        )

    def tidy(self) -> pd.DataFrame:
        """One row per statistic: ``statistic``, ``estimate``, ``ci_low``, ``ci_high``,
        ``unit``: the excess share at the target and at each placebo offset (fractions of
        quota RM-months) and the manufactured adds (adds per quota RM-month)."""
        share = "share of quota RM-months"
        rows = [
            ("excess_share", self.excess_share, self.ci_low, self.ci_high, share),
            *(
                (f"placebo_{p.offset:+d}", p.excess_share, p.ci_low, p.ci_high, share)
                for p in self.placebo
            ),
            (
                "manufactured_adds",
                self.manufactured_adds,
                self.manufactured_ci_low,
                self.manufactured_ci_high,
                "adds per quota RM-month",
            ),
        ]
        return pd.DataFrame(rows, columns=["statistic", "estimate", "ci_low", "ci_high", "unit"])

    def summary(self) -> str:
        return (
            f"Bunching {self.where}: {self.text}\n"
            f"{self.n_rms:,} RMs with pre-quota months ({self.n_rms_without_pre:,} without "
            f"were dropped), {self.n_never_treated_rms:,} never under a quota; first stage "
            f"{self.first_stage}; 95% intervals from {self.n_boot:,} RM cluster-bootstrap draws."
        )

    def to_json(self) -> dict:
        """A JSON-safe dict (no NaN: non-finite numbers become None); the histogram is left out."""
        return {
            **finite(
                excess_share=self.excess_share,
                ci_low=self.ci_low,
                ci_high=self.ci_high,
                excess_mass=self.excess_mass,
                manufactured_adds=self.manufactured_adds,
                manufactured_ci_low=self.manufactured_ci_low,
                manufactured_ci_high=self.manufactured_ci_high,
                manufactured_total=self.manufactured_total,
            ),
            "first_stage": self.first_stage,
            "placebo": [
                {
                    "offset": p.offset,
                    **finite(excess_share=p.excess_share, ci_low=p.ci_low, ci_high=p.ci_high),
                }
                for p in self.placebo
            ],
            "n_rms": self.n_rms,
            "n_rms_without_pre": self.n_rms_without_pre,
            "n_never_treated_rms": self.n_never_treated_rms,
            "n_quota_rm_months": self.n_quota_rm_months,
            "n_pre_rm_months": self.n_pre_rm_months,
            "window": list(self.window),
            "n_boot": self.n_boot,
            "seed": self.seed,
            "text": self.text,
        }


@dataclass(frozen=True)
class _Months:
    """The RM-months of the comparison, from the whole validated frame (not the AUM sample: an
    RM's first month and the months after a gap have no AUM change, but their adds count).
    Rows of the RMs used (quota and pre-quota months) and never-treated rows, as arrays."""

    rm: np.ndarray  # 0..n_rms−1
    month: np.ndarray  # 0..n_months−1
    z: np.ndarray  # adds − target (adds/month)
    adds: np.ndarray
    in_quota: np.ndarray  # True: quota month; False: pre-quota month
    n_quota: np.ndarray  # quota months per RM
    ratio: np.ndarray  # quota months / pre-quota months, per RM
    never_rm: np.ndarray  # 0..n_never−1
    never_month: np.ndarray
    never_adds: np.ndarray
    n_never: int
    n_months: int
    n_rms_without_pre: int


@dataclass(frozen=True)
class _Parts:
    """Per-RM sums from which every statistic is a ratio of weighted sums over RMs."""

    numerators: np.ndarray  # (n_rms, k): window counts in excess of counterfactual, then adds
    n_quota: np.ndarray  # (n_rms,)
    trend: np.ndarray | None  # (n_rms, n_months): quota − reweighted pre months, DiD only
    never_sums: np.ndarray | None  # (n_never, n_months): adds of never-treated RMs
    never_counts: np.ndarray | None  # (n_never, n_months): their RM-months


def bunching(
    frame: pd.DataFrame,
    *,
    window: tuple[int, int] = (0, 0),
    n_boot: int = 300,
    seed: int = 0,
    first_stage: FirstStage = "did",
    placebo_offsets: tuple[int, ...] = (-5, 5),
    z_range: tuple[int, int] = (-60, 40),
) -> Bunching:
    """Excess mass of monthly WeCom adds at each RM's quota target, and the adds it manufactured.

    ``window`` is the bunching region in adds relative to the target, inclusive (default: exactly
    at the target). The excess share is the share of quota RM-months in the window minus the
    same RMs' (reweighted) pre-quota share in the window.

    Manufactured adds per quota RM-month compare mean adds in quota months with the same RMs'
    pre-quota mean. ``first_stage="pre_post"`` assumes organic adds have no trend or seasonality
    between an RM's pre-quota and quota months. ``"did"`` (default) also subtracts the change in
    never-treated RMs' mean adds over the same calendar months, so a common trend (WeCom take-up
    growing, the January 开门红 push) is not counted as manufactured; it assumes parallel trends
    in organic adds and needs never-treated RMs in every month used.

    ``placebo_offsets`` shift the window by that many adds (should give ≈ 0); ``z_range`` is the
    range of the histogram table. Raises :class:`~wb.errors.InputError` on unusable input.
    """
    _check_arguments(window, n_boot, first_stage, placebo_offsets, z_range)
    rm_months = _rm_months(frame)
    windows = [window] + [(window[0] + o, window[1] + o) for o in placebo_offsets]
    parts = _parts(rm_months, windows, first_stage)
    point = _statistics(parts, np.ones((1, len(rm_months.n_quota))), _never_weights(parts, 1))[0]
    if not np.isfinite(point).all():
        raise NoNeverTreated(
            "first_stage='did' needs never-treated RMs (no quota in any month) observed in "
            "every month with treated RM-months; pass first_stage='pre_post' instead"
        )
    low, high = _bootstrap(parts, n_boot, seed)
    n_quota = int(rm_months.n_quota.sum())
    return Bunching(
        excess_share=float(point[0]),
        ci_low=float(low[0]),
        ci_high=float(high[0]),
        excess_mass=float(point[0] * n_quota),
        manufactured_adds=float(point[-1]),
        manufactured_ci_low=float(low[-1]),
        manufactured_ci_high=float(high[-1]),
        manufactured_total=float(point[-1] * n_quota),
        first_stage=first_stage,
        placebo=tuple(
            Placebo(o, float(point[j]), float(low[j]), float(high[j]))
            for j, o in enumerate(placebo_offsets, start=1)
        ),
        n_rms=len(rm_months.n_quota),
        n_rms_without_pre=rm_months.n_rms_without_pre,
        n_never_treated_rms=rm_months.n_never,
        n_quota_rm_months=n_quota,
        n_pre_rm_months=int((~rm_months.in_quota).sum()),
        window=(int(window[0]), int(window[1])),
        n_boot=n_boot,
        seed=seed,
        histogram=_histogram(rm_months, z_range),
    )


def _check_arguments(
    window: tuple[int, int],
    n_boot: int,
    first_stage: str,
    placebo_offsets: tuple[int, ...],
    z_range: tuple[int, int],
) -> None:
    lo, hi = window
    if lo > hi:
        raise InputError(f"window must be (low, high) with low <= high (got {window})")
    if n_boot < 20:
        raise InputError(f"n_boot must be at least 20 bootstrap replications (got {n_boot})")
    if first_stage not in ("did", "pre_post"):
        raise InputError(f"first_stage must be 'did' or 'pre_post' (got {first_stage!r})")
    if any(abs(o) <= hi - lo for o in placebo_offsets):
        raise InputError(
            f"placebo offsets {placebo_offsets} must move the window {window} clear of itself "
            f"(|offset| > {hi - lo})"
        )
    if z_range[0] > z_range[1]:
        raise InputError(f"z_range must be (low, high) with low <= high (got {z_range})")


def _rm_months(frame: pd.DataFrame) -> _Months:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"rm_month frame lacks column(s) {missing} needed for bunching")
    target = frame["quota_target"].to_numpy(dtype=np.int64)
    in_quota = target > 0
    if not in_quota.any():
        raise NotIdentified(
            "no quota months: quota_target is 0 in every RM-month, so there is no target "
            "to bunch at"
        )
    codes, uniques = pd.factorize(frame["rm_id"])
    month = month_index(frame["month"]).to_numpy()
    month = month - month.min()
    adds = frame["wecom_adds"].to_numpy(dtype=np.int64)
    first_month, first_target = _first_quota(
        codes[in_quota], month[in_quota], target[in_quota], len(uniques)
    )
    treated = first_target > 0
    pre = treated[codes] & (month < first_month[codes])
    n_quota = np.bincount(codes[in_quota], minlength=len(uniques))
    n_pre = np.bincount(codes[pre], minlength=len(uniques))
    use = (n_quota > 0) & (n_pre > 0)
    if not use.any():
        raise NotIdentified(
            "no pre-quota months: every RM with a quota has it from its first month in the "
            "data, so the same RMs' distribution before the quota cannot be the counterfactual"
        )
    keep = (in_quota | pre) & use[codes]
    position = np.cumsum(use) - 1
    never = ~treated[codes]
    never_position = np.cumsum(~treated) - 1
    return _Months(
        rm=position[codes[keep]],
        month=month[keep],
        z=adds[keep] - np.where(in_quota, target, first_target[codes])[keep],
        adds=adds[keep],
        in_quota=in_quota[keep],
        n_quota=n_quota[use],
        ratio=n_quota[use] / n_pre[use],
        never_rm=never_position[codes[never]],
        never_month=month[never],
        never_adds=adds[never],
        n_never=int((~treated).sum()),
        n_months=int(month.max()) + 1,
        n_rms_without_pre=int((treated & ~use).sum()),
    )


def _first_quota(
    rm: np.ndarray, month: np.ndarray, target: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per RM: index of its first quota month and the target then (0 = never treated)."""
    order = np.lexsort((month, rm))
    rm, month, target = rm[order], month[order], target[order]
    first = np.r_[True, rm[1:] != rm[:-1]]
    first_month = np.full(n, np.iinfo(np.int64).max)
    first_target = np.zeros(n, dtype=np.int64)
    first_month[rm[first]] = month[first]
    first_target[rm[first]] = target[first]
    return first_month, first_target


def _parts(rm_months: _Months, windows: list[tuple[int, int]], first_stage: str) -> _Parts:
    n = len(rm_months.n_quota)
    # Each RM's quota months count +1, its pre-quota months −n_quota/n_pre: the excess over
    # the RM's own pre-quota rate.
    weight = np.where(rm_months.in_quota, 1.0, -rm_months.ratio[rm_months.rm])
    columns = [((rm_months.z >= lo) & (rm_months.z <= hi)) * weight for lo, hi in windows]
    columns.append(rm_months.adds * weight)
    numerators = np.column_stack(
        [np.bincount(rm_months.rm, weights=c, minlength=n) for c in columns]
    )
    if first_stage == "pre_post":
        return _Parts(numerators, rm_months.n_quota, None, None, None)
    cells = rm_months.rm * rm_months.n_months + rm_months.month
    trend = np.bincount(cells, weights=weight, minlength=n * rm_months.n_months)
    n_never = rm_months.n_never
    never_cells = rm_months.never_rm * rm_months.n_months + rm_months.never_month
    size = n_never * rm_months.n_months
    shape = (n_never, rm_months.n_months)
    return _Parts(
        numerators,
        rm_months.n_quota,
        trend.reshape(n, rm_months.n_months),
        np.bincount(never_cells, weights=rm_months.never_adds, minlength=size).reshape(shape),
        np.bincount(never_cells, minlength=size).reshape(shape).astype(np.float64),
    )


def _statistics(parts: _Parts, w: np.ndarray, w_never: np.ndarray | None) -> np.ndarray:
    """Excess shares (one per window) and manufactured adds under RM weights ``w`` (reps × RMs)."""
    denominator = w @ parts.n_quota
    out = (w @ parts.numerators) / denominator[:, None]
    if parts.trend is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            month_mean = (w_never @ parts.never_sums) / (w_never @ parts.never_counts)
        used = parts.trend.any(axis=0)
        out[:, -1] -= ((w @ parts.trend)[:, used] * month_mean[:, used]).sum(axis=1) / denominator
    return out


def _never_weights(parts: _Parts, reps: int) -> np.ndarray | None:
    return None if parts.never_sums is None else np.ones((reps, len(parts.never_sums)))


def _bootstrap(parts: _Parts, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """2.5% and 97.5% percentiles of the statistics over RM cluster-bootstrap replications."""
    rng = np.random.default_rng(seed)
    n = len(parts.n_quota)
    n_never = 0 if parts.never_sums is None else len(parts.never_sums)
    block = max(1, _CHUNK // (n + n_never))
    draws = []
    for start in range(0, n_boot, block):
        reps = min(block, n_boot - start)
        w = _resample_counts(rng, n, reps)
        w_never = _resample_counts(rng, n_never, reps) if n_never else None
        draws.append(_statistics(parts, w, w_never))
    low, high = np.nanpercentile(np.concatenate(draws), [2.5, 97.5], axis=0)
    return low, high


def _resample_counts(rng: np.random.Generator, n: int, reps: int) -> np.ndarray:
    """How often each of ``n`` RMs is drawn in each of ``reps`` resamples of ``n`` with
    replacement (multinomial counts; one bincount per replication, none per RM)."""
    draws = rng.integers(0, n, size=(reps, n))
    return np.stack([np.bincount(row, minlength=n) for row in draws]).astype(np.float64)


def _histogram(rm_months: _Months, z_range: tuple[int, int]) -> pd.DataFrame:
    """Tidy table: z (adds − target), period, share of the period's RM-months (pre-quota months
    reweighted like the estimator, so quota − pre_quota shares at z = 0 give the excess share),
    and n (unweighted RM-months). RM-months outside ``z_range`` are not listed."""
    lo, hi = z_range
    z = np.arange(lo, hi + 1)
    total = rm_months.n_quota.sum()
    weight = np.where(rm_months.in_quota, 1.0, rm_months.ratio[rm_months.rm])
    inside = (rm_months.z >= lo) & (rm_months.z <= hi)
    tables = []
    for period, rows in (("pre_quota", ~rm_months.in_quota), ("quota", rm_months.in_quota)):
        sel = rows & inside
        bins = rm_months.z[sel] - lo
        tables.append(
            pd.DataFrame(
                {
                    "z": z,
                    "period": period,
                    "share": np.bincount(bins, weights=weight[sel], minlength=len(z)) / total,
                    "n": np.bincount(bins, minlength=len(z)),
                }
            )
        )
    return pd.concat(tables, ignore_index=True)


def _pct(fraction: float) -> str:
    """'12.3%', without a negative zero ('-0.0%')."""
    return f"{round(fraction, 3) + 0.0:.1%}"
