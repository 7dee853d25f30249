"""A finding of the bank comparison: one plain sentence (Chinese and English) computed from the
panel, with the numbers and source ids behind it (:class:`Finding`), and the findings of one
comparison (:class:`Findings`); the pieces sentences are written with (a bank's short name and
value, the clause naming unverified figures). The sentences are in :mod:`wb.banks.comparison`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from wb.banks.display import display_value, value_kind
from wb.door.display import html_table, jsonable

#: A finding's ``kind``: a result about the banks, or a note on what the panel covers.
FINDING, COVERAGE = "finding", "coverage"


@dataclass(frozen=True)
class Finding:
    """One sentence computed from the panel, and the figures behind it.

    Every figure a sentence states is written by :func:`wb.banks.display.display_value`: with
    its qualifier (≥/≈/≤), at its printed precision, and marked
    :data:`~wb.banks.display.UNVERIFIED_MARK` when unverified; a count that rests on unverified
    figures names them with that mark.

    Attributes
    ----------
    key : str
        ``retail_income``, ``retail_profit``, ``retail_share``, ``retail_aum``, ``wecom``,
        ``trend`` or ``coverage``.
    zh, en : str
        The sentence in Chinese and English.
    numbers : list of dict
        bank_id, metric, period, value (canonical units: yuan, persons, fractions), qualifier,
        method (quoted/derived), status (ok/unverified), source_ids.
    kind : str
        :data:`FINDING` (a result about the banks: a key finding) or :data:`COVERAGE` (how much
        of the panel is known: a note on the data, for a footnote, never a key finding).
    """

    key: str
    zh: str
    en: str
    numbers: list[dict[str, object]] = field(default_factory=list)
    kind: str = "finding"

    @property
    def source_ids(self) -> list[str]:
        """Every source behind the numbers, sorted."""
        return sorted({s for n in self.numbers for s in n["source_ids"]})

    def tidy(self) -> pd.DataFrame:
        """One row per number behind the sentence (canonical units: yuan, persons, fractions)."""
        columns = [
            "bank_id",
            "metric",
            "period",
            "value",
            "qualifier",
            "method",
            "status",
            "source_ids",
        ]
        return pd.DataFrame(self.numbers, columns=columns).assign(key=self.key)

    def summary(self) -> str:
        """The sentence, English then Chinese."""
        return f"{self.en}. {self.zh}。"

    def view(self) -> pd.DataFrame:
        """The numbers as printed: each value in its unit (亿元/万亿元, %, 万/亿 persons)."""
        table = self.tidy().drop(columns="key")
        table["value"] = [
            display_value(v, q, value_kind(m), status=st)
            for v, q, m, st in zip(
                table["value"], table["qualifier"], table["metric"], table["status"], strict=True
            )
        ]
        return table.drop(columns=["qualifier", "status"]).rename(
            columns={"value": "value (unit shown)"}
        )

    def _repr_html_(self) -> str:
        return html_table(self.view(), self.summary())

    def to_json(self) -> dict[str, object]:
        """``key``, ``kind``, ``zh``, ``en``, ``numbers`` and ``source_ids`` as strict JSON."""
        numbers = [{k: jsonable(v) for k, v in n.items()} for n in self.numbers]
        return {
            "key": self.key,
            "kind": self.kind,
            "zh": self.zh,
            "en": self.en,
            "numbers": numbers,
            "source_ids": self.source_ids,
        }


@dataclass(frozen=True)
class Findings:
    """Every finding of one comparison, in the order of the three questions; ``found[key]``."""

    period: str
    items: tuple[Finding, ...]

    def __getitem__(self, key: str) -> Finding:
        for finding in self.items:
            if finding.key == key:
                return finding
        raise KeyError(f"no finding {key!r}; there are: {', '.join(f.key for f in self.items)}")

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def key_findings(self) -> tuple[Finding, ...]:
        """The results about the banks (``kind == "finding"``), in order."""
        return tuple(f for f in self.items if f.kind == FINDING)

    @property
    def coverage_notes(self) -> tuple[Finding, ...]:
        """The notes on how much of the panel is known (``kind == "coverage"``)."""
        return tuple(f for f in self.items if f.kind == COVERAGE)

    def tidy(self) -> pd.DataFrame:
        """One row per number behind any finding, with its finding's ``key``."""
        return pd.concat([f.tidy() for f in self.items], ignore_index=True)

    def summary(self) -> str:
        """One line per finding."""
        return "\n".join(f"- {f.summary()}" for f in self.items)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(f.summary())}</li>" for f in self.items)
        return f"<div><b>Findings, {html.escape(self.period)}</b><ul>{items}</ul></div>"

    @property
    def source_ids(self) -> set[str]:
        return {s for f in self.items for s in f.source_ids}


def short_name(name: str) -> str:
    """'平安银行 PAB' → '平安'; entities keep their name."""
    head = name.split(" ")[0]
    return head.removesuffix("银行") or head


def named_value(row: pd.Series, value: str, qualifier: str, kind: str) -> str:
    """``"平安 -20.49%"``: a bank's short name and one of its values, as
    :func:`~wb.banks.display.display_value` states it (qualifier, printed precision, and the
    unverified mark when the row's ``status`` says so)."""
    status = str(row.get("status", "ok") or "ok")
    text = display_value(row[value], row[qualifier] or "exact", kind, status=status)
    return f"{short_name(row['bank_name'])} {text}"


def unverified_clause(
    rows: pd.DataFrame, value: str, qualifier: str, kind: str, stated: tuple[str, ...] = ()
) -> tuple[str, str]:
    """For a count that rests on unverified figures: the clause (zh, en) naming each with its
    mark; banks in ``stated`` are already named in the sentence. ``("", "")`` when none."""
    rows = rows[(rows["status"] == "unverified") & ~rows["bank_id"].isin(stated)]
    if rows.empty:
        return "", ""
    said = [named_value(r, value, qualifier, kind) for _, r in rows.iterrows()]
    return f"(其中{'、'.join(said)})", f" (including {', '.join(said)})"


def numbers_of(table: pd.DataFrame, metric: str, period: str, value: str = "value") -> list[dict]:
    known = table[table[value].notna()]
    return [
        {
            "bank_id": r["bank_id"],
            "metric": metric,
            "period": period,
            "value": float(r[value]),
            "qualifier": r.get("qualifier") or r.get("growth_qualifier") or "exact",
            "method": r.get("method", r.get("growth_method", "quoted")),
            "status": r.get("status") or "ok",
            "source_ids": list(r["source_ids"]),
        }
        for _, r in known.iterrows()
    ]
