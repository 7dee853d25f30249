"""Build ``data/bank_panel.csv``, ``data/entities_panel.csv`` and ``data/sources.csv``.

Reads the researched figures (``--src``, default ``data/raw/public_figures.csv``: one row per
printed figure with its source and quote) and writes the long bank panel of docs/data.md. Same
input, same bytes. Run from the repo root::

    .venv/bin/python scripts/build_bank_panel.py [--src PATH] [--out data]

Rules, row by row:

* A row enters the panel when its value is a figure the source prints and its quote carries.
  Values the researcher computed (``derived_note``) are not figures and never enter; the code
  in :mod:`wb.banks.metrics` derives them again and labels them derived.
* A change printed beside a level (``yoy_as_written``) becomes its own row when the quote
  carries its number: ``<metric>_yoy`` (year on year), ``<metric>_growth_ytd`` (since the
  previous year-end, for a half-year or quarter), ``<metric>_pp_yoy`` (a share's change in
  percentage points, as a fraction: 0.0101 = 1.01 pp) or ``<metric>_increment`` (an amount).
* Branch-level and anonymised entities go to ``entities_panel.csv`` (same schema), never into
  the bank panel.
* Values are checked against the text as written (``parse_cn_amount``): a unit slip stops the
  build.
* A row that states only a direction (翻倍, 小幅上涨, 不同程度下滑, 出现亏损) keeps it in
  ``direction`` (``up``, ``down``, ``loss``) with an empty ``value``: evidence for the news
  check, never a value. A direction word the build does not know stops it.
* ``status`` (``ok``, ``unverified``, ``suspect``) and ``status_reason`` are copied: suspect rows
  stay in the panel for the record; :func:`wb.banks.panel.select` never picks them.
* ``basis`` is a short key of what a figure measures, so that changes, shares and cross-bank
  levels only ever combine figures of one basis (:data:`wb.banks.panel.BASIS_RULES`); ``definition`` keeps
  the researcher's unit note in full.
* Source ids are ``src-<date>-xxxx``: the publication date's digits to the precision printed
  (``20250829``, ``202508`` or ``2025``; ``undated`` when none is shown) and 4 hex of the URL's
  SHA-1. ``sources.date`` keeps that precision (``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` or empty),
  ``date_precision`` names it and ``date_as_written`` keeps the original.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
from pathlib import Path

import pandas as pd

from wb.banks.panel import basis_of
from wb.door.bank_schemas import PERIOD_RE
from wb.door.cn_text import cn_qualifier, parse_cn_amount
from wb.door.writers import write_table

BANK_IDS = (
    "icbc",
    "ccb",
    "abc",
    "boc",
    "bocom",
    "psbc",
    "cmb",
    "pab",
    "citic",
    "ceb",
    "czb",
    "bob",
    "hxb",
    "spdb",
    "cib",
    "cmbc",
    "srcb",
    "nbcb",
    "jsb",
)
COLUMNS = [
    "bank_id",
    "bank_name",
    "period",
    "metric",
    "value",
    "qualifier",
    "source_id",
    "quote",
    "direction",
    "basis",
    "definition",
    "confidence",
    "status",
    "status_reason",
    "note",
]
SOURCE_COLUMNS = [
    "source_id",
    "title",
    "publisher",
    "date",
    "url",
    "date_as_written",
    "date_precision",
]
_PERIOD_HEAD = re.compile(r"^(FY\d{4}|H1 \d{4}|9M \d{4}|Q[1-4] \d{4}|\d{4}-\d{2}(?:-\d{2})?)")

#: Rows whose value is not a plain figure, rewritten by hand
#: (key: bank_id, period, metric, value as written).
#: Each maps to the rows that say what the source says, or to () to leave the row out.
SPECIAL: dict[tuple[str, str, str, str], tuple[tuple[str, float, str, str], ...]] = {
    # "9.21亿元的约三分之一以下": a bound the researcher worked out (derived), not a figure.
    ("ceb", "FY2024", "retail_profit", "9.21亿元的约三分之一以下 ('3倍有余')"): (),
    # "10元~15元可添加100人": the file holds the midpoint 12.5 (derived); keep the printed ends.
    (
        "market_price_anon",
        "2025-12 (as reported)",
        "wecom_add_purchase_price_cny_per_100",
        "10元~15元可添加100人",
    ): (
        ("wecom_add_price_per_100_low", 10.0, "exact", "yuan per 100 WeCom adds, low end"),
        ("wecom_add_price_per_100_high", 15.0, "exact", "yuan per 100 WeCom adds, high end"),
    ),
    # "客户经理100个/人、柜员50个/人": two quotas in one sentence.
    (
        "sichuan_rcc_anon",
        "2025-09 onward",
        "wecom_add_quota_monthly",
        "客户经理100个/人、柜员50个/人",
    ): (
        ("wecom_add_quota_monthly", 100.0, "exact", "WeCom adds per RM per month"),
        ("wecom_add_quota_monthly_teller", 50.0, "exact", "WeCom adds per teller per month"),
    ),
}
#: Changes printed beside a level that the generic reader below does not cover.
SPECIAL_CHANGES: dict[tuple[str, str, str], tuple[tuple[str, str, float, str], ...]] = {
    # "占比36.25%(2024年同期:1240.52亿元/39.02%)"
    ("boc", "H1 2025", "corporate_operating_income"): (
        ("H1 2025", "corporate_income_share", 0.3625, "share of bank operating income"),
        ("H1 2024", "corporate_operating_income", 1240.52e8, "CNY, prior-year level as printed"),
        ("H1 2024", "corporate_income_share", 0.3902, "share of bank operating income"),
    ),
}
_DOWN = ("下降", "下滑", "减少", "降", "down", "decrease", "fell", "declin", "lower")
#: Words that state only a direction (no number), first match wins: loss before down before up.
DIRECTION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss", ("亏损",)),
    ("down", ("下滑", "下降", "减少", "回落")),
    ("up", ("翻倍", "上涨", "增长", "上升", "提升")),
)
_YTD = ("较年初", "較年初", "较上年末", "較上年末", "比上年末", "較上年末")


def normalise_period(text: str) -> tuple[str, str] | None:
    """``"Q3 2025 (2025-09-30)"`` → ``("Q3 2025", "period as written: …")``; None if undated."""
    m = _PERIOD_HEAD.match(text)
    if not m or not re.match(PERIOD_RE, m.group(1)):
        return None
    head = m.group(1)
    return head, ("" if head == text else f"period as written: {text}")


def change_rows(row: pd.Series, period: str) -> list[tuple[str, str, float, str, str]]:
    """Rows for the change printed beside a level: (period, metric, value, qualifier, basis)."""
    key = (row.bank_id, row.period, row.metric)
    if key in SPECIAL_CHANGES:
        return [(p, m, v, "exact", b) for p, m, v, b in SPECIAL_CHANGES[key]]
    text = re.sub(r"\d{4}年", "", row.yoy_as_written)  # "较2023年同期": a year, not an amount
    if not text or row.metric.endswith("_yoy"):
        return []
    if not re.search(r"\d", text):  # "扭转去年同期亏损": a change in words, no figure
        print(f"left out (change in words only): {row.bank_id} {period} {row.yoy_as_written!r}")
        return []
    points = re.search(r"(\d+(?:\.\d+)?)\s*个百分点", text)
    percent = re.search(r"(\d+(?:\.\d+)?)\s*%", text)  # "8.2bn yuan or 17.6%": the percent
    if points:
        value = float(points.group(1)) / 100
    elif percent:
        value = float(percent.group(1)) / 100
    else:
        value = parse_cn_amount(text)
    # down in words, a minus sign, or an accountant's brackets "(9.8%)"
    negative = any(w in text for w in _DOWN) or re.search(r"[-−(]\s*\d", text) is not None
    value = -abs(value) if negative else abs(value)
    qualifier = cn_qualifier(text)
    if points:
        return [(period, f"{row.metric}_pp_yoy", value, qualifier, "change in percentage points")]
    if "%" not in text:
        return [(period, f"{row.metric}_increment", value, qualifier, "change, canonical units")]
    if any(w in text for w in _YTD) and not period.startswith("FY"):
        return [(period, f"{row.metric}_growth_ytd", value, qualifier, "growth since year-end")]
    return [(period, f"{row.metric}_yoy", value, qualifier, "change on a year earlier")]


def direction_of(row: pd.Series) -> str:
    """``up``, ``down`` or ``loss`` for a row that states only a direction; stop if unknown."""
    for direction, words in DIRECTION_WORDS:
        if any(w in row.value_as_written for w in words):
            return direction
    raise SystemExit(
        f"no figure and no known direction word: {row.bank_id} {row.period} {row.metric} "
        f"{row.value_as_written!r}; add the word to DIRECTION_WORDS or a SPECIAL entry"
    )


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip("0").rstrip(".") for n in re.findall(r"\d[\d,.]*", text)}


def check_value(row: pd.Series, value: float) -> None:
    """Stop when the number as written, read with Chinese units, disagrees with ``value``."""
    try:
        written = parse_cn_amount(row.value_as_written)
    except ValueError:
        return
    if re.search(r"[A-Za-z/]|\(百万", row.value_as_written) or "降幅" in row.value_as_written:
        return  # English units, or a sign given in words: checked by eye in the source file
    if not math.isclose(abs(written), abs(value), rel_tol=1e-9):
        raise SystemExit(
            f"unit check failed: {row.bank_id} {row.period} {row.metric}: "
            f"{row.value_as_written!r} reads as {written:g}, file says {value:g}"
        )


def source_id(url: str, date: str) -> str:
    """``src-20220402-3f2a``: the date's digits as printed (or ``undated``), 4 hex of SHA-1(url)."""
    stamp = date.replace("-", "") or "undated"
    return f"src-{stamp}-{hashlib.sha1(url.encode()).hexdigest()[:4]}"


def source_date(text: str) -> tuple[str, str]:
    """(date to the precision printed, precision): ``day``, ``month``, ``year`` or ``none``."""
    if m := re.match(r"^(\d{4}-\d{2}-\d{2})", text):
        return m.group(1), "day"
    if m := re.match(r"^(\d{4}-\d{2})", text):
        return m.group(1), "month"
    if m := re.match(r"^(\d{4})", text):
        return m.group(1), "year"
    return "", "none"


def build_sources(src: pd.DataFrame) -> pd.DataFrame:
    """One row per source URL; title and publisher from its first row in the file."""
    firsts = src.drop_duplicates("source_url")
    rows = []
    for r in firsts.itertuples():
        day, precision = source_date(r.source_date)
        rows.append(
            {
                "source_id": source_id(r.source_url, day),
                "title": r.source_title,
                "publisher": r.source_publisher,
                "date": day,
                "url": r.source_url,
                "date_as_written": r.source_date,
                "date_precision": precision,
            }
        )
    return pd.DataFrame(rows, columns=SOURCE_COLUMNS)


def panel_rows(row: pd.Series, sid: str) -> list[dict[str, object]]:
    """The panel rows one researched figure yields (the figure and the changes beside it)."""
    period_note = normalise_period(row.period)
    if period_note is None:
        return []
    period, pnote = period_note
    if not row.quote.strip():
        raise SystemExit(
            f"no quote: {row.bank_id} {row.period} {row.metric}; every figure needs one"
        )
    name = row.bank if row.bank_id not in BANK_IDS else f"{row.bank} {row.bank_id.upper()}"
    base = {
        "bank_id": row.bank_id,
        "bank_name": name,
        "period": period,
        "source_id": sid,
        "quote": row.quote,
        "direction": "",
        "definition": row.unit_note,
        "confidence": row.confidence,
        "status": row.status,
        "status_reason": row.status_reason,
    }
    notes = [n for n in (pnote, row.notes) if n]
    key = (row.bank_id, row.period, row.metric)
    special = (*key, row.value_as_written)
    if special in SPECIAL:
        figures = [(m, v, q, b, "") for m, v, q, b in SPECIAL[special]]
    elif not row.value_cny_or_count.strip():
        figures = [(row.metric, math.nan, row.qualifier, row.unit_note, direction_of(row))]
    else:
        value = float(row.value_cny_or_count)
        check_value(row, value)
        figures = [(row.metric, value, row.qualifier, row.unit_note, "")]
    out = [
        base
        | {
            "metric": m,
            "value": v,
            "qualifier": q,
            "direction": d,
            "basis": basis_of(m, row.unit_note),
            "definition": b,
            "note": "; ".join([f"as written: {row.value_as_written}", *notes]),
        }
        for m, v, q, b, d in figures
    ]
    quoted = _numbers(row.quote)
    for p, m, v, q, b in change_rows(row, period):
        printed = _numbers(re.sub(r"\d{4}年", "", row.yoy_as_written))
        if key not in SPECIAL_CHANGES and not printed <= quoted:
            print(f"left out (quote lacks it): {row.bank_id} {period} {m} {row.yoy_as_written!r}")
            continue
        out.append(
            base
            | {
                "period": p,
                "metric": m,
                "value": v,
                "qualifier": q,
                "basis": basis_of(row.metric, row.unit_note),
                "definition": b,
                "note": f"printed beside the {row.metric} figure: {row.yoy_as_written}",
            }
        )
    return out


def _fmt(value: float) -> str:
    """Plain decimal text, no exponent, no trailing zeros: same value, same bytes ("" if NaN)."""
    if math.isnan(value):
        return ""
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def build(src_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (bank panel, entities panel, sources) built from ``public_figures.csv``."""
    src = pd.read_csv(src_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    sources = build_sources(src)
    ids = dict(zip(sources["url"], sources["source_id"], strict=True))
    rows = []
    for _, row in src.iterrows():
        produced = panel_rows(row, ids[row.source_url])
        if not produced:
            print(f"left out (no figure or no period): {row.bank_id} {row.period!r} {row.metric}")
        rows += produced
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = frame.drop_duplicates(
        ["bank_id", "period", "metric", "value", "direction", "source_id"]
    )
    frame = frame.sort_values(["bank_id", "period", "metric", "source_id", "value"], kind="stable")
    frame["value"] = frame["value"].map(_fmt)
    is_bank = frame["bank_id"].isin(BANK_IDS)
    cited = set(frame["source_id"])
    sources = sources[sources["source_id"].isin(cited)].sort_values("source_id")
    return (
        frame[is_bank].reset_index(drop=True),
        frame[~is_bank].reset_index(drop=True),
        sources.reset_index(drop=True),
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--src`` (the researched figures, CSV) and ``--out`` (folder); prints a
    summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src",
        type=Path,
        default=Path("data/raw/public_figures.csv"),
        help="the researched figures (CSV)",
    )
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args(argv)
    banks, entities, sources = build(args.src)
    write_table(banks, args.out / "bank_panel.csv")
    write_table(entities, args.out / "entities_panel.csv")
    write_table(sources, args.out / "sources.csv")
    print(
        f"wrote {args.out}/bank_panel.csv ({len(banks)} rows, {banks['bank_id'].nunique()} banks), "
        f"entities_panel.csv ({len(entities)} rows), sources.csv ({len(sources)} sources)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
