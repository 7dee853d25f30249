"""Every result object an analyst meets renders as a readable HTML table with units, a text
summary and strict JSON: no dataclass or numpy dumps, no truncated notes."""

from __future__ import annotations

import json

import pytest

from wb.uplift import designs, estimation
from wb.uplift.sample import prepare
from wb.uplift.simulate import SimulationConfig, simulate

DUMPS = ("np.float64(", "EventPoint(", "Estimate(", "Split(", "Check(", "array(", "{&#x27;")


@pytest.fixture(scope="module")
def bundle():
    frame, _ = simulate(SimulationConfig(n_rms=400, n_months=18, seed=4, beta_quota=-20_000))
    sample = prepare(frame)
    return estimation.fit(sample), designs.estimate_designs(frame, sample, seed=2)


def _results(bundle):
    result, found = bundle
    yield "UpliftResult", result
    yield "Designs", found
    for outcome, studies in found.event_studies.items():
        for name, study in studies.items():
            yield f"EventStudy {outcome} {name}", study
    for name in (
        "wald_did",
        "bunching",
        "certification",
        "outcomes",
        "coverage",
        "robustness",
        "trend_sensitivity",
    ):
        yield name, getattr(found, name)


def test_every_result_renders_html_text_and_strict_json(bundle):
    seen = []
    for name, obj in _results(bundle):
        assert obj is not None, f"{name} did not run on a simulated export"
        page = obj._repr_html_()
        assert "<table>" in page and not any(d in page for d in DUMPS), (name, page[:300])
        assert str(obj.summary()).strip(), name
        json.dumps(obj.to_json(), allow_nan=False)  # strict: NaN and inf are None
        seen.append(name)
    assert len(seen) == 2 + 6 + 7


@pytest.mark.parametrize(
    ("attribute", "unit"),
    [
        ("wald_did", "yuan per add"),
        ("robustness", "per add (yuan)"),
        ("outcomes", "per quota-induced add (yuan)"),
        ("certification", "adds per RM-month"),
        ("coverage", "(share)"),
        ("bunching", "share of quota RM-months"),
        ("trend_sensitivity", "(yuan per RM-month)"),
    ],
)
def test_html_views_name_their_units(bundle, attribute, unit):
    assert unit in getattr(bundle[1], attribute)._repr_html_()


def test_event_study_table_is_tidy_and_the_json_points_are_its_rows(bundle):
    study = bundle[1].event_studies["aum_change_cny"]["imputation"]
    table = study.tidy()
    assert list(table.columns) == ["event_time", "coef", "se", "ci_low", "ci_high"]
    assert table["event_time"].is_monotonic_increasing
    points = study.to_json()["points"]
    assert [p["event_time"] for p in points] == table["event_time"].tolist()
    reference = next(p for p in points if p["event_time"] == -1)
    assert reference["coef"] == 0 and reference["se"] is None  # NaN written as null
    assert "yuan per RM-month" in study._repr_html_()


def test_designs_table_has_one_row_per_headline_number(bundle):
    table = bundle[1].tidy()
    assert set(table["design"]) == {
        "event_study",
        "wald_did",
        "bunching",
        "by_certification",
        "outcomes",
        "robustness",
        "iv_was",
        "dynamic_effects",
    }
    assert table.loc[table["design"] == "event_study", "unit"].str.contains("per RM-month").all()


def test_whole_numbers_stay_whole_in_a_table_beside_floats():
    import pandas as pd

    from wb.door.display import html_table

    page = html_table(pd.DataFrame({"event_time": [-1, 6], "coef": [0.5, 187915.4]}), "t")
    assert "<td style='text-align:left'>6</td>" in page and "6.00" not in page
    assert "187,915" in page


def test_counts_get_separators_and_years_do_not():
    from wb.door.display import cell

    assert (cell(44685), cell(2025), cell(-1), cell(True)) == ("44,685", "2025", "-1", "True")
