"""pyfixest's IV formula is spelled in one place (:mod:`wb.uplift.fixest`), the way the
installed release reads it without a deprecation warning, so moving the pin past 0.70 (which
deprecates the fixest-style ``Y ~ 1 | FE | adds ~ quota``) breaks nothing."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from wb.uplift.fixest import iv_formula

ROOT = Path(__file__).resolve().parents[2]
#: An IV formula written out by hand: two ``~`` with a ``|`` between them inside one string
#: (the fixest-style three-part form), or a bracketed ``[endogenous ~ instrument]``.
_IV_LITERAL = re.compile(
    r"[\"'][^\"'\n]*~[^\"'\n]*\|[^\"'\n]*~[^\"'\n]*[\"']|\[\s*\w+\s*~\s*\w+[^\]\n]*\]"
)
_HOME = {ROOT / "wb" / "uplift" / "fixest.py", Path(__file__).resolve()}


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.60.0", "y ~ 1 | rm + month | adds ~ quota"),
        ("0.69.9", "y ~ 1 | rm + month | adds ~ quota"),
        ("0.70.0", "y ~ 1 + [adds ~ quota] | rm + month"),
        ("0.70.0rc1", "y ~ 1 + [adds ~ quota] | rm + month"),
        ("1.2.0", "y ~ 1 + [adds ~ quota] | rm + month"),
    ],
)
def test_the_formula_follows_the_pyfixest_release(version, expected):
    assert iv_formula("y", "adds", "quota", ("rm", "month"), version) == expected


def test_without_fixed_effects_both_spellings_keep_the_intercept():
    assert iv_formula("y", "x", "z", (), "0.60.0") == "y ~ 1 | x ~ z"
    assert iv_formula("y", "x", "z", (), "0.70.0") == "y ~ 1 + [x ~ z]"


def test_the_installed_pyfixest_fits_it_without_a_deprecation_warning():
    rng = np.random.default_rng(0)
    n = 600
    d = pd.DataFrame({"rm": np.repeat(np.arange(60), 10), "month": np.tile(np.arange(10), 60)})
    d["z"] = (rng.random(n) < 0.4).astype(float)
    d["x"] = 2.0 * d["z"] + rng.normal(size=n)
    d["y"] = 3.0 * d["x"] + d["rm"] * 0.1 + rng.normal(size=n)
    d["g"] = d["rm"] // 6
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fit = pf.feols(iv_formula("y", "x", "z", ("rm", "month")), d, vcov={"CRV1": "g"})
    about_syntax = [
        str(w.message)
        for w in seen
        if issubclass(w.category, DeprecationWarning | FutureWarning)
        and re.search(r"syntax|formula|\bIV\b|instrument", str(w.message), re.IGNORECASE)
    ]
    assert not about_syntax, about_syntax
    assert fit.coef()["x"] == pytest.approx(3.0, abs=0.2)


def _sources() -> list[Path]:
    found = []
    for folder in ("wb", "tests", "benchmarks", "notebooks", "scripts"):
        found += sorted((ROOT / folder).rglob("*.py"))
    return [p for p in found if p.resolve() not in _HOME and ".venv" not in p.parts]


def test_no_caller_writes_an_iv_formula_by_hand():
    """Every ``pf.feols`` IV formula comes from :func:`iv_formula` (grep of every Python file
    in the repository but this test and the builder)."""
    by_hand = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in _sources()
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if _IV_LITERAL.search(line)
    ]
    assert not by_hand, "IV formulas written by hand; build them with iv_formula:\n" + "\n".join(
        by_hand
    )
