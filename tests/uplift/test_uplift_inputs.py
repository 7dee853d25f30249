"""What an analyst hands ``estimate`` is checked as ``wb validate`` checks a file, and the
simulator's truth is what it takes."""

from __future__ import annotations

import json

import pytest

from wb.door.problems import ValidationError
from wb.door.validation import validate
from wb.uplift.estimation import estimate
from wb.uplift.simulate import SimulationConfig, simulate, truth_path, write


@pytest.fixture(scope="module")
def simulated():
    return simulate(SimulationConfig(n_rms=300, n_months=12, seed=2))


@pytest.mark.parametrize(
    "broken, column",
    [
        (lambda f: f.drop(columns=["quota_target"]), "quota_target"),
        (lambda f: f.assign(wecom_adds=-1), "wecom_adds"),
        (lambda f: f.assign(month="2024/01"), "month"),
    ],
    ids=["missing column", "negative adds", "bad month"],
)
def test_a_bad_frame_gets_wb_validates_error(simulated, broken, column):
    frame = broken(simulated[0])
    with pytest.raises(ValidationError) as caught:
        estimate(frame, data_label="my frame")
    with pytest.raises(ValidationError) as by_validate:
        validate(frame, "rm_month", "my frame")
    assert str(caught.value) == str(by_validate.value)
    assert f"column '{column}'" in str(caught.value)
    assert str(caught.value).startswith("my frame: ")
    assert "(rm_month schema)" in str(caught.value).splitlines()[0]


def test_the_simulators_truth_is_what_estimate_takes_and_shows(simulated, tmp_path):
    """The dictionary :func:`simulate` returns, and ``true_effects`` of the truth file: the
    same result, shown with the truth in HTML (the whole dictionary used to crash
    ``_repr_html_`` with a KeyError)."""
    frame, truth = simulated
    written, tfile, _ = write(SimulationConfig(n_rms=300, n_months=12, seed=2), tmp_path / "x.csv")
    assert tfile == truth_path(written)
    from_file = json.loads(tfile.read_text("utf-8"))["true_effects"]
    results = [estimate(frame, simulated_truth=t) for t in (truth, from_file)]
    assert results[0].simulated_truth == results[1].simulated_truth == truth["true_effects"]
    for result in results:
        html = result._repr_html_()
        assert "<table>" in html and "SIMULATED" in html.upper()
    assert results[0].to_json() == results[1].to_json()
