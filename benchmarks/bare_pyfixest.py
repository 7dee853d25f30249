"""Baseline for the uplift benchmark: the three contract models as plain ``pf.feols`` calls.

Reads the same Parquet export, builds the same outcome (AUM change within RM, no bridging of
gaps) and fits naive OLS, TWFE and FE-2SLS with CRV1 by branch. No validation, no figures.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pyfixest as pf

from wb.uplift.fixest import iv_formula


def main(path: str) -> None:
    df = pd.read_parquet(path).sort_values(["rm_id", "month"], ignore_index=True)
    t = df["month"].str[:4].astype(int) * 12 + df["month"].str[5:].astype(int)
    same = df["rm_id"].eq(df["rm_id"].shift())
    consecutive = (t - t.shift()).eq(1)
    df["d_aum"] = np.where(same & consecutive, df["aum_cny"] - df["aum_cny"].shift(), np.nan)
    df["quota_on"] = (df["quota_target"] > 0).astype(float)
    df = df.dropna(subset=["d_aum"])
    vcov = {"CRV1": "branch_id"}
    for fml in (
        "d_aum ~ wecom_adds",
        "d_aum ~ wecom_adds | rm_id + month",
        iv_formula("d_aum", "wecom_adds", "quota_on", ("rm_id", "month")),
    ):
        fit = pf.feols(fml, df, vcov=vcov)
        print(fml, float(fit.coef()["wecom_adds"]), float(fit.se()["wecom_adds"]))


if __name__ == "__main__":
    main(sys.argv[1])
