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
#: or grouped 3-4-4 with hyphens or spaces (138-1234-5678, +86 138 1234 5678). The one home
#: of the phone pattern: wb.warehouse.tables rewrites it for the engines.
_SEP = "[- ]?"
_MOBILE = rf"(?<!\d)(?:\+?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)"
_RESIDENT_ID = (
    r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"
)
_WXID = r"\bwxid_[A-Za-z0-9_-]{4,}"
_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
VALUE_PATTERN = re.compile("|".join((_MOBILE, _RESIDENT_ID, _WXID, _EMAIL)))

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
