"""Held-out truths for `wb warehouse uplift`: on worlds written apart from the simulator and the
estimator (tests/warehouse/heldout_worlds.py, one feature changed each, simulated), the
no-quota and quota-month intervals cover the stated truth in at least 93 of 100 seeds.

Each world's 100 seeds go through the engine side once (ids prefixed by seed, so every seed's
branches are its own and the cell sums are those of the seed alone), then the estimator runs on
each seed's cells in process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from heldout_worlds import WORLDS, world_tables
from warehouse_cases import write_source

from wb.warehouse import imputation, uplift, uplift_cells, uplift_finding, uplift_result
from wb.warehouse.build import MonthWindow
from wb.warehouse.imputation import Design
from wb.warehouse.source import open_source
from wb.warehouse.tables import complete

pytestmark = pytest.mark.slow

SEEDS = range(100)


def cells_by_seed(tables: dict[str, pd.DataFrame], folder, design: Design) -> pd.DataFrame:
    """The engine's cell sums (DuckDB) of all seeds' tables at once."""
    src = open_source(write_source(folder, tables, files=1))
    try:
        t = {name: complete(table, name) for name, table in src.tables.items()}
        cm, wc, q = t["customer_month"], t["wecom_contact"], t["quota"]
        window = MonthWindow.parse(None)
        bindings = uplift_cells.first_bindings(wc, cm, q, design.onset)
        spells = uplift_cells.customer_spells(cm, bindings, window, design)
        return uplift_cells.cell_sums(cm, spells, window, design).to_pandas()
    finally:
        src.close()


def seed_estimates(name: str, folder, design: Design) -> pd.DataFrame:
    """One row per seed and kind: the estimate, its 95% interval and the truth (yuan)."""
    tables, truths = world_tables(WORLDS[name], SEEDS, design.leads, design.post)
    frame = cells_by_seed(tables, folder, design)
    rows = []
    for prefix, part in frame.groupby(frame.branch.str[:5]):
        seed = int(prefix[1:4])
        kinds, *_ = uplift.estimate_cells(
            imputation.Cells.from_frame(part.reset_index(drop=True)), design
        )
        for kind in uplift_result.KINDS:
            for term in ("att", "later"):
                est = getattr(kinds[kind], term)
                truth = truths[seed][kind]
                rows.append((seed, kind, term, est.coef, est.ci_low, est.ci_high, truth))
    out = pd.DataFrame(rows, columns=["seed", "kind", "term", "coef", "low", "high", "truth"])
    assert sorted(out.seed.unique()) == list(SEEDS)
    out["covered"] = (out.low <= out.truth) & (out.truth <= out.high)
    return out


@pytest.mark.parametrize(
    "name, onset, term",
    [
        ("movers", "certified", "att"),
        ("entry", "certified", "att"),
        ("multiplicative", "certified", "att"),
        ("organic_in_quota", "certified", "att"),
        # AUM moves from the add, certified 0-10 days later: dated by the add, it is covered
        ("certification_lag", "added", "att"),
        # the shift shows a month late: the average over event months 1..post is covered
        ("aum_recorded_a_month_late", "certified", "later"),
    ],
)
def test_intervals_cover_the_held_out_truth(name, onset, term, tmp_path):
    est = seed_estimates(name, tmp_path / "src", Design(onset=onset))
    est = est[est.term == term]
    for kind, part in est.groupby("kind"):
        covered = int(part.covered.sum())
        err = part.coef - part.truth
        bias_se = err.std() / np.sqrt(len(err))
        assert covered >= 93, (name, kind, covered, err.mean())
        # and no bias the 100 seeds can see (3 standard errors of their mean)
        assert abs(err.mean()) < 3 * bias_se, (name, kind, err.mean(), bias_se)


@pytest.mark.parametrize(
    "name, onset, moves",
    [
        ("base", "certified", None),
        ("certification_lag", "certified", "add"),
        ("certification_lag_shift_at_certification", "added", "certification"),
    ],
)
def test_the_output_states_how_much_the_onset_biases_it(name, onset, moves, tmp_path):
    """Where contacts are certified in a later month than added, an effect that starts at the
    other onset than the one dating bindings is understated: in full for the customers
    certified a month late when bindings are dated by the certification and AUM moves from
    the add, by one month of the post+1 averaged when dated by the add and AUM moves from the
    certification. The note and the finding state that share, and the shortfall measured on
    20 seeds pooled (200 branches) is what they state."""
    design = Design(onset=onset)
    tables, truths = world_tables(WORLDS[name], range(20), design.leads, design.post)
    src = write_source(tmp_path / "src", tables, files=1)
    result = uplift.estimate(src, design=design, check=False)
    n = result.counts
    share = n["bound_used_added_in_an_earlier_month"] / n["bound_used"]
    short = uplift_finding.late_shortfall(result.to_json())
    en = result.finding().splitlines()[0]
    if moves is None:
        assert share == 0 and short == 0
        assert "If AUM moves from" not in en
        assert "the onset (--onset certified) does not matter here" in result.note
        assert not uplift_finding.first_month_gaps(result.to_first_month())
        assert "in the binding month" not in en
    else:
        assert 0.05 < share < 0.12
        assert short == (share if onset == "certified" else share / (design.post + 1))
        assert f"({share:.1%})" in result.note
        assert f"If AUM moves from the {moves}" in en
        assert f"understate the effect by about {short:.0%}" in en
    for kind in uplift_result.KINDS:
        truth = np.mean([t[kind] for t in truths.values()])
        att = result.att(kind)
        assert abs((1 - att.coef / truth) - short) < 0.012, (kind, att.coef, truth, short)
        if onset == "certified" and moves:  # precise and wrong, and the output says by how much
            assert att.ci_high < truth


def test_the_output_states_an_effect_missing_from_the_binding_month(tmp_path):
    """AUM recorded a month late (the shift first shows in event month 1): the window average
    over event months 0..5 is 5/6 of the truth with an interval that excludes it, as the
    held-out miss was (+16,700 against +20,000); the output says that the binding month's
    effect differs from the later months', whose average covers the truth."""
    tables, truths = world_tables(WORLDS["aum_recorded_a_month_late"], range(20))
    result = uplift.estimate(write_source(tmp_path / "src", tables, files=1), check=False)
    gaps = uplift_finding.first_month_gaps(result.to_first_month())
    assert set(gaps) == set(uplift_result.KINDS)
    en = result.finding().splitlines()[0]
    for kind in uplift_result.KINDS:
        truth = np.mean([t[kind] for t in truths.values()])
        att, later = result.att(kind), result.kinds[kind].later
        assert abs(att.coef / truth - 5 / 6) < 0.03 and att.ci_high < truth
        assert later.ci_low <= truth <= later.ci_high
        zero = gaps[kind]["event_month_0"]["coef"]
        assert f"{kind}: the effect at event month 0 ({zero:+,.0f} yuan) is below" in result.note
        assert f"({later.coef:+,.0f}, 95% CI {later.ci_low:+,.0f} to" in result.note
        assert f"the effect in the binding month ({zero:+,.0f}) differs" in en
    assert "The window average counts event month 0" in result.note
    assert "differs from months 1..5" in result.summary()
