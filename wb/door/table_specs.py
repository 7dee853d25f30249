"""How a table is declared (docs/data.md): its columns (:class:`ColumnSpec`: kind, required,
nullable, meaning) and the rules its rows must meet (:class:`Rule`, checked as pandera checks).
The tables themselves are declared in :mod:`wb.door.schemas` and :mod:`wb.door.bank_schemas`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pandera loads in ~0.5 s (and pyspark through it): only when rules run on it
    import pandera.pandas as pa


Kind = Literal["text", "month", "int", "number", "date"]


@dataclass(frozen=True)
class Rule:
    """A rule rows must meet: ``fn`` maps a column (a table rule: the frame) to a boolean
    mask, True where the row meets it; ``error`` is what the user should have written.

    A column rule is element-wise (each value passes or fails on its own), so it may be
    checked on a column's distinct values. Missing values are exempt, as in pandera.
    """

    fn: Callable
    name: str
    error: str

    def check(self) -> pa.Check:
        """The rule as a pandera check."""
        import pandera.pandas as pa

        return pa.Check(self.fn, name=self.name, error=self.error)


@dataclass(frozen=True)
class ColumnSpec:
    """One declared column: its kind, whether it must be present and whether it may be empty."""

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    meaning: str = ""
    #: The column's value rules, when the table's rules come from its specs.
    checks: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """A declared table: its columns and its rules.

    The rules live either in the specs (each column's ``checks``, the table rules ``checks``
    and the key ``unique``), or, when ``custom_rules`` is given, in the pandera schema it
    builds. :attr:`rules` is the pandera schema either way, built on first use.
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    checks: tuple[Rule, ...] = ()
    unique: tuple[str, ...] = ()
    custom_rules: Callable[[], pa.DataFrameSchema] | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def rules_in_specs(self) -> bool:
        """Whether every rule is held in the specs (and can be checked without pandera)."""
        return self.custom_rules is None

    @cached_property
    def rules(self) -> pa.DataFrameSchema:
        """The table's rules as one pandera schema (pandera is imported here)."""
        return self.custom_rules() if self.custom_rules is not None else _rules_from(self)


# --------------------------------------------------------------------------- rules


def pandera_check(fn, name: str, expected: str) -> pa.Check:
    """A :class:`Rule` as a pandera check, for the rules written as pandera schemas."""
    return Rule(fn, name, expected).check()


def nonempty(name: str) -> Rule:
    return Rule(lambda s: s.str.len() > 0, f"{name}_nonempty", "a non-empty id")


def nonnegative(name: str) -> Rule:
    return Rule(lambda s: s >= 0, f"{name}_ge0", "a value >= 0")


#: The dtype a column of each kind has after reading (whole numbers are read as float so that
#: a missing one stays missing).
_DTYPES: dict[str, type] = {"text": str, "month": str, "int": float, "number": float}


def _rules_from(spec: TableSpec) -> pa.DataFrameSchema:
    """The pandera schema of a table whose rules live in its specs: one declaration per
    column. Missing values are the readers' concern (``nullable``)."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            c.name: pa.Column(
                _DTYPES[c.kind], [r.check() for r in c.checks], nullable=True, required=c.required
            )
            for c in spec.columns
        },
        checks=[r.check() for r in spec.checks],
        unique=list(spec.unique) or None,
        strict=False,
        coerce=False,
    )
