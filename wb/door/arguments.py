"""Checks of command and params arguments shared by both simulators (RM and customer level):
each bad value is an :class:`~wb.errors.InputError` (exit 2) naming the option and the bound."""

from __future__ import annotations

import math

import pandas as pd

from wb.errors import InputError

#: The largest true effect a simulator accepts, yuan per add (either sign).
MAX_EFFECT_CNY = 1e8


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
        pd.Period(first_month, freq="M")
    except ValueError as exc:
        raise InputError(f"first month must be YYYY-MM (got {first_month!r})") from exc
