"""The customer-level uplift on Spark (local[2]) equals DuckDB's: the same cells, hence the same
estimates (1e-9 relative). Slow (about two minutes: Spark
checks every table rule as its own job). One SparkSession for the module; needs Java 17+ (``make install``)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import local_spark
from warehouse_cases import TINY, read_tables, with_edge_cases, write_source

from wb.warehouse import imputation, simulate, uplift, uplift_result
from wb.warehouse.source import EngineOptions

SPARK = EngineOptions(engine="spark", spark_master="local[2]")
pytestmark = pytest.mark.spark  # needs Java: skipped with the reason without it


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    session = local_spark(tmp_path_factory.mktemp("sw"))
    yield session
    session.stop()


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


@pytest.mark.slow
@pytest.mark.parametrize("months", [None, "2024-02..2024-11"])
def test_spark_equals_duckdb(spark, tmp_path, months):
    folder, _ = simulate.write(TINY, tmp_path / "sim")
    src = write_source(tmp_path / "src", with_edge_cases(read_tables(folder)))
    design = imputation.Design(leads=2, post=3)
    on_spark = uplift.estimate(src, SPARK, months=months, design=design)
    on_duckdb = uplift.estimate(src, months=months, design=design)
    assert on_spark.engine == "spark" and on_duckdb.engine == "duckdb"
    keep = ("customers", "never_bound", "bound_used", "cells", "cell_months", "customer_months")
    assert {k: on_spark.counts[k] for k in keep} == {k: on_duckdb.counts[k] for k in keep}
    groups = [
        (on_spark.kinds, on_duckdb.kinds),
        *list(zip(on_spark.tiers, on_duckdb.tiers, strict=True)),
    ]
    compared = 0
    for s_kinds, d_kinds in groups:
        for kind in uplift_result.KINDS:
            s, d = s_kinds[kind], d_kinds[kind]
            np.testing.assert_allclose(s.delta, d.delta, rtol=1e-9, atol=1e-9)
            for attr in ("coef", "se", "ci_low", "ci_high"):
                assert _same(getattr(s.att, attr), getattr(d.att, attr)), (kind, attr)
            assert _same(s.pretrend.p_value, d.pretrend.p_value)
            compared += s.att.coef is not None
    assert compared >= 4
