"""A problem with an input file, as the user reads it: the file, the column(s), what was expected
and the spreadsheet rows (header = row 1, first data row = row 2), summarised when there are
many; the values shown are redacted (:func:`wb.door.privacy.redact`). Raised together as a
:class:`ValidationError` (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wb.door import privacy
from wb.errors import InputError

#: Rows listed per problem before the rest is counted.
MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Problem:
    """One kind of failure on one column (or column set), over one or more rows."""

    file: str
    columns: tuple[str, ...]
    expected: str
    rows: tuple[int, ...] = ()
    found: tuple[str, ...] = field(default=(), compare=False)
    missing_column: bool = False

    def __str__(self) -> str:
        cols = ", ".join(f"'{c}'" for c in self.columns)
        where = f"column{'s' if len(self.columns) > 1 else ''} {cols}"
        if self.rows:
            where += f", {format_rows(self.rows)}"
        text = f"{self.file}: {where}: expected {self.expected}"
        if self.found:
            shown = ", ".join(self.found[:3])
            text += f"; found {shown}" + (" …" if len(self.found) > 3 else "")
        return text


def format_rows(rows: Iterable[int]) -> str:
    """'row 5', 'rows 5, 9' or 'rows 2, 3, 4, 5, 6 and 1,234 more (1,239 rows)'."""
    ordered = sorted(set(rows))
    if len(ordered) == 1:
        return f"row {ordered[0]}"
    shown = ", ".join(str(r) for r in ordered[:MAX_ROWS_SHOWN])
    rest = len(ordered) - MAX_ROWS_SHOWN
    if rest > 0:
        return f"rows {shown} and {rest:,} more ({len(ordered):,} rows)"
    return f"rows {shown}"


class ValidationError(InputError):
    """Invalid input: carries every :class:`Problem` found (exit 2)."""

    def __init__(self, problems: list[Problem], file: str, schema: str):
        self.problems = problems
        head = (
            f"{file}: {len(problems)} problem{'s' if len(problems) != 1 else ''} ({schema} schema)"
        )
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


def rows_of(mask: pd.Series | np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) + 2 for i in np.flatnonzero(np.asarray(mask)))


def found_in(series: pd.Series, mask: pd.Series) -> tuple[str, ...]:
    return tuple(shown(v) for v in series[mask].head(3).tolist())


def shown(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return privacy.redact(value)
