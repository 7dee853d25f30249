"""One number from the panel's figures (docs/data.md): a change or a share as a source quotes
it (``method="quoted"``) or derived from two levels on one basis (``method="derived"``,
carrying the source ids of both); :data:`NO_CHANGE` when neither is possible. Units:
fractions (``0.5674`` for 56.74%). The tables of :mod:`wb.banks.metrics` are made of these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wb.banks.display import derived_qualifier, display_value
from wb.banks.panel import Panel, Selection, per_panel, prior_period, select, year_start_period

# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class Change:
    """A change (or a share) of one metric for one bank, as a fraction, with where it came from.

    Attributes
    ----------
    value : float
        Fraction (``-0.2049`` for −20.49%); ``NaN`` when it cannot be known (no data, bases
        that differ, or a base at or below zero).
    method : str
        ``"derived"`` (computed here from two levels), ``"quoted"`` (a change a source states)
        or ``"none"``.
    qualifier : str
        ``exact`` unless an input was bounded or approximate.
    source_ids : tuple of str
        Every source behind the value.
    note : str
        Alternatives and caveats, in words.
    basis : str
        The basis of the figures behind it (``pre_tax``, ``net``, ``period_end``, …).
    status : str
        ``ok``, or ``unverified`` when any input is (the reason is in ``note``).
    """

    value: float
    method: str
    qualifier: str = "exact"
    source_ids: tuple[str, ...] = ()
    note: str = ""
    basis: str = ""
    status: str = "ok"


NO_CHANGE = Change(value=math.nan, method="none")


def derived(
    value: float,
    new: Selection | Change,
    old: Selection | Change,
    *,
    source_ids: tuple[str, ...],
    note: str,
    basis: str,
    status: str,
) -> Change:
    """``value`` computed from two figures, ``new`` over or minus ``old`` (each with a value and
    a qualifier): ``method="derived"``, its qualifier from both (:func:`derived_qualifier`)."""
    return Change(
        value=value,
        method="derived",
        qualifier=derived_qualifier(
            value, [(new.value, new.qualifier, 1), (old.value, old.qualifier, -1)]
        ),
        source_ids=source_ids,
        note=note,
        basis=basis,
        status=status,
    )


def status_of(*selections: Selection | None) -> tuple[str, list[str]]:
    """(``ok``/``unverified``, the unverified inputs' notes) of the inputs of a value."""
    notes = [s.status_note for s in selections if s is not None and s.status_note]
    return ("unverified" if notes else "ok"), notes


def as_quoted(said: Selection, kind: str) -> Change:
    """A value as a source states it (``kind``: "change" or "share"), other sources in the note."""
    alts = said.alternatives_text(kind)
    status, notes = status_of(said)
    return Change(
        value=said.value,
        method="quoted",
        qualifier=said.qualifier,
        source_ids=(said.source_id,),
        note="; ".join([*([f"other sources: {alts}"] if alts else []), *notes]),
        basis=said.basis,
        status=status,
    )


def ids_of(*selections: Selection | None) -> tuple[str, ...]:
    """Source ids of the selections, each once, in order."""
    return tuple(dict.fromkeys(s.source_id for s in selections if s is not None))


def usable(*selections: Selection | None) -> bool:
    """All present and none graded ``low``: fit to derive a value from."""
    return all(s is not None and s.chosen["confidence"] != "low" for s in selections)


@per_panel
def same_basis_pair(
    panel: Panel, bank_id: str, metric: str, period: str, other: str
) -> tuple[Selection, Selection] | None:
    """The best pair of ``metric`` levels in ``period`` and ``other`` on one basis (neither
    graded ``low``), trying the bases of ``period``'s rows in the selection rule's order."""
    for basis in dict.fromkeys(panel.rows(bank_id, period, metric)["basis"]):
        new = select(panel, bank_id, period, metric, basis)
        old = select(panel, bank_id, other, metric, basis)
        if usable(new, old):
            return new, old
    return None


@per_panel
def change_between(
    panel: Panel, bank_id: str, metric: str, period: str, base_period: str | None, quoted: str
) -> Change:
    """Relative change of ``metric`` from ``base_period`` to ``period``.

    Derived from two levels on one basis when both exist and the base is above zero; else the
    change a source states as metric ``quoted`` (e.g. ``retail_operating_income_yoy``); else
    :data:`NO_CHANGE`. Inputs graded ``low`` are not used for a derived change (they still
    appear as quoted changes when nothing better exists). Result: a fraction.
    """
    pair = same_basis_pair(panel, bank_id, metric, period, base_period) if base_period else None
    said = select(panel, bank_id, period, quoted)
    if pair is not None and pair[1].value > 0:
        new, old = pair
        status, notes = status_of(new, old)
        if said is not None:
            stated = display_value(said.value, said.qualifier, "change")
            notes.insert(0, f"stated: {stated} ({said.source_id})")
        value = new.value / old.value - 1
        return derived(
            value,
            new,
            old,
            source_ids=ids_of(new, old),
            note="; ".join(notes),
            basis=new.basis,
            status=status,
        )
    if said is not None:
        return as_quoted(said, "change")
    if pair is not None:  # both levels exist but the base is at or below zero
        new, old = pair
        return Change(
            value=math.nan,
            method="none",
            source_ids=ids_of(new, old),
            note=(
                f"from {display_value(old.value, old.qualifier)} to "
                f"{display_value(new.value, new.qualifier)}; base ≤ 0, no % change"
            ),
            basis=new.basis,
        )
    return NO_CHANGE


def yoy(panel: Panel, bank_id: str, period: str, metric: str) -> Change:
    """Year-on-year change of ``metric`` (fraction): from two levels, else the quoted ``_yoy``."""
    return change_between(panel, bank_id, metric, period, prior_period(period), f"{metric}_yoy")


def aum_growth(panel: Panel, bank_id: str, period: str) -> Change:
    """Retail AUM growth since the previous year-end (fraction), for a half-year or quarter.

    For a ``FY`` period this is the year-on-year change of the year-end level.
    """
    if period.startswith("FY"):
        return yoy(panel, bank_id, period, "retail_aum")
    return change_between(
        panel, bank_id, "retail_aum", period, year_start_period(period), "retail_aum_growth_ytd"
    )


# --------------------------------------------------------------------------- shares

#: For a retail share: the retail level's metric and basis, and the bank-wide levels to divide
#: it by (best first). Retail profit is pre-tax, so it is never divided by net profit, and the
#: vendor's operating-profit column is never divided by anything.
SHARE_DENOMINATORS = {
    "income": ("retail_operating_income", "reported", ("bank_operating_income",)),
    "profit": ("retail_profit", "pre_tax", ("bank_profit_before_tax", "bank_total_profit")),
}


@per_panel
def retail_share(panel: Panel, bank_id: str, period: str, of: str = "income") -> Change:
    """Retail share of the bank's operating income (``of="income"``) or profit (``"profit"``).

    The share a source states (``retail_income_share``/``retail_profit_share``; for profit a
    pre-tax share first) when there is one (``method="quoted"``); else retail level / bank
    level (``method="derived"``; pre-tax retail profit over bank profit before tax, never
    over net profit; inputs graded ``low`` are not used). Returns a fraction, NaN when unknown.
    """
    numerator, basis, denominators = SHARE_DENOMINATORS[of]
    said = select(panel, bank_id, period, f"retail_{of}_share", basis) or select(
        panel, bank_id, period, f"retail_{of}_share"
    )
    if said is not None:
        return as_quoted(said, "share")
    part = select(panel, bank_id, period, numerator, basis)
    for metric in denominators:
        whole = select(panel, bank_id, period, metric)
        if not usable(part, whole) or whole.value <= 0:
            continue
        status, notes = status_of(part, whole)
        value = part.value / whole.value
        return derived(
            value,
            part,
            whole,
            source_ids=ids_of(part, whole),
            note="; ".join([f"{numerator} / {metric}", *notes]),
            basis=basis,
            status=status,
        )
    return NO_CHANGE


@per_panel
def share_change(
    panel: Panel, bank_id: str, period: str, base_period: str | None, of: str = "income"
) -> Change:
    """Change of retail's share (``of`` income or profit) from ``base_period`` to ``period``, in
    fraction points (``-0.098`` for −9.8 pp), both shares on one basis; :data:`NO_CHANGE` when
    either is unknown. A bounded share carries its bound into the change (a base "over 55%"
    makes the change ``≤``); unverified when either share is."""
    if base_period is None:
        return NO_CHANGE
    now, before = (
        retail_share(panel, bank_id, period, of),
        retail_share(panel, bank_id, base_period, of),
    )
    if math.isnan(now.value) or math.isnan(before.value) or now.basis != before.basis:
        return NO_CHANGE
    value = now.value - before.value
    unverified = "unverified" in (now.status, before.status)
    return derived(
        value,
        now,
        before,
        source_ids=tuple(dict.fromkeys(now.source_ids + before.source_ids)),
        note="; ".join(n for n in (now.note, before.note) if n),
        basis=now.basis,
        status="unverified" if unverified else "ok",
    )
