"""Small hand-made warehouse tables with every edge case of docs/warehouse.md, and a plain pandas
implementation of the contract's definitions (the second implementation the engines must equal);
the build's checks shared by the DuckDB, Spark and cluster tests; the small simulated source of
the customer-level uplift and its edge cases; tables breaking every rule.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ibis.common.exceptions import TableNotFound

from wb.warehouse import build
from wb.warehouse.progress import Progress
from wb.warehouse.simulate import CustomerSimulationConfig

TS = "datetime64[us]"


def ts(text: str | None):
    return pd.NaT if text is None else pd.Timestamp(text)


def edge_tables() -> dict[str, pd.DataFrame]:
    """customer_month, wecom_contact and quota covering the edge cases of the build's rules
    (docs/warehouse.md §3–4)."""
    cm = [
        # C1 changes RM mid-window: R1 in Jan and Feb, R2 from March.
        ("C1", "2024-01", "R1", "B1", 100.0, 1.0),
        ("C1", "2024-02", "R1", "B1", 110.0, 2.0),
        ("C1", "2024-03", "R2", "B2", 120.0, 3.0),
        ("C2", "2024-01", "R1", "B1", 1000.5, 0.0),
        ("C2", "2024-02", "R1", "B1", 1000.25, 0.0),
        ("C2", "2024-03", "R1", "B1", 999.75, None),
        # R2 changes branch: B1 in Jan and Feb, B2 from March.
        ("C3", "2024-01", "R2", "B1", 50.0, 0.0),
        ("C3", "2024-02", "R2", "B1", 55.0, 0.0),
        ("C3", "2024-03", "R2", "B2", 60.0, 0.0),
        # C4 joins late (first row in March).
        ("C4", "2024-03", "R2", "B2", 7.0, 0.0),
        # C9 is unassigned: belongs to no RM.
        ("C9", "2024-01", None, None, 5000.0, 0.0),
        ("C9", "2024-02", None, None, 5000.0, 0.0),
        # R3 has customers from February only (its January adds are not placed).
        ("C5", "2024-02", "R3", "B1", 1.0, 0.0),
        ("C5", "2024-03", "R3", "B1", 2.0, 0.0),
        # Months in 2023 for the non-leap February.
        ("C6", "2023-02", "R4", "B3", 10.0, 0.0),
        ("C6", "2023-03", "R4", "B3", 10.0, 0.0),
    ]
    customer_month = pd.DataFrame(
        cm,
        columns=["customer_id", "month", "rm_id", "branch_id", "aum_cny", "net_new_money_cny"],
    )
    wc = [
        # rm, contact, added_at, customer, certified_at, removed_at
        ("R1", "K01", "2024-01-10 09:00:00", "C2", "2024-02-09 09:00:00", None),  # exactly 30 d
        ("R1", "K02", "2024-01-10 09:00:00", "C1", "2024-02-09 09:00:01", None),  # just over 30 d
        ("R1", "K03", "2024-01-15 12:00:00", "C1", "2024-02-20 00:00:00", None),  # 36 d: not
        ("R1", "K04", "2024-02-29 23:59:00", "C2", "2024-03-01 08:00:00", None),  # leap last day
        ("R1", "K05", "2024-02-26 10:00:00", None, None, "2024-03-05 10:00:00"),  # removed 8 d
        ("R2", "K05", "2024-02-27 10:00:00", None, None, "2024-05-20 10:00:00"),  # removed 83 d
        ("R3", "K05", "2024-02-28 10:00:00", None, None, None),  # K05: three RMs
        ("R1", "K06", "2024-03-31 23:00:00", None, None, "2024-06-29 23:00:00"),  # 90 d exactly
        ("R2", "K06", "2024-03-01 00:00:00", None, None, "2024-06-30 00:00:01"),  # > 90 d
        ("R2", "K07", "2024-03-02 10:00:00", "C4", "2024-03-02 11:00:00", None),  # new customer
        ("R2", "K08", "2024-03-03 10:00:00", "C3", "2024-03-04 10:00:00", None),  # existing
        ("R3", "K09", "2024-01-20 10:00:00", "C5", "2024-01-21 10:00:00", None),  # not placed
        ("R3", "K10", "2024-01-29 10:00:00", None, None, None),  # not placed, last 3 days
        ("R4", "K11", "2023-02-28 10:00:00", None, None, None),  # non-leap last day
        ("R4", "K12", "2023-02-25 10:00:00", None, None, None),  # non-leap, not last 3
        ("R4", "K13", "2023-02-26 10:00:00", "C6", "2023-02-26 10:00:00", "2023-02-26 10:00:00"),
        ("R2", "K14", "2024-02-03 10:00:00", "C1", "2024-02-03 12:00:00", None),  # C1 via R2
    ]
    wecom_contact = pd.DataFrame(
        wc, columns=["rm_id", "contact_id", "added_at", "customer_id", "certified_at", "removed_at"]
    )
    for col in ("added_at", "certified_at", "removed_at"):
        wecom_contact[col] = pd.to_datetime(wecom_contact[col]).astype(TS)
    quota = pd.DataFrame(
        [
            ("B1", None, "2024-02", 50),
            ("B1", None, "2024-03", 50),
            (None, "R1", "2024-03", 80),  # RM-level overrides B1
            ("B2", None, "2024-03", 30),
            (None, "R9", "2024-03", 10),  # an RM without customers: no effect
        ],
        columns=["branch_id", "rm_id", "month", "quota_target"],
    )
    return {"customer_month": customer_month, "wecom_contact": wecom_contact, "quota": quota}


def write_source(root: Path, tables: dict[str, pd.DataFrame], files: int = 2) -> Path:
    """Write each table as a folder of ``files`` Parquet files (as a bank's export would)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        folder = root / name
        folder.mkdir(exist_ok=True)
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        n = max(1, min(files, arrow.num_rows))
        bounds = np.linspace(0, arrow.num_rows, n + 1).astype(int)
        for i in range(n):
            pq.write_table(
                arrow.slice(bounds[i], bounds[i + 1] - bounds[i]), folder / f"part-{i}.parquet"
            )
    return root


def reference_build(
    tables: dict[str, pd.DataFrame], first: str | None = None, last: str | None = None
) -> tuple[pd.DataFrame, dict]:
    """The contract's definitions in plain pandas: the panel with the add-quality counts, and
    the adds not placed. Sorted by (rm_id, month)."""
    cm = tables["customer_month"].copy()
    wc = tables["wecom_contact"].copy()
    q = tables["quota"].copy()

    def inside(month: pd.Series) -> pd.Series:
        ok = pd.Series(True, index=month.index)
        if first:
            ok &= month >= first
        if last:
            ok &= month <= last
        return ok

    first_month = cm.groupby("customer_id")["month"].min()
    n_rms = wc.groupby("contact_id")["rm_id"].nunique()
    day = pd.Timedelta(days=1)
    wc["month"] = wc["added_at"].dt.strftime("%Y-%m")
    wc["wecom_adds"] = 1
    cert = wc["certified_at"].notna() & (wc["certified_at"] - wc["added_at"] <= 30 * day)
    wc["wecom_certified_adds"] = cert.astype(int)
    before = wc["customer_id"].map(first_month)
    wc["adds_existing_customer"] = (cert & before.notna() & (before < wc["month"])).astype(int)
    rem = wc["removed_at"] - wc["added_at"]
    wc["adds_removed_30d"] = (wc["removed_at"].notna() & (rem <= 30 * day)).astype(int)
    wc["adds_removed_90d"] = (wc["removed_at"].notna() & (rem <= 90 * day)).astype(int)
    wc["adds_shared_3plus"] = (wc["contact_id"].map(n_rms) >= 3).astype(int)
    days_in_month = wc["added_at"].dt.days_in_month
    wc["adds_last3days"] = (wc["added_at"].dt.day > days_in_month - 3).astype(int)
    counts = [
        "wecom_adds",
        "wecom_certified_adds",
        "adds_existing_customer",
        "adds_removed_30d",
        "adds_removed_90d",
        "adds_shared_3plus",
        "adds_last3days",
    ]
    adds = wc[inside(wc["month"])].groupby(["rm_id", "month"], as_index=False)[counts].sum()

    assigned = cm[cm["rm_id"].notna() & inside(cm["month"])]
    money = [c for c in ("aum_cny", "net_new_money_cny", "product_sales_cny") if c in cm]
    base = assigned.groupby(["rm_id", "month"], as_index=False).agg(
        branch_id=("branch_id", "first"),
        customers=("customer_id", "size"),
        **{m: (m, lambda s: s.astype(float).sum(min_count=1)) for m in money},
    )
    out = base.merge(adds, on=["rm_id", "month"], how="left")
    out[counts] = out[counts].fillna(0).astype("int64")
    rm_q = q[q["rm_id"].notna()].set_index(["rm_id", "month"])["quota_target"]
    br_q = q[q["rm_id"].isna()].set_index(["branch_id", "month"])["quota_target"]
    targets = []
    for row in out.itertuples():
        if (row.rm_id, row.month) in rm_q.index:
            targets.append(int(rm_q[(row.rm_id, row.month)]))
        elif (row.branch_id, row.month) in br_q.index:
            targets.append(int(br_q[(row.branch_id, row.month)]))
        else:
            targets.append(0)
    out["quota_target"] = np.array(targets, dtype="int64")
    keys = set(zip(base["rm_id"], base["month"], strict=True))
    orphan = adds[[k not in keys for k in zip(adds["rm_id"], adds["month"], strict=True)]]
    out = out.sort_values(["rm_id", "month"]).reset_index(drop=True)
    return out, {"adds": int(orphan["wecom_adds"].sum()), "rm_months": len(orphan)}


# ------------------------------------------------------------------ the build (DuckDB, Spark)


def run(source, out, **kw) -> tuple[pd.DataFrame, dict]:
    result = build.build(source, out, progress=Progress(8, quiet=True), **kw)
    rm = pd.read_parquet(result.rm_month)
    quality = pd.read_parquet(result.add_quality)
    return rm.merge(quality, on=["rm_id", "month", "wecom_adds", "wecom_certified_adds"]), (
        result.record
    )


def assert_drop_table_and_release(con) -> None:
    """``drop_table`` removes a table, and releasing a cached expression (the build caches its
    groupings) drops the engine's cached copy. sqlglot 30.18 to 30.30 at least write DuckDB's
    ``DROP TABLE`` without the name (ibis-project/ibis issues 12101, 12124): both raise then,
    which is why pyproject pins sqlglot."""
    name = f"wb_drop_{uuid.uuid4().hex[:8]}"
    table = con.create_table(name, ibis.memtable({"a": [1, 2, 3]}))
    cached = table.filter(table.a > 1).cache()
    cached_name = cached.op().name
    assert con.table(cached_name).count().to_pyarrow().as_py() == 2
    cached.release()
    with pytest.raises(TableNotFound):
        con.table(cached_name)
    con.drop_table(name)
    with pytest.raises(TableNotFound):
        con.table(name)


def assert_same_panel(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Counts and ids equal; money to 1e-9 relative (docs/warehouse.md §2)."""
    assert len(got) == len(ref)
    got = got.sort_values(["rm_id", "month"]).reset_index(drop=True)
    ref = ref.sort_values(["rm_id", "month"]).reset_index(drop=True)
    for col in ref.columns:
        if col.endswith("_cny"):
            np.testing.assert_allclose(
                got[col].astype(float), ref[col].astype(float), rtol=1e-9, err_msg=col
            )
        else:
            assert got[col].astype(str).tolist() == ref[col].astype(str).tolist(), col


# ------------------------------------------------------------------ the customer-level uplift


TINY = CustomerSimulationConfig(
    n_rms=60, n_months=12, customers_per_rm=10, organic_mean=0.4, targets=(1, 2), fill_prob=0.5,
    seed=3,
)  # fmt: skip


def read_tables(folder) -> dict[str, pd.DataFrame]:
    return {n: pd.read_parquet(folder / n) for n in ("customer_month", "wecom_contact", "quota")}


def with_edge_cases(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The simulated tables plus the cases the definitions must handle: a customer with a gap,
    months without an RM at the start of a spell, a binding in a customer's first month, one
    after its last month, and two bindings in the first binding month, one by an RM with a
    quota in force and one without."""
    cm, wc, q = (tables[n].copy() for n in ("customer_month", "wecom_contact", "quota"))
    ids = sorted(cm.customer_id.unique())
    gap, late_rm, first_bound, after, two = ids[3], ids[10], ids[20], ids[30], ids[40]
    cm = cm[~((cm.customer_id == gap) & (cm.month == "2024-05"))]
    head = (cm.customer_id == late_rm) & (cm.month <= "2024-03")
    cm.loc[head, ["rm_id", "branch_id"]] = None
    bound_first = wc.customer_id.isin([first_bound, after, two])
    wc = wc[~bound_first]
    start = cm[cm.customer_id == first_bound].month.min()
    quota_rm = q[q.rm_id.notna()].iloc[0]
    free_rm = sorted(set(wc.rm_id) - set(q.rm_id.dropna()))[0]
    extra = [
        (cm[cm.customer_id == first_bound].rm_id.iloc[0], "X1", f"{start}-05 10:00:00",
         first_bound, f"{start}-05 12:00:00"),
        (free_rm, "X2", "2025-02-27 10:00:00", after, "2025-03-03 10:00:00"),
        (free_rm, "X3", f"{quota_rm.month}-02 10:00:00", two, f"{quota_rm.month}-02 11:00:00"),
        (quota_rm.rm_id, "X4", f"{quota_rm.month}-20 10:00:00", two,
         f"{quota_rm.month}-21 11:00:00"),
    ]  # fmt: skip
    add = pd.DataFrame(
        [(r, c, pd.Timestamp(ad), cu, pd.Timestamp(ce), pd.NaT) for r, c, ad, cu, ce in extra],
        columns=["rm_id", "contact_id", "added_at", "customer_id", "certified_at", "removed_at"],
    )
    for col in ("added_at", "certified_at", "removed_at"):
        add[col] = add[col].astype(wc[col].dtype)
    wc = pd.concat([wc, add], ignore_index=True)
    return {"customer_month": cm.reset_index(drop=True), "wecom_contact": wc, "quota": q}


# ------------------------------------------------------------------ the rules, broken

PHONE = "13812345678"
PHONE_86 = "+8613912345678"
ID_NUMBER = "110101199003071234"
WXID = "wxid_abc123xyz"


def broken_tables() -> dict[str, pd.DataFrame]:
    """The edge tables with one or more rows breaking each rule."""
    t = edge_tables()
    cm = t["customer_month"]
    cm = pd.concat([cm, cm.iloc[[0, 1]]], ignore_index=True)  # two duplicated customer-months
    cm.loc[3, "aum_cny"] = -1.0
    cm.loc[4, "branch_id"] = None  # RM without a branch
    cm.loc[5, "month"] = "2024-3"
    cm.loc[2, "branch_id"] = "B9"  # R2 in two branches in 2024-03 (3 rows)
    cm.loc[7, "customer_id"] = PHONE
    t["customer_month"] = cm
    wc = t["wecom_contact"]
    wc.loc[0, "certified_at"] = pd.Timestamp("2024-01-01")  # certified before the add
    wc.loc[1, "contact_id"] = PHONE_86
    wc.loc[2, "contact_id"] = WXID
    wc.loc[3, "customer_id"] = ID_NUMBER
    wc.loc[4, "removed_at"] = pd.Timestamp("2020-01-01")
    wc.loc[5, "certified_at"] = pd.Timestamp("2024-03-01")  # certified without a customer
    wc.loc[6, "rm_id"] = " \t\x0b"  # blank once stripped
    wc.loc[7, "contact_id"] = ""
    t["wecom_contact"] = wc
    q = t["quota"]
    q.loc[0, "quota_target"] = 0
    q.loc[1, "rm_id"] = "R7"  # both levels on one row
    t["quota"] = pd.concat([q, q.iloc[[3]]], ignore_index=True)  # duplicated branch row
    return t


#: What validation reports on :func:`broken_tables`: rows broken per (table, column, rule).
EXPECTED = {
    ("customer_month", "customer_id, month", "unique_key"): 4,
    ("customer_month", "aum_cny", "ge_0"): 1,
    ("customer_month", "branch_id", "null_iff_rm_null"): 1,
    ("customer_month", "month", "month_format"): 1,
    ("customer_month", "branch_id", "one_branch_per_rm_month"): 3,
    ("customer_month", "customer_id", "no_personal_data"): 1,
    ("wecom_contact", "certified_at", "not_before_added"): 1,
    ("wecom_contact", "contact_id", "no_personal_data"): 2,
    ("wecom_contact", "customer_id", "no_personal_data"): 1,
    ("wecom_contact", "removed_at", "not_before_added"): 1,
    ("wecom_contact", "certified_at", "null_iff_customer_null"): 1,
    ("wecom_contact", "rm_id", "non_empty"): 1,
    ("wecom_contact", "rm_id", "id_characters"): 1,  # the same blank id starts with a space
    ("wecom_contact", "contact_id", "non_empty"): 1,
    ("quota", "quota_target", "gt_0"): 1,
    ("quota", "rm_id, branch_id", "one_level"): 1,
    ("quota", "branch_id, month", "unique_key"): 2,
}
