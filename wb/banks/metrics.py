"""Bank-comparison tables on the long bank panel (docs/data.md): tidy in, tidy out, one row per
bank (levels, changes, shares, AUM, WeCom reach, coverage, sources, trends).

Every function takes a :class:`~wb.banks.panel.Panel` (the validated panel and its sources;
one number per bank, metric and period by :func:`wb.banks.panel.select`) and returns a long
frame; the numbers in it come from :mod:`wb.banks.changes`.

Units, everywhere: money in yuan, counts in persons or accounts, shares and changes as
fractions (``0.5674`` for 56.74%). A value that is not in the panel stays missing (``NaN`` or
absent), never zero. Values computed here (a YoY change from two levels, a share from two
levels) are labelled ``method="derived"`` and carry the source ids of every input; values read
from the panel are labelled ``method="quoted"``.

Figures are only combined (a change, a share) within one ``basis`` (pre-tax vs the vendor's
operating-profit column vs net profit, period-end vs monthly-average AUM): a change derived
from two levels needs both on the same basis.
"""

from __future__ import annotations

import math
import re
from datetime import date

import pandas as pd

from wb.banks.changes import (
    SHARE_DENOMINATORS,
    Change,
    aum_growth,
    ids_of,
    retail_share,
    status_of,
    yoy,
)
from wb.banks.panel import (
    CONFIDENCE_RANK,
    Panel,
    Selection,
    per_panel,
    period_end,
    period_order,
    select,
    unknown_name,
)
from wb.door.bank_schemas import PERIOD_RE


def _level_record(sel: Selection | None) -> dict[str, object]:
    if sel is None:
        return {
            "value": math.nan,
            "qualifier": "",
            "basis": "",
            "status": "",
            "source_ids": (),
            "confidence": "",
            "note": "",
        }
    alts = sel.alternatives_text()
    notes = [*([f"other figures: {alts}"] if alts else []), *status_of(sel)[1]]
    return {
        "value": sel.value,
        "qualifier": sel.qualifier,
        "basis": sel.basis,
        "status": sel.status,
        "source_ids": (sel.source_id,),
        "confidence": str(sel.chosen["confidence"]),
        "note": "; ".join(notes),
    }


def _change_record(change: Change) -> dict[str, object]:
    return {
        "value": change.value,
        "qualifier": change.qualifier if change.method != "none" else "",
        "method": change.method,
        "basis": change.basis,
        "status": change.status if change.method != "none" else "",
        "source_ids": change.source_ids,
        "note": change.note,
    }


def _bank_ids(panel: Panel, banks: list[str] | None) -> list[str]:
    """``banks`` as ids (names resolved by :meth:`Panel.resolve_banks`), sorted; or every bank
    of the panel."""
    ids = panel.resolve_banks(banks)
    return sorted(ids) if ids else panel.banks()


def check_period(panel: Panel, period: str) -> str:
    """``period`` if it is written as a period (FY2024, H1 2025, 9M 2025, Q3 2025 or a date);
    a period with no figure is fine (missing stays missing), a misspelt one is an error."""
    if not isinstance(period, str) or not re.fullmatch(PERIOD_RE, period):
        periods = sorted(set(panel.frame["period"]), key=period_order)
        raise unknown_name("period", period, periods)
    return period


def check_metric(panel: Panel, metric: str) -> str:
    """``metric`` if the panel holds it or it is one wb compares (a panel without profit
    figures still has a profit table: every bank missing), else an error listing them."""
    known = {m for group in COVERAGE_GROUPS.values() for m in group}
    known |= {m for _, _, whole in SHARE_DENOMINATORS.values() for m in whole}
    metrics = sorted(set(panel.frame["metric"]) | known)
    if metric not in metrics:
        raise unknown_name("metric", metric, metrics)
    return metric


def _frame(panel: Panel, records: list[dict[str, object]]) -> pd.DataFrame:
    names = panel.bank_names()
    out = pd.DataFrame.from_records(records)
    out.insert(1, "bank_name", out["bank_id"].map(names))
    return out


@per_panel
def yoy_table(
    panel: Panel, period: str, metric: str, banks: list[str] | None = None
) -> pd.DataFrame:
    """One row per bank: the YoY change of ``metric`` in ``period`` (fraction), NaN when unknown.

    Columns: bank_id, bank_name, value, qualifier, method (derived/quoted/none), basis, status,
    source_ids, note, level (the period's level on the change's basis, yuan, NaN if none).
    """
    check_period(panel, period)
    check_metric(panel, metric)
    records = []
    for bank in _bank_ids(panel, banks):
        change = yoy(panel, bank, period, metric)
        level = select(panel, bank, period, metric, change.basis or None)
        records.append(
            {"bank_id": bank}
            | _change_record(change)
            | {"level": level.value if level else math.nan}
        )
    return _frame(panel, records)


@per_panel
def level_table(
    panel: Panel, period: str, metric: str, banks: list[str] | None = None
) -> pd.DataFrame:
    """One row per bank: the selected level of ``metric`` in ``period`` (canonical units).

    Columns: bank_id, bank_name, value (NaN when missing), qualifier, basis, status
    (ok/unverified), source_ids, confidence, note (the alternatives, and why unverified).
    """
    check_period(panel, period)
    check_metric(panel, metric)
    records = [
        {"bank_id": bank} | _level_record(select(panel, bank, period, metric))
        for bank in _bank_ids(panel, banks)
    ]
    return _frame(panel, records)


@per_panel
def aum_table(panel: Panel, period: str, banks: list[str] | None = None) -> pd.DataFrame:
    """Retail AUM level (yuan) and growth since the previous year-end (fraction), per bank.

    Columns: bank_id, bank_name, level, level_qualifier, level_basis (the bank's own
    definition, as the researcher noted it), growth, growth_qualifier, growth_method, status
    (ok/unverified, any input), source_ids, note.
    """
    check_period(panel, period)
    records = []
    for bank in _bank_ids(panel, banks):
        level = select(panel, bank, period, "retail_aum")
        growth = aum_growth(panel, bank, period)
        ids = tuple(dict.fromkeys(ids_of(level) + growth.source_ids))
        records.append(
            {
                "bank_id": bank,
                "level": level.value if level else math.nan,
                "level_qualifier": level.qualifier if level else "",
                "level_basis": str(level.chosen.get("definition", "")) if level else "",
                "growth": growth.value,
                "growth_qualifier": growth.qualifier if growth.method != "none" else "",
                "growth_method": growth.method,
                "status": "unverified"
                if growth.status == "unverified" or status_of(level)[1]
                else ("ok" if level or growth.method != "none" else ""),
                "source_ids": ids,
                "note": "; ".join(
                    t
                    for t in (
                        level.alternatives_text() if level else "",
                        *status_of(level)[1],
                        growth.note,
                    )
                    if t
                ),
            }
        )
    return _frame(panel, records)


@per_panel
def share_table(panel: Panel, period: str, banks: list[str] | None = None) -> pd.DataFrame:
    """Retail share of income and of profit per bank (fractions; long: one row per bank × of).

    Columns: bank_id, bank_name, of (income/profit), value, qualifier, method, source_ids, note.
    """
    check_period(panel, period)
    records = [
        {"bank_id": bank, "of": of} | _change_record(retail_share(panel, bank, period, of))
        for bank in _bank_ids(panel, banks)
        for of in SHARE_DENOMINATORS
    ]
    return _frame(panel, records)


# --------------------------------------------------------------------------- WeCom

#: Two figures more than this many days apart are flagged when one is divided by the other.
FAR_APART_DAYS = 365


def _latest(
    panel: Panel, bank_id: str, metric: str, before: date | None = None
) -> Selection | None:
    """The selected row of the latest period (by period end) for a bank and metric."""
    ends = {p: period_end(p) for p in panel.periods_of(bank_id, metric)}
    ends = {p: e for p, e in ends.items() if e is not None and (before is None or e <= before)}
    if not ends:
        return None
    return select(panel, bank_id, max(ends, key=lambda p: (ends[p], p)), metric)


def _nearest(
    panel: Panel, bank_id: str, metric: str, when: date, before: date | None = None
) -> Selection | None:
    """The selected row whose period ends nearest ``when`` (ties: the earlier one), among
    periods ending on or before ``before`` when given."""
    periods = [
        p
        for p in panel.periods_of(bank_id, metric)
        if (panel.rows(bank_id, p, metric)["confidence"] != "low").any()
    ]
    ends = {p: period_end(p) for p in periods}
    ends = {p: e for p, e in ends.items() if e is not None and (before is None or e <= before)}
    if not ends:
        return None
    best = min(ends, key=lambda p: (abs((ends[p] - when).days), ends[p]))
    rows = panel.rows(bank_id, best, metric)
    rows = rows[rows["confidence"] != "low"]
    return Selection(chosen=rows.iloc[0], alternatives=rows.iloc[1:])


@per_panel
def wecom_reach(
    panel: Panel, banks: list[str] | None = None, until: date | None = None
) -> pd.DataFrame:
    """WeCom reach per bank that publishes one: latest connected customers and their share,
    among figures dated on or before ``until`` when given (a brief for H1 2024 states what was
    known by 2024-06-30, not a later figure).

    Columns: bank_id, bank_name, connected (persons), connected_qualifier, connected_period,
    connected_confidence, customers (retail customers, persons, the non-low figure nearest in
    time; NaN if none), customers_period, share (connected / customers, fraction, derived),
    gap_days (days between the two periods' ends), far_apart (gap > :data:`FAR_APART_DAYS`),
    certification_rate (fraction, quoted; NaN if none), status (``unverified`` when any of the
    three figures is), note (why), source_ids. Banks without a WeCom figure are left out (see
    :func:`coverage` for what is missing).
    """
    records = []
    for bank in _bank_ids(panel, banks):
        connected = _latest(panel, bank, "wecom_connected", until)
        if connected is None:
            continue
        when = period_end(str(connected.chosen["period"]))
        customers = _nearest(panel, bank, "retail_customers", when, until)
        cert = _latest(panel, bank, "wecom_certification_rate", until)
        gap = (
            abs((period_end(str(customers.chosen["period"])) - when).days)
            if customers
            else math.nan
        )
        records.append(
            {
                "bank_id": bank,
                "connected": connected.value,
                "connected_qualifier": connected.qualifier,
                "connected_period": str(connected.chosen["period"]),
                "connected_confidence": str(connected.chosen["confidence"]),
                "customers": customers.value if customers else math.nan,
                "customers_period": str(customers.chosen["period"]) if customers else "",
                "share": connected.value / customers.value if customers else math.nan,
                "gap_days": gap,
                "far_apart": bool(gap > FAR_APART_DAYS) if customers else False,
                "certification_rate": cert.value if cert else math.nan,
                "certification_qualifier": cert.qualifier if cert else "",
                "status": status_of(connected, customers, cert)[0],
                "note": "; ".join(status_of(connected, customers, cert)[1]),
                "source_ids": ids_of(connected, customers, cert),
            }
        )
    columns = ["bank_id", "connected", "connected_qualifier", "connected_period"]
    if not records:
        return pd.DataFrame(columns=["bank_name", *columns])
    return _frame(panel, records)


# --------------------------------------------------------------------------- coverage

#: Metric groups of the comparison and the panel metrics that count as data for each.
COVERAGE_GROUPS: dict[str, tuple[str, ...]] = {
    "retail_income": ("retail_operating_income", "retail_operating_income_yoy"),
    "retail_profit": (
        "retail_profit",
        "retail_profit_yoy",
        "retail_net_profit",
        "retail_net_profit_yoy",
    ),
    "retail_share": ("retail_income_share", "retail_profit_share", "retail_net_profit_share"),
    "retail_aum": ("retail_aum", "retail_aum_growth_ytd", "retail_aum_yoy"),
    "retail_customers": ("retail_customers",),
    "wecom": ("wecom_connected", "wecom_certification_rate"),
}


@per_panel
def coverage(
    panel: Panel,
    periods: list[str],
    groups: dict[str, tuple[str, ...]] | None = None,
    banks: list[str] | None = None,
) -> pd.DataFrame:
    """What is known: one row per bank × metric group × period, including the empty cells.

    WeCom figures are dated points, so for the ``wecom`` group any date counts and the period
    column is ``"any date"``. Columns: bank_id, bank_name, group, period, n_rows (usable figures;
    0 = missing), best_confidence (``""`` when missing), n_excluded (``suspect`` rows: kept for
    the record, never used), n_directions (rows that state only a direction), n_unverified
    (usable rows that are ``unverified``), state (``data``, ``direction only``,
    ``excluded (suspect)`` or ``missing``: what a coverage map shows).
    """
    groups = groups or COVERAGE_GROUPS
    group_of = {metric: group for group, metrics in groups.items() for metric in metrics}
    f = panel.frame.assign(group=panel.frame["metric"].map(group_of)).dropna(subset=["group"])
    f = f.assign(period=f["period"].where(f["group"] != "wecom", "any date"))
    suspect = f["status"] == "suspect"
    f = f.assign(
        rank=f["confidence"].map(CONFIDENCE_RANK).where(f["value"].notna() & ~suspect),
        usable=f["value"].notna() & ~suspect,
        excluded=suspect,
        direction_only=(f["direction"] != "") & ~suspect,
        unverified=f["value"].notna() & (f["status"] == "unverified"),
    )
    stats = f.groupby(["bank_id", "group", "period"]).agg(
        n_rows=("usable", "sum"),
        best=("rank", "min"),
        n_excluded=("excluded", "sum"),
        n_directions=("direction_only", "sum"),
        n_unverified=("unverified", "sum"),
    )
    best_name = {rank: name for name, rank in CONFIDENCE_RANK.items()}
    counts = ("n_rows", "n_excluded", "n_directions", "n_unverified")
    records = []
    for bank in _bank_ids(panel, banks):
        for group in groups:
            for period in ["any date"] if group == "wecom" else periods:
                key = (bank, group, period)
                hit = stats.loc[key] if key in stats.index else None
                n = {c: int(hit[c]) if hit is not None else 0 for c in counts}
                best = hit["best"] if hit is not None else math.nan
                state = (
                    "data"
                    if n["n_rows"]
                    else "direction only"
                    if n["n_directions"]
                    else "excluded (suspect)"
                    if n["n_excluded"]
                    else "missing"
                )
                records.append(
                    {"bank_id": bank, "group": group, "period": period}
                    | n
                    | {
                        "best_confidence": "" if math.isnan(best) else best_name[int(best)],
                        "state": state,
                    }
                )
    return _frame(panel, records)


# --------------------------------------------------------------------------- sources


def source_table(
    panel: Panel, source_ids: list[str] | tuple[str, ...] | None = None
) -> pd.DataFrame:
    """The sources behind ``source_ids`` (default: every source the panel cites), sorted by id.

    Columns: source_id, title, publisher, date, url, n_rows (panel rows citing it).
    """
    counts = panel.frame["source_id"].value_counts()
    ids = sorted(set(source_ids) if source_ids is not None else set(counts.index))
    table = panel.sources.set_index("source_id").loc[ids].reset_index()
    table["n_rows"] = table["source_id"].map(counts).fillna(0).astype(int)
    return table[["source_id", "title", "publisher", "date", "url", "n_rows"]]


def source_ids_of(table: pd.DataFrame) -> list[str]:
    """Sorted unique source ids in a table's ``source_ids`` column (tuples of ids)."""
    return sorted({s for ids in table["source_ids"] for s in ids})


# --------------------------------------------------------------------------- trends

#: What a trend series follows: retail operating income (a level, yuan) and retail's share of
#: operating income (a fraction).
TREND_SERIES = ("retail_operating_income", "retail_income_share")


@per_panel
def trend_table(
    panel: Panel, kind: str = "FY", banks: list[str] | None = None, until: int | None = None
) -> pd.DataFrame:
    """Retail operating income and retail share of income per bank and year, for full years
    (``kind="FY"``) or first halves (``kind="H1"``): a half-year is never set beside a full year.

    Long: one row per bank × series × year that has a figure; a year without one is absent
    (a gap, never interpolated); years after ``until`` are left out. Columns: bank_id, bank_name, series, period, year, value
    (yuan for income, a fraction for the share), qualifier, method, basis, status, source_ids,
    note.
    """
    if kind not in ("FY", "H1"):
        raise ValueError(f"kind must be 'FY' or 'H1', not {kind!r}")
    prefix = "FY" if kind == "FY" else "H1 "
    periods = sorted(
        {
            p
            for p in panel.usable["period"]
            if re.fullmatch(rf"{prefix}\d{{4}}", p) and (until is None or int(p[-4:]) <= until)
        },
        key=period_order,
    )
    records = []
    for bank in _bank_ids(panel, banks):
        for period in periods:
            income = select(panel, bank, period, "retail_operating_income")
            if income is not None:
                records.append(
                    {"bank_id": bank, "series": TREND_SERIES[0], "period": period}
                    | _level_record(income)
                    | {"method": "quoted"}
                )
            share = retail_share(panel, bank, period, "income")
            if share.method != "none":
                records.append(
                    {"bank_id": bank, "series": TREND_SERIES[1], "period": period}
                    | _change_record(share)
                )
    columns = ["bank_id", "series", "period", "value", "qualifier", "method", "basis", "status"]
    if not records:
        return pd.DataFrame(columns=["bank_name", *columns, "source_ids", "note", "year"])
    out = _frame(panel, records)
    out["year"] = out["period"].str[-4:].astype(int)
    return out.drop(columns=["confidence"], errors="ignore")
