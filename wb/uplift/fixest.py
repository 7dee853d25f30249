"""The one place that spells a pyfixest IV formula (the contract's FE-2SLS as a ``pf.feols``
call: the reference fits in the tests and the bare benchmark).

pyfixest 0.70 parses formulas with formulaic and writes instruments in brackets,
``Y ~ 1 + [adds ~ quota] | rm + month``; the fixest-style three-part formula
``Y ~ 1 | rm + month | adds ~ quota`` still works there but warns that it is deprecated and
will be removed, and releases before 0.70 know only that one. :func:`iv_formula` writes the
spelling the installed pyfixest reads without a warning, so moving the pin breaks nothing.
Importing this module does not import pyfixest.
"""

from __future__ import annotations

from importlib.metadata import version as _installed

#: The first pyfixest release with the bracketed IV syntax (the three-part one deprecated).
BRACKETS_FROM = (0, 70)


def _release(text: str) -> tuple[int, int]:
    """``"0.60.0"`` → ``(0, 60)``; pre-release tails (``"0.70.0rc1"``) are ignored."""
    major, minor = text.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def iv_formula(
    outcome: str,
    endogenous: str,
    instrument: str,
    fixed_effects: tuple[str, ...] = (),
    pyfixest_version: str | None = None,
) -> str:
    """A just-identified IV formula for ``pf.feols``: ``outcome`` on ``endogenous``
    instrumented by ``instrument``, with an intercept (absorbed when ``fixed_effects`` are
    given) and no other regressor. ``pyfixest_version`` defaults to the installed one."""
    release = _release(pyfixest_version or _installed("pyfixest"))
    fe = " + ".join(fixed_effects)
    if release >= BRACKETS_FROM:
        return f"{outcome} ~ 1 + [{endogenous} ~ {instrument}]" + (f" | {fe}" if fe else "")
    return f"{outcome} ~ 1" + (f" | {fe}" if fe else "") + f" | {endogenous} ~ {instrument}"
