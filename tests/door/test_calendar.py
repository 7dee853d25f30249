"""The one month index (wb.door.calendar): pandas and both kinds of Ibis column agree, and the
callers that used the other convention (``12 * year + month``) still give the same months."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from wb.door.calendar import month_index, month_index_expr, month_numbers, month_text_expr

MONTHS = ["1999-12", "2000-01", "2023-11", "2023-12", "2024-01", "2024-02", "2024-12", "2025-01"]


def test_consecutive_months_are_consecutive_integers():
    index = month_index(pd.Series(MONTHS))
    assert list(index) == [y * 12 + m - 1 for y, m in ((int(t[:4]), int(t[5:])) for t in MONTHS)]
    assert month_index(pd.Series(["2023-12", "2024-01"])).diff().iloc[1] == 1
    assert list(month_numbers(MONTHS)) == list(index)


def test_the_engine_index_equals_the_pandas_index_for_text_and_dates():
    dates = [dt.date(int(t[:4]), int(t[5:]), 28) for t in MONTHS]
    table = ibis.memtable({"text": MONTHS, "day": dates})
    con = ibis.duckdb.connect()
    out = con.execute(
        table.select(
            from_text=month_index_expr(table.text),
            from_date=month_index_expr(table.day),
            back=month_text_expr(month_index_expr(table.text)),
        )
    )
    expected = list(month_index(pd.Series(MONTHS)))
    assert list(out.from_text) == expected
    assert list(out.from_date) == expected
    assert list(out.back) == MONTHS
