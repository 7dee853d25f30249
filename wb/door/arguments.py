"""Arguments both simulators (RM and customer level) share: their defaults, read by the
simulators, ``wb simulate`` and the params files (one home), and their checks, each bad value
an :class:`~wb.errors.InputError` (exit 2) naming the option and the bound.

Kept free of heavy imports: the command line reads the defaults when it starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from wb.errors import InputError

#: The largest true effect a simulator accepts, yuan per add (either sign).
MAX_EFFECT_CNY = 1e8


@dataclass(frozen=True)
class SimulationDefaults:
    """Default arguments of the simulators. Money in yuan of monthly AUM change per add."""

    n_months: int = 24
    seed: int = 1
    beta_quota: float = 0.0
    beta_organic: float = 20_000.0
    first_month: str = "2024-01"
    #: RMs of an RM x month export, and of a customer-level warehouse source.
    rm_level_rms: int = 2000
    customer_level_rms: int = 200
    customers_per_rm: int = 40


DEFAULTS = SimulationDefaults()


def check_dgp(seed: int, effects: dict[str, float], first_month: str) -> None:
    """A seed ≥ 0, finite effects within ±:data:`MAX_EFFECT_CNY` yuan (keyed by option name,
    e.g. ``beta_quota``) and a first month written ``YYYY-MM``."""
    if seed < 0:
        raise InputError(f"--seed must be >= 0 (got {seed})")
    for name, value in effects.items():
        if not math.isfinite(value) or abs(value) > MAX_EFFECT_CNY:
            raise InputError(
                f"--{name.replace('_', '-')} must be a finite yuan amount within "
                f"±{MAX_EFFECT_CNY:g} (got {value})"
            )
    try:
        datetime.strptime(first_month, "%Y-%m")
    except (TypeError, ValueError) as exc:
        raise InputError(f"first month must be YYYY-MM (got {first_month!r})") from exc
