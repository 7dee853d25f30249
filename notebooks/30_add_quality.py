# ---
# jupyter:
#   kernelspec:
#     display_name: wb (Python 3.11)
#     language: python
#     name: wb
# ---

# %% [markdown]
# # 30 · Add quality and customer-level uplift 加好友质量与客户层面的资产变化
#
# Are the adds a quota produces real customers, and do customers' assets grow once an RM binds
# them through WeCom? This notebook reads a bank's warehouse tables (`customer_month`,
# `wecom_contact`, `quota`; a Parquet folder, or `spark:DB` with `engine="spark"`), builds the
# RM x month panel and its add-quality counts in the engine, and answers both questions. Without
# a `source` it simulates a small warehouse with a known truth, and every output says
# **simulated**.

# %% tags=["parameters"]
source: str | None = None  # warehouse folder (customer_month/, wecom_contact/, quota/) or spark:DB
engine: str = "duckdb"  # duckdb (embedded) or spark
out_dir: str = "../figures"  # folder for the build, uplift.json, customer_uplift.json, figures

# %%
from pathlib import Path

from IPython.display import Markdown, display

from wb.door.arguments import check_parameters
from wb.plots.customer_uplift import paths_and_tiers
from wb.plots.theme import SIMULATED_LABEL
from wb.run import uplift_outputs, workbook
from wb.warehouse import build, simulate, uplift
from wb.warehouse.source import EngineOptions

check_parameters(globals())  # a wrong type: converted when unambiguous, else an error
out = Path(out_dir)
if source is None:
    source = str(out / "simulated_warehouse")
    if not (Path(source) / simulate.TRUTH).is_file():
        simulate.write(simulate.CustomerSimulationConfig(n_rms=120), source)
options = EngineOptions(engine=engine)
built = build.build(source, out / "warehouse_build", options)
if built.simulated:  # its tables carry wb simulate's stamp, wherever they were copied
    display(Markdown(f"**{SIMULATED_LABEL}**: the warehouse below was simulated."))
built

# %% [markdown]
# ## What a quota-induced add is
# The quota in force instruments adds (RM and month effects, SEs clustered by branch): each
# count's response over the adds' response is the make-up of the marginal, quota-induced add.
# Beside it, the same shares among adds of months without a quota.

# %%
analysis = uplift_outputs.analyse(
    built.rm_month, out / "uplift", quick=True, quality=built.add_quality
)
analysis.add_quality

# %% [markdown]
# The funnel: of one add, the share certified to a customer, still connected after 90 days and
# already a customer of the bank, for quota-induced adds and for adds made without a quota.

# %%
figure = uplift_outputs.draw(analysis, "uplift_add_quality")  # marked SIMULATED when it is

# %% [markdown]
# ## Do customers' assets grow once bound?
# A staggered event study at the customer level (the binding month is the event; customers of
# the same branch not yet bound are the controls), computed on cells the engine aggregates. A
# binding in a quota month mixes organic and quota-induced adds, so the difference between the
# two kinds is not the effect of a quota add alone.

# %%
result = uplift.estimate(source, options)
print(result.finding())
result

# %%
figure = paths_and_tiers(result)  # shown by the notebook's inline backend

# %% [markdown]
# ## The export 导出
# The uplift estimates, the add-quality shares and the customer-level effects and paths, one
# sheet each, units in the headers (`workbook.xlsx` beside the figures).

# %%
workbook.write(out / "uplift", customer=result)
