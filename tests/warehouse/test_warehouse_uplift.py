"""Customer-level uplift (`wb warehouse uplift`): the engine-cell estimator
equals a brute-force unit-level fit, recovers the simulated truth, covers 0 under a null, and
refuses sources it cannot estimate on (exit 2, nothing written)."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pandas as pd
import pytest
from customer_uplift_reference import customer_rows, estimates, impute_units
from helpers import wb_in_process
from warehouse_cases import TINY, read_tables, with_edge_cases, write_source

from wb.door import provenance
from wb.errors import InputError
from wb.warehouse import imputation, simulate, uplift, uplift_result
from wb.warehouse.simulate import CustomerSimulationConfig

TRUTH = CustomerSimulationConfig(n_rms=200, n_months=24, customers_per_rm=200, seed=1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder, _ = simulate.write(TINY, tmp_path_factory.mktemp("tiny") / "sim")
    tables = with_edge_cases(read_tables(folder))
    return write_source(tmp_path_factory.mktemp("edge") / "src", tables), tables


@pytest.fixture(scope="module")
def truth_source(tmp_path_factory):
    folder, truth = simulate.write(TRUTH, tmp_path_factory.mktemp("truth") / "sim")
    return folder, truth


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


@pytest.mark.parametrize(
    "model, months, onset",
    [
        ("trends", None, "certified"),
        ("levels", None, "certified"),
        ("trends", "2024-02..2024-11", "certified"),
        ("trends", None, "added"),
    ],
)
def test_cells_equal_the_unit_level_fit(tiny, model, months, onset):
    src, tables = tiny
    design = imputation.Design(model=model, leads=2, post=3, onset=onset)
    result = uplift.estimate(src, months=months, design=design)
    first, last = months.split("..") if months else (None, None)
    rows = customer_rows(tables, design.tiers.bounds, 2, 3, model, first, last, onset)
    imputed = impute_units(rows)
    compared = 0
    for i, kind in enumerate(uplift_result.KINDS):
        if not (imputed.kind == i).any():
            continue
        ref = estimates(imputed, i, 2, 3, model)
        got = result.kinds[kind]
        for d, e in enumerate(range(-2, 4)):
            if np.isnan(ref["delta"][e]):
                assert np.isnan(got.delta[d])
                continue
            assert _rel(got.delta[d], ref["delta"][e]) < 1e-8, (kind, e)
            compared += 1
        assert _rel(got.att.coef, ref["att"]) < 1e-8
        assert _rel(got.att.se, ref["se"]) < 1e-8
        assert _rel(got.att.ci_low, ref["ci"][0]) < 1e-8
    assert compared >= 8
    # tiers too
    for j in range(len(design.tiers)):
        sel = imputed[(imputed.kind == 0) & (imputed.tier == j)]
        if sel.e.nunique() < 6 or sel.branch.nunique() < 2:
            continue
        ref = estimates(imputed, 0, 2, 3, model, tier=j)
        assert _rel(result.tiers[j]["no_quota"].att.coef, ref["att"]) < 1e-8
    n = result.counts
    assert n["left_out_gaps"] >= 1 and n["left_out_bound_in_first_month"] >= 1


def test_the_edge_customers_are_placed_as_defined(tiny):
    _src, tables = tiny
    rows = customer_rows(tables, imputation.DEFAULT_TIER_BOUNDS, 3, 5, "trends")
    ids = sorted(tables["customer_month"].customer_id.unique())
    assert ids[3] not in set(rows.customer)  # gap: left out
    assert ids[20] not in set(rows.customer)  # bound in its first month
    assert (rows[rows.customer == ids[30]].g == -1).all()  # bound after its last month
    assert (rows[rows.customer == ids[40]].kind == 1).all()  # quota RM in the binding month
    # the spell starts in April 2024 (first month with an RM): its first change is May
    assert rows[rows.customer == ids[10]].t.min() == 2024 * 12 + 4


def test_customers_certified_a_month_after_the_add_are_counted_as_defined(tiny):
    """``bound_used_added_in_an_earlier_month``: used bound customers all of whose contacts
    certified in the binding month were added in an earlier month (counted in pandas here)."""
    src, tables = tiny
    rows = customer_rows(tables, imputation.DEFAULT_TIER_BOUNDS, 3, 5, "trends")
    used = set(rows.customer[rows.g >= 0])
    wc = tables["wecom_contact"].dropna(subset=["customer_id", "certified_at"])
    cert = pd.to_datetime(wc.certified_at).dt.to_period("M")
    added = pd.to_datetime(wc.added_at).dt.to_period("M")
    at_g = wc[cert == cert.groupby(wc.customer_id).transform("min")]
    late = (added[at_g.index] < cert[at_g.index]).groupby(at_g.customer_id).all()
    expected = int(late[late.index.isin(used)].sum())
    result = uplift.estimate(src, design=imputation.Design())
    assert expected >= 3
    assert result.counts["bound_used_added_in_an_earlier_month"] == expected
    assert f"{expected:,} of the {len(used):,} bound customers used" in result.note


def test_no_quota_interval_covers_the_simulated_organic_effect(truth_source):
    folder, truth = truth_source
    result = uplift.estimate(folder)
    assert result.simulated
    # as notebook 30 prints it: the two sentences after the simulated mark
    assert result.finding().startswith(f"{provenance.LABEL}: ")
    assert result.summary().startswith(f"{provenance.LABEL}\nCustomer-level uplift")
    assert len(result.finding().splitlines()) == 2
    for kind in uplift_result.KINDS:
        att, target = result.att(kind), result.truth_att(kind)
        assert att.ci_low <= target <= att.ci_high, (kind, att, target)
    organic = truth["customer_level"]["gain_per_binding_cny"]["organic"]
    assert result.att("no_quota").ci_low > 0.8 * organic
    assert result.kinds["no_quota"].pretrend.p_value > 0.01
    doc = result.to_json()
    assert doc["truth"]["att_by_kind"]["no_quota"] == pytest.approx(
        result.truth_att("no_quota"), rel=1e-6
    )


def test_a_null_organic_effect_gives_an_interval_covering_zero(tmp_path):
    folder, _ = simulate.write(
        CustomerSimulationConfig(**{**TRUTH.__dict__, "beta_organic": 0.0, "seed": 2}),
        tmp_path / "null",
    )
    result = uplift.estimate(folder)
    for kind in uplift_result.KINDS:
        att = result.att(kind)
        assert att.ci_low <= 0 <= att.ci_high, (kind, att)
        assert result.truth_att(kind) == 0


def test_levels_model_fails_its_pretrend_test_where_skill_drives_growth(truth_source):
    """RM skill raises both binding speed and AUM growth: customer effects in levels do not
    absorb it, and the held-out months before binding say so."""
    folder, _ = truth_source
    result = uplift.estimate(folder, design=imputation.Design(model="levels"))
    assert result.kinds["no_quota"].pretrend.p_value < 0.01


def test_json_matches_the_committed_schema_and_is_strict(truth_source, tmp_path):
    folder, _ = truth_source
    result = uplift.estimate(
        folder, design=imputation.Design(tiers=imputation.Tiers.parse("50万,600万"))
    )
    out = uplift.write(result, tmp_path / "u")
    text = (out / uplift_result.JSON_NAME).read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))
    jsonschema.validate(doc, uplift_result.DOCUMENT.schema)
    assert doc["schema"] == "wb.customer_uplift/1"
    assert [t["tier"] for t in doc["by_tier"]] == ["< 50万", "50万–600万", "≥ 600万"]
    for kind in uplift_result.KINDS:
        assert {"coef", "ci_low", "ci_high"} <= set(doc["att_by_kind"][kind])
        assert doc["pretrend"][kind]["p_value"] is not None
    assert "not the effect of a quota add alone" in doc["note"]
    assert uplift_result.load(out)["att_by_kind"] == doc["att_by_kind"]
    with pytest.raises(InputError):
        uplift_result.load(tmp_path / "nowhere")
    tidy = result.tidy()
    assert {"group", "kind", "term", "event_month", "coef", "ci_low", "ci_high"} <= set(tidy)
    assert "no_quota" in result.summary() and "<table" in result._repr_html_()


@pytest.mark.parametrize(
    "text, bounds",
    [("5万,50万,600万", (5e4, 5e5, 6e6)), ("100000", (1e5,)), ("1亿", (1e8,))],
)
def test_tiers_parse(text, bounds):
    assert imputation.Tiers.parse(text).bounds == bounds


@pytest.mark.parametrize("text", ["50万,5万", "abc", "0", ""])
def test_bad_tiers(text):
    with pytest.raises(InputError):
        imputation.Tiers.parse(text)


def _source(tmp_path, tables, name="src"):
    return write_source(tmp_path / name, tables)


def test_no_bindings_exit_2(tiny, tmp_path):
    _, tables = tiny
    t = dict(tables)
    wc = t["wecom_contact"].copy()
    wc["customer_id"] = pd.array([None] * len(wc), dtype="string")
    wc["certified_at"] = pd.NaT
    wc["certified_at"] = wc["certified_at"].astype(tables["wecom_contact"]["certified_at"].dtype)
    t["wecom_contact"] = wc
    with pytest.raises(InputError, match="no bindings"):
        uplift.estimate(_source(tmp_path, t))


def test_no_controls_exit_2(tiny, tmp_path):
    """Every customer bound in the same month: nobody left not yet bound to compare with."""
    _, tables = tiny
    t = dict(tables)
    cm = t["customer_month"]
    ids = cm.customer_id.unique()
    rm = cm.groupby("customer_id").rm_id.first().fillna("RM00001")
    wc = pd.DataFrame(
        {
            "rm_id": rm[ids].to_numpy(),
            "contact_id": [f"K{i}" for i in range(len(ids))],
            "added_at": pd.Timestamp("2024-06-03 10:00"),
            "customer_id": ids,
            "certified_at": pd.Timestamp("2024-06-03 11:00"),
            "removed_at": pd.NaT,
        }
    )
    for col in ("added_at", "certified_at", "removed_at"):
        wc[col] = wc[col].astype(tables["wecom_contact"][col].dtype)
    t["wecom_contact"] = wc
    with pytest.raises(InputError, match="no controls"):
        uplift.estimate(_source(tmp_path, t))


def test_too_few_branches_exit_2(tmp_path):
    folder, _ = simulate.write(
        CustomerSimulationConfig(**{**TINY.__dict__, "n_rms": 30}), tmp_path / "s"
    )
    with pytest.raises(InputError, match="too few branches"):
        uplift.estimate(folder)


@pytest.mark.slow  # end to end: wb warehouse uplift with its figures
def test_cli_writes_json_and_figures(truth_source, tmp_path):
    folder, _ = truth_source
    out = tmp_path / "u"
    result = wb_in_process("warehouse", "uplift", "--source", str(folder), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out)
    assert {p.name for p in out.iterdir()} == {
        "customer_uplift.json",
        "customer_uplift.png",
        "customer_uplift.svg",
        "customer_uplift_paths.png",
        "customer_uplift_paths.svg",
    }
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tiers", "5万,1万"], "strictly increasing"),
        (["--months", "2024-13.."], "not a YYYY-MM month"),
        (["--model", "cubic"], "cubic"),
        (["--onset", "removed"], "--onset must be certified or added"),
    ],
)
def test_cli_bad_arguments_exit_2(tiny, tmp_path, args, message):
    src, _ = tiny
    result = wb_in_process(
        "warehouse", "uplift", "--source", str(src), "--out", str(tmp_path / "u"), *args
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "u").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_too_few_branches_exit_2_nothing_written(tmp_path):
    folder, _ = simulate.write(
        CustomerSimulationConfig(**{**TINY.__dict__, "n_rms": 30}), tmp_path / "s"
    )
    result = wb_in_process(
        "warehouse", "uplift", "--source", str(folder), "--out", str(tmp_path / "u")
    )
    assert result.returncode == 2
    assert "too few branches" in result.stderr
    assert not (tmp_path / "u").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_help_shows_an_example():
    result = wb_in_process("warehouse", "uplift", "--help")
    assert result.returncode == 0
    assert "wb warehouse uplift" in result.stdout.split("Example:")[1]


def test_the_paths_figure_states_both_kinds_in_yuan_and_a_label_replaces_the_source(tiny, tmp_path):
    """What ``wb run`` writes: the source named by the data's label (never its folder) in the
    document and the figures; the brief's paths figure titled with both kinds' effects."""
    from wb.plots.customer_uplift import event_paths, save

    src, _ = tiny
    result = uplift.run(src, tmp_path / "u", figures=save, label="仓库 A")
    doc = json.loads((tmp_path / "u" / "customer_uplift.json").read_text(encoding="utf-8"))
    assert doc["source"] == "仓库 A" and str(src) not in json.dumps(doc)
    fig = event_paths(result)
    title = " ".join(fig._suptitle.get_text().split())
    for kind in uplift_result.KINDS:
        assert f"{result.att(kind).coef:+,.0f} 元" in title
    footer = " ".join(t.get_text() for t in fig.texts)
    assert "来源 Source: 仓库 A;" in footer and str(src) not in footer
    assert "yuan per bound customer" in fig.axes[0].get_ylabel()
