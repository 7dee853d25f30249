"""Reading amounts as Chinese sources print them: units (亿, 万亿, 万, 百万), percents, and the
words that make a number a bound or an approximation (超, 近, 约, 不足 …).

Used to check every figure of the bank panel against its text as written
(``scripts/build_bank_panel.py``).
"""

from __future__ import annotations

import re

#: Chinese (and a few English) amount units → multiplier to yuan or persons.
CN_UNITS: dict[str, float] = {
    "万亿": 1e12,
    "萬億": 1e12,
    "百万": 1e6,
    "百萬": 1e6,
    "亿": 1e8,
    "億": 1e8,
    "万": 1e4,
    "萬": 1e4,
    "千": 1e3,
}
_UNIT_RE = "|".join(sorted(CN_UNITS, key=len, reverse=True))
_AMOUNT_RE = re.compile(rf"([-−]?\d[\d,]*(?:\.\d+)?)\s*({_UNIT_RE})?\s*(%)?")
#: Words before a number that make it a bound or an approximation (order matters: 接近 before 近).
_QUALIFIER_WORDS: tuple[tuple[str, str], ...] = (
    ("接近", "about"),
    ("近", "about"),
    ("约", "about"),
    ("約", "about"),
    ("超过", "over"),
    ("超過", "over"),
    ("超", "over"),
    ("逾", "over"),
    ("突破", "over"),
    ("以上", "over"),
    ("不足", "under"),
    ("以下", "under"),
)


def parse_cn_amount(text: str) -> float:
    """Parse the first amount in a Chinese text into canonical units.

    Parameters
    ----------
    text
        As printed, e.g. ``"1.2万亿元"``, ``"超15万亿元"``, ``"3,149.57万户"``, ``"56.74%"``,
        ``"43464.00 (百万)"``.

    Returns
    -------
    float
        Yuan for money, persons or accounts for counts, a fraction for a percent
        (``"56.74%"`` → ``0.5674``). 亿 = 1e8, 万亿 = 1e12, 万 = 1e4, 百万 = 1e6.

    Raises
    ------
    ValueError
        When the text holds no number.
    """
    match = _AMOUNT_RE.search(text.replace("−", "-"))
    if match is None:
        raise ValueError(f"no amount in {text!r}")
    number, unit, percent = match.groups()
    value = float(number.replace(",", "").replace("−", "-"))
    if percent:
        return round(value / 100, 12)
    if unit is None:  # a unit in brackets after the number, as data vendors print it
        tail = text[match.end() :]
        unit = next((u for u in CN_UNITS if tail.lstrip(" (（").startswith(u)), None)
    return value * CN_UNITS[unit] if unit else value


def cn_qualifier(text: str) -> str:
    """The qualifier a Chinese phrase puts on its number: ``exact``, ``over``, ``about``, ``under``.

    ``超``/``逾``/``突破``/``以上`` → ``over``; ``近``/``约``/``接近`` → ``about``;
    ``不足``/``以下`` → ``under``.
    """
    for word, qualifier in _QUALIFIER_WORDS:
        if word in text:
            return qualifier
    return "exact"
