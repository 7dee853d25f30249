"""Id values judged in the engine by pattern: personal data, defective characters, blank ids.

The regexes of :mod:`wb.door.privacy` (one home of the patterns) rewritten for the engines'
dialects, RE2 (DuckDB) and Java regex (Spark), as Ibis expressions that run in either engine.
The rules of :mod:`wb.warehouse.rules` apply them to every id column.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

from wb.door import privacy
from wb.warehouse.spark import on_spark

#: The character class of an e-mail's local part in :data:`wb.door.privacy.VALUE_PATTERN`.
_EMAIL_LOCAL = "[A-Za-z0-9._%+-]"


def engine_personal_pattern() -> str:
    """wb.privacy's value recogniser rewritten for the engines' regex dialects.

    DuckDB uses RE2 and Spark Java regex; RE2 has no look-around, so ``(?<!\\d)`` / ``(?!\\d)``
    become explicit boundaries. Inside ids the boundary is any non-alphanumeric character (or
    the ends), so a hash whose hex digits happen to run 11 long is not taken for a phone
    number, while ``tel:13812345678`` or ``+86 138...`` still are. Python's ``\\d`` (a digit of
    any script, fullwidth ones too) is ``\\p{Nd}`` in both engines.

    The e-mail's local part is searched for as its last character only (``x@host.cn`` is found
    wherever ``name.x@host.cn`` is, and only there): Java's backtracking search ran the greedy
    ``[...]+`` to the end of an id from every position, half of Spark's time on the pattern.
    """
    text = privacy.VALUE_PATTERN.pattern
    local = _EMAIL_LOCAL
    if local + "+@" not in text:
        raise RuntimeError("wb.privacy.VALUE_PATTERN's e-mail is not the one this module ports")
    text = text.replace(local + "+@", local + "@")
    text = text.replace(r"[\dXx]", r"[\p{Nd}Xx]")
    text = text.replace(r"(?<!\d)", r"(?:^|[^\p{Nd}A-Za-z])")
    text = text.replace(r"(?!\d)", r"(?:$|[^\p{Nd}A-Za-z])")
    text = text.replace(r"\d", r"\p{Nd}")
    if re.search(r"\(\?<?[!=]", text):  # a look-around the engines cannot run
        raise RuntimeError("wb.privacy.VALUE_PATTERN has a look-around this module cannot port")
    return text


#: An id character the engines refuse (:func:`bad_id_characters`): invisible anywhere, a space
#: at either end, a Chinese character anywhere; RE2 and Java regex alike.
ID_DEFECT_PATTERN = "|".join(
    (
        privacy.char_class(privacy.INVISIBLE_RANGES, engine=True),
        "^" + privacy.char_class(privacy.SPACE_RANGES, engine=True),
        privacy.char_class(privacy.SPACE_RANGES, engine=True) + "$",
        privacy.char_class(privacy.HAN_RANGES, engine=True),
    )
)


def bad_id_characters(column: ir.StringValue) -> ir.BooleanValue:
    """In-engine test: does this id hold an invisible character (NUL, zero-width,
    right-to-left), a space at either end or a Chinese character (:mod:`wb.door.privacy`)?
    Each would make one customer or RM two, or put a name where a pseudonymous id belongs."""
    return _where_may_match(column, column.re_search(ID_DEFECT_PATTERN)).fill_null(False)


PERSONAL_PATTERN = engine_personal_pattern()
#: Either pattern: a value matches it exactly when it matches one of the two.
EITHER_PATTERN = f"(?:{PERSONAL_PATTERN})|(?:{ID_DEFECT_PATTERN})"


def looks_personal(column: ir.StringValue) -> ir.BooleanValue:
    """In-engine test: does this id value hold a phone, ID number, WeChat id or e-mail?"""
    return _where_may_match(column, column.re_search(PERSONAL_PATTERN)).fill_null(False)


#: The fewest consecutive digits a phone or ID number in a plain id has (a mobile number, a
#: Hong Kong number with its country code; ID numbers have 15 or more).
PLAIN_DIGIT_RUN = 11
#: An id of ASCII letters, digits and ``_`` only (:func:`plain_id`), and the run of digits a
#: plain id lacks; RE2 and Java alike (``\z``: Java's ``$`` also matches before a final
#: newline).
PLAIN_CHARACTERS = r"^[A-Za-z0-9_]*\z"
PLAIN_DIGITS = f"[0-9]{{{PLAIN_DIGIT_RUN}}}"


def plain_id(column: ir.StringValue) -> ir.BooleanValue:
    """Whether an id is *plain*: only ASCII letters, digits and ``_``, no ``wxid_`` and no run of
    :data:`PLAIN_DIGIT_RUN` digits. Neither :data:`PERSONAL_PATTERN` nor
    :data:`ID_DEFECT_PATTERN` can match a plain id: every character is printable ASCII and
    not a space; an e-mail needs ``@``, a landline ``(`` or a separator after its area code, a
    WeChat id ``wxid_``; a mobile, Hong Kong or ID number without separators, ``+`` or
    fullwidth digits is a run of 11 or more ASCII digits (``tests/warehouse/test_patterns.py``
    holds it on both patterns). Null on a null id.

    Two small regexes (an anchored character class and a digit run) and a ``contains``:
    Spark's ``translate``, which this replaced, looks up every character in a map of strings
    (the benchmark's 11.3M contact ids: 1.6 s of wall time on two cores over a plain scan,
    against 3.3 s). Not one regex with alternatives, nor an unanchored search for a character
    outside the class: Java's search then tries each position and costs 3-4 times as much.
    """
    return (
        column.re_search(PLAIN_CHARACTERS)
        & ~column.re_search(PLAIN_DIGITS)
        & ~column.contains("wxid_")
    )


def _where_may_match(column: ir.StringValue, found: ir.BooleanValue) -> ir.BooleanValue:
    """``found`` (a search of ``column`` for :data:`PERSONAL_PATTERN` or
    :data:`ID_DEFECT_PATTERN`), searched only where it may be true. On Spark only where the
    id is not :func:`plain_id` (false on plain ids, which neither pattern matches); on DuckDB
    only where :data:`EITHER_PATTERN` matches: one RE2 search instead of two when a column's
    two rules are counted in the same aggregate, which computes the shared search once.
    DuckDB's ``translate`` costs 25 times its RE2 search (2.5 against 0.1 us per value)."""
    if on_spark(column):
        return ibis.ifelse(plain_id(column).fill_null(False), False, found)
    return ibis.ifelse(column.re_search(EITHER_PATTERN).fill_null(False), found, False)


#: A character that is not whitespace (Python's ``string.whitespace``, which Ibis's ``strip``
#: removes): an id without one is empty once stripped. Written with regex escapes, read alike
#: by RE2 and Java regex, so no control character goes through a SQL string literal: sqlglot
#: 30.17 writes vertical tab and form feed into Spark SQL as ``\v`` and ``\f``, which Spark
#: reads as the letters v and f.
NOT_BLANK_RE = r"[^ \t\n\r\x0b\x0c]"


def blank(column: ir.StringValue) -> ir.BooleanValue:
    """Whether an id is empty once stripped; false on null.

    Not ``strip().length() == 0``: DuckDB's TRIM with a character set costs 2.6 s of CPU on
    10M ids. Every whitespace character sorts before ``"!"``, so a blank id does too, and only
    such ids (few) are searched for a character that is not whitespace; the conditional keeps
    the engines from searching the others (3 s of CPU on 11M contacts otherwise).
    """
    return ibis.ifelse(column < "!", ~column.re_search(NOT_BLANK_RE), False)
