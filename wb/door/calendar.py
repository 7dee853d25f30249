"""Months as integers: the one month index of ``wb``, for pandas columns and for Ibis
expressions on either warehouse engine.

A month's index is ``year * 12 + month - 1`` (``2024-01`` is 24288, ``2024-12`` is 24299):
consecutive months differ by one, so gaps and event time are differences of indices, and the
index gives back its month as ``(index // 12, index % 12 + 1)``. Ibis is not imported here: the
expression functions only call methods of the expressions they are given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import ibis.expr.types as ir

#: A month written as text, ``YYYY-MM`` (ASCII digits): the one month format of every input,
#: checked by pandas, Python's ``re`` and the warehouse engines alike.
MONTH_RE = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def month_numbers(months: Iterable[str]) -> np.ndarray:
    """Each ``YYYY-MM`` text as its month index (int64)."""
    return np.array([int(m[:4]) * 12 + int(m[5:7]) - 1 for m in months], dtype="int64")


def month_index(months: pd.Series) -> pd.Series:
    """A column of ``YYYY-MM`` text as month indices (int64), on the same index."""
    codes, uniques = pd.factorize(months)  # a few dozen distinct months: parse each once
    return pd.Series(month_numbers(uniques)[codes], index=months.index)


def month_index_expr(column: ir.Value) -> ir.IntegerValue:
    """The month index of an Ibis column of ``YYYY-MM`` text or of dates/timestamps.

    Text is read as the number ``YYYYMM`` (hyphens removed, one cast: two substrings and two
    casts cost DuckDB three times the CPU on 40M rows); text that is not a number once its
    hyphens are removed gives null, other text that is not ``YYYY-MM`` some number. Equal
    texts always give equal indices.
    """
    if column.type().is_string():
        number = column.replace("-", "").try_cast("int64")
        return number // 100 * 12 + number % 100 - 1
    return column.year().cast("int64") * 12 + column.month().cast("int64") - 1


def month_text_expr(index: ir.IntegerValue) -> ir.StringValue:
    """The ``YYYY-MM`` text of an Ibis column of month indices (:func:`month_index_expr`)."""
    year, month = index // 12, index % 12 + 1
    return year.cast("string").lpad(4, "0") + "-" + month.cast("string").lpad(2, "0")
