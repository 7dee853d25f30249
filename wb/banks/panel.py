"""The bank panel (docs/data.md): the validated rows and their sources, the rule that picks one
number per bank, metric and period, and reporting periods (how a value is shown:
:mod:`wb.banks.display`).

:class:`Panel` holds the validated ``bank_panel`` frame from :func:`wb.door.io.load` plus its
sources table; :mod:`wb.banks.metrics` computes the comparison's tables from it.

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
  only as *excluded* (:meth:`Panel.excluded`, :func:`wb.banks.metrics.coverage`);
* rows that state only a direction (``direction`` up/down/loss, no ``value``): evidence for
  the news check (:meth:`Panel.directions`), never a value.

``unverified`` rows may be selected; every table carries ``status`` and ``status_reason`` so a
chart's note can say so.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import ParamSpec, TypeVar

import pandas as pd

from wb.banks.display import display_value
from wb.door import io
from wb.door.bank_schemas import REPORTING_PERIOD_RE
from wb.errors import InputError

# --------------------------------------------------------------------------- the panel

CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}
QUALIFIER_RANK = {"exact": 0, "about": 1, "over": 2, "under": 2}


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

    def resolve_banks(self, given: str | Sequence[str] | None) -> list[str] | None:
        """The bank ids a person means, in the order given, without repeats: an id in any case
        (``cmb``, ``CMB``), a bank's Chinese name (``招商银行``) or its short form (``招商``),
        its display name (``招商银行 CMB``), or a part of a Chinese name that only one bank has.
        ``None`` (every bank) stays ``None``; one name alone is a list of one.

        Raises
        ------
        InputError
            A name no bank has, or one several banks share: the error names the banks it
            could mean (or the closest one) and every valid id with its name.
        """
        if given is None:
            return None
        names = self.bank_names()
        aliases: dict[str, set[str]] = {}
        for bank, name in names.items():
            zh, _, en = name.partition(" ")
            for alias in (bank, name, zh, zh.removesuffix("银行"), en):
                if alias:
                    aliases.setdefault(alias.casefold(), set()).add(bank)
        valid = "Valid bank ids: " + ", ".join(f"{b} ({n})" for b, n in names.items())
        ids: list[str] = []
        for entry in [given] if isinstance(given, str) else list(given):
            text = " ".join(str(entry).split()).casefold()
            found = aliases.get(text) or {
                b for b, n in names.items() if len(text) >= 2 and text in n.casefold()
            }
            if len(found) > 1:
                could = ", ".join(f"{b} ({names[b]})" for b in sorted(found))
                raise InputError(f"bank {entry!r} could be any of {could}: give one of these ids")
            if not found:
                close = difflib.get_close_matches(text, list(aliases), n=1, cutoff=0.5)
                guess = sorted(aliases[close[0]])[0] if close else None
                hint = f"; did you mean {guess!r} ({names[guess]})?" if guess else "."
                raise InputError(f"unknown bank {entry!r}{hint} {valid}")
            ids += [b for b in found if b not in ids]
        return ids

    @cached_property
    def _ranked(self) -> dict[tuple[str, str, str], pd.DataFrame]:
        ranked = rank_rows(self.usable, self.sources)
        return dict(iter(ranked.groupby(["bank_id", "period", "metric"], sort=False)))

    @cached_property
    def memo(self) -> dict[tuple[object, ...], object]:
        """Results computed from this panel, by function and arguments (:func:`per_panel`):
        the panel is read-only once loaded, so each is computed once."""
        return {}

    @cached_property
    def _suspect(self) -> dict[tuple[str, str, str], pd.DataFrame]:
        suspect = self.frame[self.frame["status"] == "suspect"]
        return dict(iter(suspect.groupby(["bank_id", "period", "metric"], sort=False)))

    @cached_property
    def _directions(self) -> dict[tuple[str, str, str], pd.DataFrame]:
        f = self.frame
        ranked = rank_rows(f[(f["direction"] != "") & (f["status"] != "suspect")], self.sources)
        return dict(iter(ranked.groupby(["bank_id", "period", "metric"], sort=False)))

    def excluded(self, bank_id: str, period: str, metric: str) -> pd.DataFrame:
        """The ``suspect`` rows for one bank, period and metric (never selected)."""
        rows = self._suspect.get((bank_id, period, metric))
        return self.frame.iloc[:0] if rows is None else rows

    def directions(self, bank_id: str, period: str, metric: str) -> pd.DataFrame:
        """Rows that state only a direction (up/down/loss), suspect ones left out."""
        found = self._directions.get((bank_id, period, metric))
        return rank_rows(self.frame.iloc[:0], self.sources) if found is None else found

    def rows(
        self, bank_id: str, period: str, metric: str, basis: str | None = None
    ) -> pd.DataFrame:
        """Every usable row for one bank, period and metric (of one ``basis`` when given),
        ranked by the selection rule."""
        rows = self._ranked.get((bank_id, period, metric))
        if rows is None:
            return self.frame.iloc[:0]
        return rows if basis is None else rows[rows["basis"] == basis]

    def periods_of(self, bank_id: str, metric: str) -> list[str]:
        """The periods that hold ``metric`` for ``bank_id``."""
        return [p for (b, p, m) in self._ranked if b == bank_id and m == metric]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def per_panel(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn(panel, ...)`` computed once per panel and arguments and kept in
    :attr:`Panel.memo` (lists count as tuples; arguments that cannot be hashed are computed
    each time). A kept frame is handed out as a copy, as callers may change theirs; any
    other result is shared, so it must not be changed."""

    @functools.wraps(fn)
    def cached(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        panel, *rest = args
        key = (
            fn.__qualname__,
            *map(_hashable, rest),
            *((name, _hashable(value)) for name, value in sorted(kwargs.items())),
        )
        try:
            hash(key)
        except TypeError:  # an argument that cannot be hashed (a dict of groups): not kept
            return fn(*args, **kwargs)
        memo = panel.memo  # type: ignore[attr-defined]
        if key not in memo:
            memo[key] = fn(*args, **kwargs)
        found = memo[key]
        return found.copy() if isinstance(found, pd.DataFrame) else found  # type: ignore[no-any-return]

    return cached


def _hashable(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


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
    _texts: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

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
        if kind not in self._texts:
            alts = self.alternatives
            differ = (alts["value"] != self.value) | (alts["qualifier"] != self.qualifier)
            self._texts[kind] = "; ".join(
                f"{display_value(r.value, r.qualifier, kind, digits=2)} ({r.source_id})"
                for r in alts[differ].itertuples()
            )
        return self._texts[kind]


@per_panel
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


def period_order(period: str) -> tuple[str, str]:
    """Sort key of period names: by the year they end in, then by name (``FY2023`` <
    ``H1 2024`` < ``FY2024``)."""
    return period[-4:], period


# --------------------------------------------------------------------------- names


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
