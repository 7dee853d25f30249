"""Bank-comparison metrics on the long bank panel (docs/data.md): tidy in, tidy out.

Every function takes a :class:`Panel` (the validated ``bank_panel`` frame from
:func:`wb.door.io.load` plus its sources table) and returns plain values or long frames.

Units, everywhere: money in yuan, counts in persons or accounts, shares and changes as
fractions (``0.5674`` for 56.74%). A value that is not in the panel stays missing (``NaN`` or
absent), never zero. Values computed here (a YoY change from two levels, a share from two
levels) are labelled ``method="derived"`` and carry the source ids of every input; values read
from the panel are labelled ``method="quoted"``.

The selection rule (:func:`select`), used wherever one number must stand for a bank, metric and
period that has several rows:

1. higher ``confidence`` first (high > medium > low; *high* means the bank's own report or site
   text, so this step also prefers the bank's own report);
2. then an exact figure over a bounded one (``exact`` > ``about`` > ``over``/``under``);
3. then the later source (``sources.date``);
4. then the smaller ``source_id``, so the choice never depends on row order.

The other rows are returned as the alternatives, for a chart's note.

Rows that never take part (they stay in :attr:`Panel.frame` for the record):

* ``status == "suspect"``: contradicted by better sources or not the reported figure; shown
  only as *excluded* (:meth:`Panel.excluded`, :func:`coverage`);
* rows that state only a direction (``direction`` up/down/loss, no ``value``): evidence for
  the news check (:meth:`Panel.directions`), never a value.

``unverified`` rows may be selected; every table carries ``status`` and ``status_reason`` so a
chart's note can say so. Figures are only combined (a change, a share) within one ``basis``
(pre-tax vs the vendor's operating-profit column vs net profit, period-end vs monthly-average
AUM): a change derived from two levels needs both on the same basis.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path

import pandas as pd

from wb.door import io
from wb.door.schemas import CHANGE_SUFFIXES, PERIOD_RE, REPORTING_PERIOD_RE, SHARE_SUFFIXES
from wb.errors import InputError

# --------------------------------------------------------------------------- the panel

CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}
QUALIFIER_RANK = {"exact": 0, "about": 1, "over": 2, "under": 2}
#: Shown before a number: the qualifier applies to the number's magnitude (超30% down = ≤ −30%).
QUALIFIER_SYMBOL = {"exact": "", "about": "≈", "over": "≥", "under": "≤"}
_FLIPPED = {"≥": "≤", "≤": "≥"}


#: Basis keys, by metric family, from the researcher's unit note (``definition``): the first rule whose words
#: appear wins. A metric not listed here has the basis ``reported``.
BASIS_RULES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "retail_profit": (
        ("vendor_operating_profit", ("vendor", "F10")),
        ("pre_tax", ("税前", "利润总额", "利潤總額", "before tax", "pre-tax", "PBT")),
        ("unstated", ("",)),
    ),
    "retail_profit_share": (
        ("pre_tax", ("税前", "利润总额", "利潤總額", "before tax", "pre-tax", "total profit")),
        ("vendor_operating_profit", ("vendor",)),
        ("unstated", ("",)),
    ),
    "retail_net_profit": (("net", ("",)),),
    "retail_net_profit_share": (("net", ("",)),),
    "retail_aum": (("monthly_average", ("月日均", "monthly-average")), ("period_end", ("",))),
}


def basis_of(metric: str, unit_note: str) -> str:
    """The basis key of a figure (:data:`BASIS_RULES`); ``reported`` for other metrics."""
    family = re.sub(r"_(yoy|increment|growth_ytd|pp_yoy)$", "", metric)
    for basis, words in BASIS_RULES.get(family, ()):
        if any(w in unit_note for w in words):
            return basis
    return "reported"


@dataclass(frozen=True)
class Panel:
    """The validated bank panel and its sources table.

    Attributes
    ----------
    frame : pandas.DataFrame
        Long rows: bank_id, period, metric, value (canonical units), qualifier, source_id, quote,
        and the optional bank_name, basis, confidence, note.
    sources : pandas.DataFrame
        source_id, title, publisher, date (YYYY-MM-DD), url.
    """

    frame: pd.DataFrame
    sources: pd.DataFrame

    @classmethod
    def load(cls, path: str | Path) -> Panel:
        """Read and validate ``path`` (and ``sources.csv`` beside it) through :func:`wb.door.io.load`."""
        loaded = io.load(path, schema="bank_panel")
        frame = loaded.frame.copy()
        for column, default in (
            ("confidence", "medium"),
            ("basis", "reported"),
            ("note", ""),
            ("status", "ok"),
            ("status_reason", ""),
            ("direction", ""),
        ):
            if column not in frame:
                frame[column] = default
        if "bank_name" not in frame:
            frame["bank_name"] = frame["bank_id"]
        frame["bank_name"] = frame["bank_name"].fillna(frame["bank_id"])
        frame["confidence"] = frame["confidence"].fillna("medium")
        text = ["note", "status_reason", "direction"]
        frame[text] = frame[text].fillna("")
        frame["basis"] = frame["basis"].fillna("reported")
        frame["status"] = frame["status"].fillna("ok")
        return cls(frame=frame, sources=loaded.sources)

    def summary(self) -> str:
        """``"576 rows, 19 banks, 113 sources; 12 suspect rows excluded"``."""
        f = self.frame
        suspect = int((f["status"] == "suspect").sum())
        return (
            f"{len(f):,} rows, {f['bank_id'].nunique()} banks, {len(self.sources):,} sources; "
            f"{suspect} suspect row{'s' if suspect != 1 else ''} excluded from every chart"
        )

    def __repr__(self) -> str:
        return f"<bank Panel: {self.summary()}>"

    @cached_property
    def usable(self) -> pd.DataFrame:
        """Rows that may be selected: a value, and not ``suspect``."""
        f = self.frame
        return f[f["value"].notna() & (f["status"] != "suspect")]

    def bank_names(self) -> dict[str, str]:
        """bank_id → display name (``"建设银行 CCB"``)."""
        pairs = self.frame[["bank_id", "bank_name"]].drop_duplicates("bank_id")
        return dict(zip(pairs["bank_id"], pairs["bank_name"], strict=True))

    def banks(self) -> list[str]:
        """All bank ids, sorted."""
        return sorted(self.frame["bank_id"].unique())

    @cached_property
    def _ranked(self) -> dict[tuple[str, str, str], pd.DataFrame]:
        ranked = rank_rows(self.usable, self.sources)
        return dict(iter(ranked.groupby(["bank_id", "period", "metric"], sort=False)))

    def _rows_where(self, mask: pd.Series, bank_id: str, period: str, metric: str) -> pd.DataFrame:
        f = self.frame
        key = (f["bank_id"] == bank_id) & (f["period"] == period) & (f["metric"] == metric)
        return f[key & mask]

    def excluded(self, bank_id: str, period: str, metric: str) -> pd.DataFrame:
        """The ``suspect`` rows for one bank, period and metric (never selected)."""
        return self._rows_where(self.frame["status"] == "suspect", bank_id, period, metric)

    def directions(self, bank_id: str, period: str, metric: str) -> pd.DataFrame:
        """Rows that state only a direction (up/down/loss), suspect ones left out."""
        f = self.frame
        mask = (f["direction"] != "") & (f["status"] != "suspect")
        return rank_rows(self._rows_where(mask, bank_id, period, metric), self.sources)

    def rows(
        self, bank_id: str, period: str, metric: str, basis: str | None = None
    ) -> pd.DataFrame:
        """Every usable row for one bank, period and metric (of one ``basis`` when given),
        ranked by the selection rule."""
        rows = self._ranked.get((bank_id, period, metric), self.frame.iloc[:0])
        return rows if basis is None else rows[rows["basis"] == basis]

    def periods_of(self, bank_id: str, metric: str) -> list[str]:
        """The periods that hold ``metric`` for ``bank_id``."""
        return [p for (b, p, m) in self._ranked if b == bank_id and m == metric]


def rank_rows(rows: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """Order rows by the selection rule (module docstring): best first."""
    dates = dict(zip(sources["source_id"], sources["date"], strict=True))
    keyed = rows.assign(
        _conf=rows["confidence"].map(CONFIDENCE_RANK).fillna(len(CONFIDENCE_RANK)),
        _qual=rows["qualifier"].map(QUALIFIER_RANK),
        _date=rows["source_id"].map(dates).fillna(""),
    )
    keyed = keyed.sort_values(
        ["_conf", "_qual", "_date", "source_id"], ascending=[True, True, False, True], kind="stable"
    )
    return keyed.drop(columns=["_conf", "_qual", "_date"])


@dataclass(frozen=True)
class Selection:
    """One chosen row for a bank, metric and period, and the rows it was chosen over."""

    chosen: pd.Series
    alternatives: pd.DataFrame

    @property
    def value(self) -> float:
        """The chosen value, canonical units."""
        return float(self.chosen["value"])

    @property
    def qualifier(self) -> str:
        return str(self.chosen["qualifier"])

    @property
    def source_id(self) -> str:
        return str(self.chosen["source_id"])

    @property
    def basis(self) -> str:
        """What the chosen figure measures (``pre_tax``, ``net``, ``period_end``, …)."""
        return str(self.chosen["basis"])

    @property
    def status(self) -> str:
        """``ok`` or ``unverified`` (a suspect row is never chosen)."""
        return str(self.chosen["status"])

    @property
    def status_note(self) -> str:
        """``"unverified: <reason> (src-…)"`` for an unverified figure, else ``""``."""
        if self.status == "ok":
            return ""
        return f"unverified: {self.chosen['status_reason']} ({self.source_id})"

    def alternatives_text(self, kind: str = "level") -> str:
        """The alternatives that differ from the chosen figure (value or qualifier), as
        ``"≈15.00万亿元 (src-…)"`` joined by ``"; "``; ``""`` when none differ."""
        alts = self.alternatives
        differ = (alts["value"] != self.value) | (alts["qualifier"] != self.qualifier)
        return "; ".join(
            f"{display_value(r.value, r.qualifier, kind, digits=2)} ({r.source_id})"
            for r in alts[differ].itertuples()
        )


def select(
    panel: Panel, bank_id: str, period: str, metric: str, basis: str | None = None
) -> Selection | None:
    """The row a chart uses for ``(bank_id, period, metric)`` under the selection rule,
    among the rows of one ``basis`` when given.

    Returns ``None`` when the panel has no such usable row (the value is missing, not zero).
    """
    ranked = panel.rows(bank_id, period, metric, basis)
    if ranked.empty:
        return None
    return Selection(chosen=ranked.iloc[0], alternatives=ranked.iloc[1:])


# --------------------------------------------------------------------------- periods


_PERIOD_RE = re.compile(rf"^{REPORTING_PERIOD_RE}$")
_PERIOD_END = {"FY": (12, 31), "H1 ": (6, 30), "9M ": (9, 30), "Q1 ": (3, 31), "Q2 ": (6, 30)}
_PERIOD_END |= {"Q3 ": (9, 30), "Q4 ": (12, 31)}


def prior_period(period: str) -> str | None:
    """The same period a year earlier (``"H1 2025"`` → ``"H1 2024"``); ``None`` for dates."""
    m = _PERIOD_RE.match(period)
    return f"{m.group(1)}{int(m.group(2)) - 1}" if m else None


def year_start_period(period: str) -> str | None:
    """The previous year-end level's period (``"H1 2025"`` → ``"FY2024"``), for growth YTD."""
    m = _PERIOD_RE.match(period)
    return f"FY{int(m.group(2)) - 1}" if m else None


def period_end(period: str) -> date | None:
    """The last day a period covers (``"H1 2025"`` → 2025-06-30; ``"2025-11"`` → 2025-11-30)."""
    m = _PERIOD_RE.match(period)
    if m:
        month, day = _PERIOD_END[m.group(1)]
        return date(int(m.group(2)), month, day)
    parts = [int(p) for p in period.split("-")]
    if len(parts) == 3:
        return date(*parts)
    if len(parts) == 2:
        nxt = date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
        return date.fromordinal(nxt.toordinal() - 1)
    return None


# --------------------------------------------------------------------------- display


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


def display_value(
    value: float, qualifier: str = "exact", kind: str = "level", digits: int = 1
) -> str:
    """Format a value with its qualifier: ``≥`` over (超), ``≈`` about (近/约), ``≤`` under.

    Parameters
    ----------
    value
        Canonical units: yuan, persons, or a fraction for ``kind`` ``"share"``/``"change"``.
    qualifier
        ``exact``, ``over``, ``about`` or ``under``; it bounds the magnitude, so a fall of
        "over 30%" (``-0.30``, ``over``) shows as ``≤-30.0%``.
    kind
        ``"level"`` (money in 亿元/万亿元), ``"count"`` (万/亿 persons), ``"share"`` (percent),
        ``"change"`` (signed percent), ``"points"`` (signed percentage points) or ``"ratio"``.
    digits
        Decimals of a percent.

    Returns
    -------
    str
        ``"无数据 n/a"`` for a missing value.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "无数据 n/a"
    symbol = QUALIFIER_SYMBOL[qualifier]
    if value < 0:
        symbol = _FLIPPED.get(symbol, symbol)
    if kind == "share":
        text = f"{value * 100:.{digits}f}%"
    elif kind == "change":
        text = f"{value * 100:+.{digits}f}%"
    elif kind == "count":
        text = f"{value / 1e8:,.2f}亿" if abs(value) >= 1e8 else f"{value / 1e4:,.1f}万"
    elif kind == "ratio":
        text = f"{value:,.2f}×"
    elif kind == "points":
        text = f"{value * 100:+.{digits}f}pp"
    elif abs(value) >= 1e12:
        text = f"{value / 1e12:,.2f}万亿元"
    else:
        text = f"{value / 1e8:,.2f}亿元"
    return f"{symbol}{text}"


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


def _status(*selections: Selection | None) -> tuple[str, list[str]]:
    """(``ok``/``unverified``, the unverified inputs' notes) of the inputs of a value."""
    notes = [s.status_note for s in selections if s is not None and s.status_note]
    return ("unverified" if notes else "ok"), notes


def _quoted(said: Selection, kind: str) -> Change:
    """A value as a source states it (``kind``: "change" or "share"), other sources in the note."""
    alts = said.alternatives_text(kind)
    status, notes = _status(said)
    return Change(
        value=said.value,
        method="quoted",
        qualifier=said.qualifier,
        source_ids=(said.source_id,),
        note="; ".join([*([f"other sources: {alts}"] if alts else []), *notes]),
        basis=said.basis,
        status=status,
    )


def _ids(*selections: Selection | None) -> tuple[str, ...]:
    """Source ids of the selections, each once, in order."""
    return tuple(dict.fromkeys(s.source_id for s in selections if s is not None))


def _combined_qualifier(*qualifiers: str) -> str:
    return "exact" if all(q == "exact" for q in qualifiers) else "about"


def _usable(*selections: Selection | None) -> bool:
    """All present and none graded ``low``: fit to derive a value from."""
    return all(s is not None and s.chosen["confidence"] != "low" for s in selections)


def same_basis_pair(
    panel: Panel, bank_id: str, metric: str, period: str, other: str
) -> tuple[Selection, Selection] | None:
    """The best pair of ``metric`` levels in ``period`` and ``other`` on one basis (neither
    graded ``low``), trying the bases of ``period``'s rows in the selection rule's order."""
    for basis in dict.fromkeys(panel.rows(bank_id, period, metric)["basis"]):
        new = select(panel, bank_id, period, metric, basis)
        old = select(panel, bank_id, other, metric, basis)
        if _usable(new, old):
            return new, old
    return None


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
        status, notes = _status(new, old)
        if said is not None:
            stated = display_value(said.value, said.qualifier, "change")
            notes.insert(0, f"stated: {stated} ({said.source_id})")
        return Change(
            value=new.value / old.value - 1,
            method="derived",
            qualifier=_combined_qualifier(new.qualifier, old.qualifier),
            source_ids=_ids(new, old),
            note="; ".join(notes),
            basis=new.basis,
            status=status,
        )
    if said is not None:
        return _quoted(said, "change")
    if pair is not None:  # both levels exist but the base is at or below zero
        new, old = pair
        return Change(
            value=math.nan,
            method="none",
            source_ids=_ids(new, old),
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
    notes = [*([f"other figures: {alts}"] if alts else []), *_status(sel)[1]]
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


def _closest(given: str, valid: list[str]) -> str | None:
    """The valid name a typo most likely meant: same letters in another case or order
    (``2025H1`` → ``H1 2025``), a name that contains it (``aum`` → ``retail_aum``), or the
    closest spelling."""
    text = str(given).strip()
    lowered = {v.lower(): v for v in valid}
    if m := re.fullmatch(r"(\d{4})\s*-?\s*(H1|FY|9M|Q[1-4])", text, re.IGNORECASE):
        year, part = m.group(1), m.group(2).upper()
        text = f"FY{year}" if part == "FY" else f"{part} {year}"
    if text.lower() in lowered:
        return lowered[text.lower()]
    containing = sorted((v for v in valid if text.lower() in v.lower()), key=len)
    if containing:
        return containing[0]
    close = difflib.get_close_matches(text.lower(), list(lowered), n=1)
    return lowered[close[0]] if close else None


def unknown_name(kind: str, given: object, valid: list[str]) -> InputError:
    """An error naming what was asked, the closest valid name and every valid one."""
    guess = _closest(str(given), valid)
    hint = f"; did you mean {guess!r}?" if guess else "."
    return InputError(f"unknown {kind} {given!r}{hint} Valid {kind}s: {', '.join(valid)}")


def _bank_ids(panel: Panel, banks: list[str] | None) -> list[str]:
    """``banks`` checked against the panel (sorted), or every bank of the panel."""
    if isinstance(banks, str):
        banks = [banks]
    known = panel.banks()
    for bank in banks or []:
        if bank not in known:
            raise unknown_name("bank id", bank, known)
    return sorted(banks) if banks else known


def period_order(period: str) -> tuple[str, str]:
    """Sort key of period names: by the year they end in, then by name (``FY2023`` <
    ``H1 2024`` < ``FY2024``)."""
    return period[-4:], period


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
        ids = tuple(dict.fromkeys(_ids(level) + growth.source_ids))
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
                if growth.status == "unverified" or _status(level)[1]
                else ("ok" if level or growth.method != "none" else ""),
                "source_ids": ids,
                "note": "; ".join(
                    t
                    for t in (
                        level.alternatives_text() if level else "",
                        *_status(level)[1],
                        growth.note,
                    )
                    if t
                ),
            }
        )
    return _frame(panel, records)


# --------------------------------------------------------------------------- shares

#: For a retail share: the retail level's metric and basis, and the bank-wide levels to divide
#: it by (best first). Retail profit is pre-tax, so it is never divided by net profit, and the
#: vendor's operating-profit column is never divided by anything.
SHARE_DENOMINATORS = {
    "income": ("retail_operating_income", "reported", ("bank_operating_income",)),
    "profit": ("retail_profit", "pre_tax", ("bank_profit_before_tax", "bank_total_profit")),
}


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
        return _quoted(said, "share")
    part = select(panel, bank_id, period, numerator, basis)
    for metric in denominators:
        whole = select(panel, bank_id, period, metric)
        if not _usable(part, whole) or whole.value <= 0:
            continue
        status, notes = _status(part, whole)
        return Change(
            value=part.value / whole.value,
            method="derived",
            qualifier=_combined_qualifier(part.qualifier, whole.qualifier),
            source_ids=_ids(part, whole),
            note="; ".join([f"{numerator} / {metric}", *notes]),
            basis=basis,
            status=status,
        )
    return NO_CHANGE


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


def _nearest(panel: Panel, bank_id: str, metric: str, when: date) -> Selection | None:
    """The selected row whose period ends nearest ``when`` (ties: the earlier one)."""
    periods = [
        p
        for p in panel.periods_of(bank_id, metric)
        if (panel.rows(bank_id, p, metric)["confidence"] != "low").any()
    ]
    ends = {p: period_end(p) for p in periods}
    ends = {p: e for p, e in ends.items() if e is not None}
    if not ends:
        return None
    best = min(ends, key=lambda p: (abs((ends[p] - when).days), ends[p]))
    rows = panel.rows(bank_id, best, metric)
    rows = rows[rows["confidence"] != "low"]
    return Selection(chosen=rows.iloc[0], alternatives=rows.iloc[1:])


def wecom_reach(panel: Panel, banks: list[str] | None = None) -> pd.DataFrame:
    """WeCom reach per bank that publishes one: latest connected customers and their share.

    Columns: bank_id, bank_name, connected (persons), connected_qualifier, connected_period,
    connected_confidence, customers (retail customers, persons, the non-low figure nearest in
    time; NaN if none), customers_period, share (connected / customers, fraction, derived),
    gap_days (days between the two periods' ends), far_apart (gap > :data:`FAR_APART_DAYS`),
    certification_rate (fraction, quoted; NaN if none), source_ids. Banks without a WeCom figure
    are left out (see :func:`coverage` for what is missing).
    """
    records = []
    for bank in _bank_ids(panel, banks):
        connected = _latest(panel, bank, "wecom_connected")
        if connected is None:
            continue
        when = period_end(str(connected.chosen["period"]))
        customers = _nearest(panel, bank, "retail_customers", when)
        cert = _latest(panel, bank, "wecom_certification_rate")
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
                "source_ids": _ids(connected, customers, cert),
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
