# ---
# jupyter:
#   kernelspec:
#     display_name: wb (Python 3.11)
#     language: python
#     name: wb
# ---

# %% [markdown]
# # 20 · Do quota-driven WeCom adds raise customers' AUM?
#
# Banks give relationship managers (RMs) quotas: add 50 WeCom contacts a month or pay a penalty.
# A dashboard that correlates adds with AUM growth will see "uplift". This notebook asks whether
# an add *caused by the quota* changes the AUM of the RM's customers, using three estimates:
#
# 1. the naive pooled correlation (what a dashboard shows);
# 2. two-way fixed effects (RM and month): an association, since RMs choose how many to add;
# 3. the quota in force as an instrument for adds (FE-2SLS): AUM per quota-induced add.
#
# Standard errors are clustered by branch. Without a `data_path` the notebook simulates an
# export with a known truth, and every output is marked **simulated**.

# %% tags=["parameters"]
data_path: str | None = None  # RM x month export (CSV, Parquet, XLSX); None simulates one
out_dir: str = "../figures"  # folder for uplift.json and the figures

# %%
from pathlib import Path

from IPython.display import Image, display

from wb import uplift_report

data = Path(data_path) if data_path else uplift_report.demo_export(out_dir)
result = uplift_report.analyse(data, out_dir)
result

# %% [markdown]
# ## The verdict, in one sentence

# %%
print(result.verdict.text)
for caveat in result.verdict.caveats:
    print("-", caveat)

# %% [markdown]
# ## Three estimates side by side
# The dashboard number sits far from the other two: skilled RMs both add more contacts and grow
# their books faster, so the pooled correlation is not an effect of adding.

# %%
display(Image(Path(out_dir) / "uplift_forest.png"))

# %% [markdown]
# ## Why a dashboard sees uplift
# Across RMs, adds and AUM change move together; within an RM, once its own average and the
# month are removed, the slope is much flatter.

# %%
display(Image(Path(out_dir) / "uplift_binscatter.png"))

# %% [markdown]
# ## What the quota does
# The first stage (adds per quota month) and the reduced form (AUM change per quota month). The
# IV estimate is their ratio. It is a local effect for RMs the quota pushed, and it relies on the
# quota moving AUM only through adds (no penalty or campaign effects): that cannot be tested
# with these data alone.

# %%
display(Image(Path(out_dir) / "uplift_by_quota.png"))
result.tidy()
