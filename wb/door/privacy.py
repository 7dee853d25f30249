"""Recognise personal data (names, phone numbers, ID numbers, WeChat ids) so it never leaves the door.

Two signals: a column *name* that says it holds personal data (Chinese or English), and
*values* that look like mainland mobile numbers, resident ID numbers, WeChat ids or e-mail
addresses. Nothing here ever returns or prints a value it matched.

Messages show a header or a value only when it cannot be personal data by what it is made
of (:func:`redact`): short printable ASCII with no phone, ID, WeChat id or e-mail in it. A
name such as 张三 cannot be told from a harmless Chinese word by pattern, so Chinese text is
never echoed; a column is then named by its position.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the warehouse's checks import neither (0.5 s of a build)
    import numpy as np
    import pandas as pd

# Column-name fragments, matched after lower-casing and removing spaces, '_', '-' and '.'.
_NAME_FRAGMENTS_ZH = (
    "姓名",
    "名字",
    "客户名",
    "户名",
    "手机",
    "电话",
    "联系方式",
    "身份证",
    "证件",
    "微信",
    "住址",
    "地址",
    "邮箱",
)
_NAME_FRAGMENTS_EN = (
    "name",
    "phone",
    "mobile",
    "telephone",
    "tel",
    "cellphone",
    "idcard",
    "idno",
    "idnumber",
    "identity",
    "nationalid",
    "passport",
    "ssn",
    "wechat",
    "weixin",
    "wxid",
    "openid",
    "unionid",
    "email",
    "address",
)
_EN_PATTERN = re.compile(
    r"(?:^|[^a-z])(?:"
    + "|".join(sorted(_NAME_FRAGMENTS_EN, key=len, reverse=True))
    + r")(?:$|[^a-z])"
)

#: A mainland mobile number: 11 digits from 13-19, optionally after +86 / 86, written plain
#: or grouped 3-4-4 with hyphens, dots or spaces (138-1234-5678, 138.1234.5678,
#: +86 138 1234 5678); digits of any script (fullwidth １３８… too: Python's ``\d`` and the
#: engines' ``\p{Nd}``). The one home of the value patterns: wb.warehouse.patterns rewrites them
#: for the engines.
_SEP = "[-. ]?"
_MOBILE = rf"(?<!\d)(?:\+?[8８][6６]{_SEP})?[1１][3-9３-９]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)"
#: A resident ID number: 18 characters (the last a digit or X), or the older 15 digits.
_RESIDENT_ID = (
    r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"
    r"|(?<!\d)[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?!\d)"
)
#: A landline with its area code set apart: 010-12345678, (0755)1234567, 0755 123 4567 (11
#: or 12 digits, as every number with an area code has).
_LANDLINE = (
    r"(?<!\d)(?:(?:\(0\d{2}\)|0\d{2}[-. ])\d{4}|(?:\(0\d{3}\)|0\d{3}[-. ])\d{3,4})[-. ]?\d{4}(?!\d)"
)
#: A Hong Kong number with its country code: +852 5123 4567, 852-51234567.
_HONG_KONG = rf"(?<!\d)\+?852{_SEP}[2-9]\d{{3}}{_SEP}\d{{4}}(?!\d)"
#: A WeChat id, also inside another id (``uid:wxid_…``, ``x_wxid_…``).
_WXID = r"wxid_[A-Za-z0-9_-]{4,}"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
VALUE_PATTERN = re.compile("|".join((_MOBILE, _RESIDENT_ID, _LANDLINE, _HONG_KONG, _WXID, _EMAIL)))

#: Characters that make one id two without being seen (code point ranges): ASCII controls
#: (tab and newline aside: text may hold them), zero-width characters, the marks and
#: embeddings that turn text right to left, word joiners and the byte order mark.
INVISIBLE_RANGES = (
    (0x00, 0x08),
    (0x0B, 0x1F),
    (0x7F, 0x7F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x2069),
    (0xFEFF, 0xFEFF),
)
#: Chinese characters (CJK ideographs, extension A and beyond, compatibility ideographs): a
#: personal name cannot be told from other Chinese text, so an id holds none.
HAN_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
#: Whitespace an id may not start or end with (ASCII, no-break and ideographic spaces).
SPACE_RANGES = ((0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x3000, 0x3000))


def char_class(ranges: tuple[tuple[int, int], ...], engine: bool = False) -> str:
    """A regex character class of the code point ``ranges``: for Python's ``re``
    (``\\uXXXX``), or, with ``engine``, for RE2 and Java regex alike (``\\x{XXXX}``)."""

    def one(code: int) -> str:
        if engine:
            return f"\\x{{{code:04x}}}"
        return f"\\U{code:08x}" if code > 0xFFFF else f"\\u{code:04x}"

    parts = (one(lo) if lo == hi else f"{one(lo)}-{one(hi)}" for lo, hi in ranges)
    return "[" + "".join(parts) + "]"


INVISIBLE = re.compile(char_class(INVISIBLE_RANGES))

#: Values scanned per column when looking for personal data by pattern.
SAMPLE_SIZE = 5000

REDACTED = "<not shown: may be personal data>"
#: Longest text a message echoes.
MAX_SHOWN = 64
_SHOWABLE = re.compile(rf"[\x20-\x7e]{{1,{MAX_SHOWN}}}")


def name_suggests_personal_data(column: str) -> bool:
    """True when a column name says it holds names, phones, ID numbers, WeChat ids or addresses."""
    raw = str(column).strip().lower()
    if any(fragment in raw for fragment in _NAME_FRAGMENTS_ZH):
        return True
    spaced = re.sub(r"[\s\-.]+", "_", raw)
    compact = spaced.replace("_", "")
    if _EN_PATTERN.search(spaced):
        return True
    return any(compact == fragment for fragment in _NAME_FRAGMENTS_EN)


def values_look_personal(values: pd.Series) -> bool:
    """True when any sampled text value contains a phone number, ID number, WeChat id or e-mail."""
    sample = values.dropna()
    if sample.empty:
        return False
    if len(sample) > SAMPLE_SIZE:
        sample = sample.iloc[:SAMPLE_SIZE]
    return bool(looks_personal(sample.astype(str)).any())


def looks_personal(text: pd.Series) -> np.ndarray:
    """Per text value (no missing ones), whether it contains a phone number, ID number, WeChat
    id or e-mail (:data:`VALUE_PATTERN`). The pattern runs only on the values that can match,
    found in one vectorised pass: eleven or more digits (any script's, as the pattern's
    ``\\d``), ``wxid_`` or ``@`` (every match holds one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow = pa.array(text.to_numpy(dtype=object), type=pa.large_string())
    digits = pc.count_substring_regex(arrow, r"\p{Nd}")  # RE2's \p{Nd} is Python's \d
    maybe = pc.or_(
        pc.greater_equal(digits, 11),
        pc.or_(pc.match_substring(arrow, "wxid_"), pc.match_substring(arrow, "@")),
    )
    return matching(text, VALUE_PATTERN, maybe.to_numpy(zero_copy_only=False))


def matching(text: pd.Series, pattern: re.Pattern[str], maybe: np.ndarray) -> np.ndarray:
    """Whether ``pattern`` is found in each value of ``text``, searched only where ``maybe``
    (a necessary condition, computed faster) holds; False elsewhere."""
    import numpy as np

    found = np.zeros(len(text), dtype=bool)
    where = np.flatnonzero(maybe)
    found[where] = [pattern.search(v) is not None for v in text.iloc[where]]
    return found


def showable(value: object) -> bool:
    """True when ``value``'s text may appear in a message: 1–64 printable ASCII characters
    with nothing that looks like a phone, ID number, WeChat id or e-mail."""
    text = str(value)
    return bool(_SHOWABLE.fullmatch(text)) and not VALUE_PATTERN.search(text)


def redact(value: object) -> str:
    """``value`` as text when :func:`showable`, else a placeholder."""
    return str(value) if showable(value) else REDACTED


def column_ref(name: object, position: int) -> str:
    """A column as messages name it: ``column 'aum_cny'``, or ``column 7 (name not shown)``."""
    return f"column '{name}'" if showable(name) else f"column {position} (name not shown)"


#: The longest engine message shown (its first line only).
MAX_MESSAGE = 300
_PATH_LIKE = re.compile(r"(?:file:)?(?:[A-Za-z]:)?(?:[/\\][^\s/\\'\"]+){2,}[/\\]?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_TOKEN = re.compile(r"[^\s,;()\[\]{}]+")
_LABELLED = "\x00"  # marks a label put in, so that its words are not screened again


def screen(message: object, labels: dict[str, str] | None = None) -> str:
    """A message from an engine (DuckDB, Spark, Arrow) made safe to show, as every message
    of ``wb`` is: each path in ``labels`` replaced by its neutral label (longest first, so a
    file is named by its own label, not its folder's), any other path by ``<path>``, and every
    quoted value or word that is not :func:`showable` by :data:`REDACTED`; its first non-empty
    line, at most :data:`MAX_MESSAGE` characters. Label texts are shown as given."""
    text = str(message)
    found: list[str] = []
    for path in sorted(labels or {}, key=len, reverse=True):
        if path and path in text:
            found.append((labels or {})[path])
            mark = f"{_LABELLED}{len(found) - 1}{_LABELLED}"
            below = re.compile(re.escape(path) + r"([/\\][^\s'\"]*)?")
            text = below.sub(lambda m, mark=mark: mark + ("/<path>" if m.group(1) else ""), text)
    text = _PATH_LIKE.sub("<path>", text)
    text = _QUOTED.sub(lambda m: m.group(0) if _shown_word(m.group(0)[1:-1]) else REDACTED, text)
    text = _TOKEN.sub(lambda m: m.group(0) if _shown_word(m.group(0)) else REDACTED, text)
    text = re.sub(f"{_LABELLED}(\\d+){_LABELLED}", lambda m: found[int(m.group(1))], text)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def _shown_word(word: str) -> bool:
    """A word of a screened message stays: a label put in (alone or quoted), or showable."""
    bare = word.strip("'\"").replace("<path>", "")
    return re.fullmatch(f"{_LABELLED}\\d+{_LABELLED}(/)?", bare) is not None or showable(word)
