"""How wb states a bank figure anywhere (sentences, captions, tables, bar labels): the value in
its unit (亿元/万亿元, 万/亿 persons, percent, percentage points), its qualifier (≥, ≈, ≤) and its
status mark, in one place; and the qualifier a derived figure inherits from its inputs."""

from __future__ import annotations

import math
from collections.abc import Sequence

from wb.door.bank_schemas import CHANGE_SUFFIXES, SHARE_SUFFIXES

#: Shown before a number: the qualifier applies to the number's magnitude (超30% down = ≤ −30%).
QUALIFIER_SYMBOL = {"exact": "", "about": "≈", "over": "≥", "under": "≤"}
_FLIPPED = {"≥": "≤", "≤": "≥"}


#: Metrics counted in persons (shown in 万/亿), not yuan.
PERSON_METRICS = ("retail_customers", "wecom_connected", "wecom_daily_adds", "wecom_cloud_studio")


def value_kind(metric: str) -> str:
    """How a metric's value reads (:func:`display_value`'s ``kind``): ``"share"`` for
    fractions of a whole, ``"points"`` for a change of a share (percentage points),
    ``"change"`` for growth rates, ``"count"`` for persons, ``"ratio"`` for a plain multiple,
    else ``"level"`` (yuan)."""
    if metric.endswith("_pp_yoy"):
        return "points"
    if metric.endswith(SHARE_SUFFIXES):
        return "share"
    if metric.endswith("_multiple"):
        return "ratio"
    if metric.endswith(CHANGE_SUFFIXES) or "_growth" in metric:
        return "change"
    if metric.startswith(PERSON_METRICS):
        return "count"
    return "level"


#: The mark an unverified figure carries wherever it is stated: sentences, captions, tables,
#: bar labels (docs/data.md, ``status``).
UNVERIFIED_MARK = "[未核实 unverified]"
#: Most decimals of a percent shown: a printed 65.15% keeps both, a derived 38.7227% shows 38.7%.
MAX_PERCENT_DIGITS = 2


def printed_digits(percent: float) -> int:
    """Decimals a percent needs to be shown as printed: the fewest (at least one, at most
    :data:`MAX_PERCENT_DIGITS`) that hold it exactly (``65.15`` → 2, ``51.4`` → 1); a value that
    no such rounding holds (a derived ratio) gets one."""
    for digits in range(1, MAX_PERCENT_DIGITS + 1):
        if abs(round(percent, digits) - percent) < 1e-9:
            return digits
    return 1


def display_value(
    value: float,
    qualifier: str = "exact",
    kind: str = "level",
    digits: int | None = None,
    status: str = "ok",
) -> str:
    """A figure as wb states it anywhere: value, qualifier and status → text, in one place.

    Parameters
    ----------
    value
        Canonical units: yuan, persons, or a fraction for ``kind`` ``"share"``/``"change"``.
    qualifier
        ``exact``, ``over``, ``about`` or ``under``; it bounds the magnitude, so a fall of
        "over 30%" (``-0.30``, ``over``) shows as ``≤-30.0%``: ``≥`` over (超), ``≈`` about
        (近/约), ``≤`` under.
    kind
        ``"level"`` (money in 亿元/万亿元), ``"count"`` (万/亿 persons), ``"share"`` (percent),
        ``"change"`` (signed percent), ``"points"`` (signed percentage points) or ``"ratio"``.
    digits
        Decimals of a percent; ``None`` keeps the printed precision (:func:`printed_digits`).
    status
        ``unverified`` appends :data:`UNVERIFIED_MARK`.

    Returns
    -------
    str
        ``"无数据 n/a"`` for a missing value.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "无数据 n/a"
    symbol = QUALIFIER_SYMBOL[qualifier or "exact"]
    if value < 0:
        symbol = _FLIPPED.get(symbol, symbol)
    if kind in ("share", "change", "points"):
        places = printed_digits(value * 100) if digits is None else digits
        sign = "" if kind == "share" else "+"
        text = f"{value * 100:{sign}.{places}f}" + ("pp" if kind == "points" else "%")
    elif kind == "count":
        text = f"{value / 1e8:,.2f}亿" if abs(value) >= 1e8 else f"{value / 1e4:,.1f}万"
    elif kind == "ratio":
        text = f"{value:,.2f}×"
    elif abs(value) >= 1e12:
        text = f"{value / 1e12:,.2f}万亿元"
    else:
        text = f"{value / 1e8:,.2f}亿元"
    mark = f" {UNVERIFIED_MARK}" if status == "unverified" else ""
    return f"{symbol}{text}{mark}"


def signed_bound(value: float, qualifier: str) -> int:
    """Which way a figure's qualifier bounds its signed value: ``+1`` the true value is at least
    it (over a positive, under a negative figure), ``-1`` at most, ``0`` exact or about."""
    if qualifier not in ("over", "under") or value == 0:
        return 0
    return (1 if value > 0 else -1) * (1 if qualifier == "over" else -1)


def derived_qualifier(value: float, inputs: Sequence[tuple[float, str, int]]) -> str:
    """The qualifier of a value computed from bounded or approximate inputs.

    ``inputs`` holds ``(value, qualifier, direction)`` per input, ``direction`` ``+1`` when the
    result grows with that input (a numerator, the minuend) and ``-1`` when it shrinks (a
    denominator, the subtrahend). All inputs exact → ``exact``; one-sided bounds that all push
    the result the same way → that bound (new level "over 22万亿" → growth ``≥``; a base share
    "over 55%" → its change ``≤``), returned in the magnitude convention of
    :func:`display_value`; an ``about`` input or bounds pulling both ways → ``about``.
    """
    pushes = set()
    for v, qualifier, direction in inputs:
        if qualifier == "about":
            return "about"
        if bound := signed_bound(v, qualifier):
            pushes.add(bound * direction)
    if not pushes:
        return "exact"
    if len(pushes) > 1:
        return "about"
    at_least = pushes.pop() > 0
    return "over" if at_least == (value >= 0) else "under"


def sign_is_known(value: float, qualifier: str) -> bool:
    """Whether a (derived) change is surely on the side of zero it shows: not when its bound
    points toward zero (``≤+1.6pp`` may be a fall)."""
    return qualifier != "under" and not math.isnan(value)
