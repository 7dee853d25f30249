"""The brief reads IV-WAS and the dynamic effects of quota changes in one plain line each,
from a real ``uplift.json`` document, marked simulated when the data are."""

from __future__ import annotations

import sys
from pathlib import Path

from wb.run import brief, brief_context, brief_sections
from wb.run.params import RunParams
from wb.uplift.designs import estimate_designs
from wb.uplift.sample import prepare
from wb.uplift.simulate import SimulationConfig, simulate

FIXTURES = Path(__file__).parents[1] / "fixtures"
sys.path.insert(0, str(FIXTURES))
import fake_artifacts  # noqa: E402


def test_the_brief_reads_iv_was_and_the_dynamic_effects_in_one_line_each(tmp_path):
    frame, _ = simulate(
        SimulationConfig(n_rms=500, n_months=24, seed=9, beta_quota=-20_000, quota_stop_share=0.3)
    )
    doc = estimate_designs(frame, prepare(frame), workers=1).to_json()
    fake_artifacts.write("uplift", str(tmp_path), data_label="simulated")
    plain = brief_context.load_artifact("uplift", tmp_path)
    data = plain | {k: doc[k] for k in ("iv_was", "dynamic_effects")}
    params = RunParams.model_validate(
        {
            "period": "H1 2025",
            "brief": {"title": "t"},
            "notebooks": [{"path": "uplift.py", "section": "uplift"}],
        }
    )
    html = brief.render_html(brief_context.build_context(params, {"uplift": data}, {"uplift"}, 0))
    without = brief.render_html(
        brief_context.build_context(params, {"uplift": plain}, {"uplift"}, 0)
    )
    v = doc["iv_was"]
    assert f"{v['coef']:+,.0f} yuan (95% CI {v['ci_low']:+,.0f} to {v['ci_high']:+,.0f})" in html
    first = doc["dynamic_effects"]["outcomes"]["aum_change_cny"]["points"][3]
    assert first["horizon"] == 1 and f"by {first['coef']:+,.0f} yuan" in html
    lines = brief_sections.heterogeneous_lines(data)
    assert len(lines) == 2
    assert html.count("IV-WAS") == 1 and html.count("Dynamic effects") == 1
    tag = 'class="sim-tag"'
    assert html.count(tag) - without.count(tag) == 2  # each line carries the simulated mark
