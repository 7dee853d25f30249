"""Arguments: the defaults both simulators (RM and customer level) share, read by the
simulators, ``wb simulate`` and the params files (one home); their checks; and a notebook's
parameters. Each bad value is an :class:`~wb.errors.InputError` (exit 2) naming the option or
parameter and what it must be.

Kept free of heavy imports: the command line reads the defaults when it starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def _type_name(kind: Any) -> str:
    return kind.__name__ if isinstance(kind, type) else str(kind).replace("typing.", "")


def check_parameters(namespace: dict[str, Any]) -> None:
    """Check a notebook's parameters, in place, against the types its parameters cell declares
    (``period: str = "H1 2025"``): a value papermill or ``wb run`` injected with another type is
    converted when that is unambiguous (``-p period 2024`` → ``"2024"``, then the period's own
    name check applies), else an :class:`~wb.errors.InputError` names the parameter, the type
    it needs and the value given. Call it with ``globals()`` right after the parameters cell."""
    from pydantic import ConfigDict, TypeAdapter, ValidationError

    config = ConfigDict(coerce_numbers_to_str=True)
    for name, kind in namespace.get("__annotations__", {}).items():
        if name not in namespace:
            continue
        value = namespace[name]
        try:
            namespace[name] = TypeAdapter(kind, config=config).validate_python(value)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise InputError(
                f"parameter {name}: expected {_type_name(kind)}, got {value!r} "
                f"({type(value).__name__}): {reason}"
            ) from exc
