"""The customer-level simulator: deterministic, bounded, with the hard parts of the DGP, and a
truth that `wb uplift` on the built panel recovers (the verdict's sign)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from helpers import wb_in_process

from wb.errors import InputError
from wb.warehouse import build
from wb.warehouse.progress import Progress
from wb.warehouse.simulate import TRUTH, CustomerSimulationConfig, write

SMALL = CustomerSimulationConfig(n_rms=60, n_months=12, customers_per_rm=15, seed=4)


def digest(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path):
    a, _ = write(SMALL, tmp_path / "a")
    b, _ = write(SMALL, tmp_path / "b")
    assert digest(a) == digest(b)
    c, _ = write(
        CustomerSimulationConfig(n_rms=60, n_months=12, customers_per_rm=15, seed=5), tmp_path / "c"
    )
    assert digest(a) != digest(c)


def test_chunks_do_not_change_the_world(tmp_path):
    """RM-level draws (skill, branches, quotas) are the same however many chunks are written."""
    a, ta = write(SMALL, tmp_path / "a")
    b, tb = write(CustomerSimulationConfig(**{**SMALL.__dict__, "chunk_rms": 25}), tmp_path / "b")
    qa, qb = pd.read_parquet(a / "quota"), pd.read_parquet(b / "quota")
    pd.testing.assert_frame_equal(qa, qb)
    assert ta["design"] == tb["design"]
    assert len(list((b / "wecom_contact").iterdir())) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rms", "5"], "--rms must be at least 20 and at most 500,000"),
        (["--months", "3"], "--months must be at least 8"),
        (["--customers", "0"], "--customers must be at least 1"),
        (["--rms", "400000", "--customers", "2000", "--months", "120"], "customer-months; at most"),
        (["--beta-quota", "nan"], "--beta-quota must be"),
    ],
)
def test_bad_sizes_exit_2(tmp_path, args, message):
    result = wb_in_process("simulate", "--level", "customer", "--out", str(tmp_path / "wh"), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "wh").exists()


def test_dgp_has_the_hard_parts(tmp_path):
    folder, truth = write(CustomerSimulationConfig(n_rms=100, n_months=16, seed=2), tmp_path / "wh")
    cm = pd.read_parquet(folder / "customer_month")
    wc = pd.read_parquet(folder / "wecom_contact")
    quota = pd.read_parquet(folder / "quota")
    # customers change RM, RMs change branch, late joiners and unassigned customers
    assert (cm.groupby("customer_id")["rm_id"].nunique() > 1).any()
    assert (cm.dropna().groupby("rm_id")["branch_id"].nunique() > 1).any()
    assert (cm.groupby("customer_id")["month"].min() > "2024-01").any()
    assert cm["rm_id"].isna().any() and cm["branch_id"].isna().equals(cm["rm_id"].isna())
    # staggered branch quotas with RM-level overrides
    branch_rows = quota[quota["rm_id"].isna()]
    assert branch_rows.groupby("branch_id")["month"].min().nunique() >= 3
    assert quota["rm_id"].notna().any()
    # ring contacts added by several RMs
    assert wc.groupby("contact_id")["rm_id"].nunique().max() >= 3
    # quota-induced adds are worse, in the truth
    real = truth["add_quality"]["realised"]
    q, o = real["quota_induced"], real["organic"]
    assert q["share_certified_30d"] < o["share_certified_30d"] - 0.3
    assert q["share_removed_30d"] > o["share_removed_30d"] + 0.2
    assert q["share_ring"] > o["share_ring"] + 0.15
    assert q["share_last3days"] > o["share_last3days"] + 0.3
    assert truth["true_effects"]["gain_per_bound_customer_cny"]["organic"] > 20_000
    assert json.loads((folder / TRUTH).read_text()) == truth


def test_built_panel_reflects_the_add_quality_truth(tmp_path):
    folder, truth = write(CustomerSimulationConfig(n_rms=100, n_months=16, seed=2), tmp_path / "wh")
    result = build.build(folder, tmp_path / "b", progress=Progress(8, quiet=True))
    q = pd.read_parquet(result.add_quality)
    rm = pd.read_parquet(result.rm_month)
    shares = q[["wecom_adds", "adds_shared_3plus", "adds_removed_30d"]].sum()
    n_adds = sum(v["adds"] for v in truth["add_quality"]["realised"].values())
    assert shares["wecom_adds"] + result.record["adds_not_placed"]["adds"] == n_adds
    in_quota = rm["quota_target"] > 0
    assert (rm.loc[in_quota, "wecom_adds"] >= rm.loc[in_quota, "quota_target"]).mean() > 0.5


@pytest.mark.slow
def test_uplift_on_the_built_panel_recovers_the_truth(tmp_path):
    """The issue's new-user path: simulate → build → `wb uplift` gives the truth's verdict."""
    for beta in ("-20000", "20000", "0"):
        src, out, up = tmp_path / f"wh{beta}", tmp_path / f"b{beta}", tmp_path / f"u{beta}"
        args = ["--out", str(src), "--beta-quota", beta, "--seed", "3"]
        r = wb_in_process("simulate", "--level", "customer", *args)
        assert r.returncode == 0, r.stderr
        r = wb_in_process("warehouse", "build", "--source", str(src), "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1] == str(out)
        r = wb_in_process(
            "uplift", "--data", str(out / "rm_month.parquet"), "--out", str(up), "--quick"
        )
        assert r.returncode == 0, r.stderr
        truth = json.loads((src / TRUTH).read_text())
        verdict = json.loads((up / "uplift.json").read_text())["verdict"]["code"]
        assert verdict == truth["true_effects"]["expected_verdict"], beta


def test_bad_out_is_refused(tmp_path):
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(InputError, match="writes a folder"):
        write(SMALL, tmp_path / "y.parquet")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("keep")
    with pytest.raises(InputError, match="not an earlier simulated source"):
        write(SMALL, mine)
    assert (mine / "a.txt").read_text() == "keep"
