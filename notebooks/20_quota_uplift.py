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
# export with a known truth, and every output is marked **simulated**; so is every output of a
# file `wb simulate` wrote, under any name (the file carries its stamp). Without an `out_dir`
# (the default in JupyterLab) nothing is written: the figures below are drawn from the results;
# `wb run` passes a folder and gets `uplift.json` and every figure as PNG and SVG.

# %% tags=["parameters"]
data_path: str | None = None  # RM x month export (CSV, Parquet, XLSX); None simulates one
out_dir: str | None = None  # folder for uplift.json and the figures (wb run gives one); None: none written
seed: int = 1  # drives the designs' bootstraps (wb run passes the params seed)
data_label: str | None = None  # what the data is, shown in uplift.json and the brief
simulated: bool | None = None  # None: simulated when the file says so (wb simulate's stamp)
quality_path: str | None = None  # add_quality.parquet (wb warehouse build); wb run passes it

# %%
from pathlib import Path

from IPython.display import Markdown, display

from wb.door.arguments import check_parameters
from wb.plots.theme import SIMULATED_LABEL
from wb.run import uplift_outputs, workbook

check_parameters(globals())  # a wrong type: converted when unambiguous, else an error
data = Path(data_path) if data_path else uplift_outputs.demo_export(out_dir)  # None: a temp folder
analysis = uplift_outputs.analyse(
    data, out_dir, seed=seed, label=data_label, simulated=simulated, quality=quality_path
)
result, designs = analysis.result, analysis.designs
if result.simulated:
    display(Markdown(f"**{SIMULATED_LABEL}**: the export was written by `wb simulate`."))
result

# %% [markdown]
# ## What a quota-induced add is
# With the warehouse's add-quality counts (`quality_path`), the same instrument says what the
# adds a quota produces are: certified, existing customers, removed soon, ring contacts, made at
# month end; beside the adds of months without a quota.

# %%
analysis.add_quality if analysis.add_quality is not None else "no add-quality counts given"

# %% [markdown]
# ## The verdict, in one sentence

# %%
print(result.verdict_text())

# %% [markdown]
# ## Three estimates side by side
# The dashboard number sits far from the other two: skilled RMs both add more contacts and grow
# their books faster, so the pooled correlation is not an effect of adding.

# %%
figure = uplift_outputs.draw(analysis, "uplift_forest")

# %% [markdown]
# ## Why a dashboard sees uplift
# Across RMs, adds and AUM change move together; within an RM, once its own average and the
# month are removed, the slope is much flatter.

# %%
figure = uplift_outputs.draw(analysis, "uplift_binscatter")

# %% [markdown]
# ## What the quota does
# The first stage (adds per quota month) and the reduced form (AUM change per quota month). The
# IV estimate is their ratio. It is a local effect for RMs the quota pushed, and it relies on the
# quota moving AUM only through adds (no penalty or campaign effects): that cannot be tested
# with these data alone.

# %%
figure = uplift_outputs.draw(analysis, "uplift_by_quota")

# %%
result.tidy()

# %% [markdown]
# ## Designs a referee asks for
# The three numbers above lean on one instrument and a static model. Quotas arrive branch by
# branch, so a static two-way model mixes early and late adopters; the sections below look at
# the same question from other sides. Each says what it shows and what it cannot.

# %%
designs

# %% [markdown]
# ### Event study around the first quota month
# Callaway–Sant'Anna (not-yet-treated RMs as controls) and Borusyak–Jaravel–Spiess imputation,
# for AUM change, adds and certified adds. Flat pre-periods support parallel trends (they
# cannot prove it: a pre-trend test has limited power); the jump in adds at month 0 is the
# quota's first stage. It cannot separate the adds from anything else the quota brought.

# %%
figure = uplift_outputs.draw(analysis, "uplift_event_study")  # None: see designs.notes

# %%
designs.event_studies.get("aum_change_cny", {}).get("callaway_santanna") or designs.notes

# %% [markdown]
# ### How much the pre-trends could matter
# Rambachan–Roth bounds on the average effect on AUM change over months 0–12: how large a
# violation of parallel trends (relative to the pre-period ones, or as a bend of the trend gap)
# would overturn its sign, and which linear pre-trends the pre-trend test would miss (Roth).

# %%
figure = uplift_outputs.draw(analysis, "uplift_sensitivity")

# %%
designs.trend_sensitivity or designs.notes

# %% [markdown]
# ### Wald-DiD beside FE-2SLS
# The robust ATT on AUM change divided by the robust ATT on adds: yuan per quota-induced add
# without the static model's negative weights. Like FE-2SLS it needs the exclusion restriction.

# %%
designs.wald_did or designs.notes

# %% [markdown]
# ### Bunching at the target
# How many quota RM-months sit exactly at the target beyond the same RMs' pre-quota share, and
# how many adds the quota manufactured. It measures gaming of the count, not the value of adds.

# %%
figure = uplift_outputs.draw(analysis, "uplift_bunching")

# %%
designs.bunching or designs.notes

# %% [markdown]
# ### Heterogeneous and dynamic effects
# IV-WAS compares RMs whose quota switched with RMs whose quota did not, weighting each by its
# own first stage, beside FE-2SLS (and tests the difference). DID_ℓ follows the quota target as
# a non-binary, non-absorbing treatment: effects by months since an RM's first target change
# (on, changed, stopped), with placebos before it.

# %%
designs.iv_was or designs.notes

# %%
figure = uplift_outputs.draw(analysis, "uplift_dynamic")

# %%
designs.dynamic_effects or designs.notes

# %% [markdown]
# ### Every design on one axis, and the robustness checks
# Certified and uncertified adds as outcomes of the quota (not controls); winsorised AUM
# change, quarter-ends dropped, branch × month effects, and a leads test (next month's adds
# must not predict this month's AUM change).

# %%
figure = uplift_outputs.draw(analysis, "uplift_designs")

# %%
designs.robustness or designs.notes

# %%
designs.certification or designs.notes

# %% [markdown]
# ### More outcomes (Holm-adjusted) and the WeCom coverage rate
# The same FE-2SLS per add for each outcome in the export, with Holm's adjustment across the
# family. The coverage rate (certified adds ÷ managed customers) above 100% counts adds who are
# not the RM's customers.

# %%
designs.outcomes or designs.notes

# %%
designs.coverage or "no customers column in the export: coverage not computed"

# %% [markdown]
# ## The export 导出
# Every table behind this notebook's figures and results, one sheet each, units in the headers
# (`workbook.xlsx` beside the figures; written only when there is an `out_dir`).

# %%
workbook.write(out_dir) if out_dir else "no out_dir: nothing written"
