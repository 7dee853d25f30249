# ---
# jupyter:
#   kernelspec:
#     display_name: wb (Python 3.11)
#     language: python
#     name: wb
# ---

# %% [markdown]
# # 10 · Bank comparison 银行零售对比
#
# How do banks compare on **retail income and profit**, **retail AUM growth** and **WeCom
# reach**? Every number comes from `data/bank_panel.csv` with its source id; the sources table
# is at the end. A missing figure is shown as missing, never as zero. Computed values (a change
# from two levels, a share from two levels) are marked *derived*.

# %% tags=["parameters"]
panel_path: str = "../data/bank_panel.csv"  # help: bank panel; sources.csv beside it
period: str = "H1 2025"  # help: period compared, e.g. H1 2025 or FY2024
banks: list[str] | None = None  # help: banks to show, by id or name (cmb, CMB, 招商银行, 招商); None: all
metrics: list[str] | None = None  # help: income, profit, share, aum, wecom, trends, coverage
out_dir: str = "../figures"  # help: folder for figures (PNG+SVG) and bank_comparison.json

# %%
import pandas as pd
from IPython.display import display

from wb.banks import comparison, newscheck
from wb.banks.metrics import source_table
from wb.banks.panel import Panel
from wb.door.arguments import check_parameters
from wb.plots.banks import BankCharts

check_parameters(globals())  # a wrong type: converted when unambiguous (2024 → "2024"), else an error
pd.set_option("display.max_colwidth", 120)
panel = Panel.load(panel_path)
charts = BankCharts(panel, period, banks=banks, metrics=metrics, out_dir=out_dir)
found = comparison.findings(panel, period, charts.periods, charts.banks)  # names resolved to ids
print(panel.summary())

# %% [markdown]
# ## Question 1 · Retail income and profit 零售营收与利润
#
# Did retail operating income and retail profit grow or fall on a year earlier, and how large is
# retail within each bank?

# %%
charts.draw("income", "profit", "share")

# %% [markdown]
# The numbers behind each chart, in their units, with the sources they come from.

# %%
display(found["retail_income"], found["retail_profit"], found["retail_share"])

# %% [markdown]
# ## Question 2 · Retail AUM growth 零售AUM增长
#
# How large is each bank's retail AUM and how fast did it grow since the previous year-end?
# Definitions differ by bank (个人客户金融资产, 零售AUM, 含市值 …): compare growth rates, not levels.

# %%
charts.draw("aum")

# %%
found["retail_aum"]

# %% [markdown]
# ## Question 3 · WeCom reach 企业微信触达
#
# How many customers does each bank reach through WeCom, and what share of its retail customers
# is that? The figures are dated points; two dates far apart are flagged.

# %%
charts.draw("wecom")

# %%
found["wecom"]

# %% [markdown]
# ## Trends 历年走势
#
# Retail operating income and retail's share of income over the years, first halves with first
# halves (or full years with full years for an FY run). A year without a figure is a gap, never
# interpolated; unverified figures are open squares and named under the chart.

# %%
charts.draw("trends")

# %%
found["trend"]

# %% [markdown]
# ## The news check 新闻核对
#
# 每日经济新闻 2025-12-31 (李玉雯)《“疯狂”的银行企微考核》 makes claims about H1 2025 retail results.
# Each is checked against the panel; the article's own pages are not counted as evidence. `strength`
# says how strong the evidence behind each verdict is, counting independent origins (authors or
# outlets, not pages); `origin` whether the claim is in the article's text or only in a summary.

# %%
news = newscheck.check(panel)
news

# %% [markdown]
# ## What is known and what is missing 数据覆盖

# %%
charts.draw("coverage")

# %%
found["coverage"]

# %% [markdown]
# ## The artifact and the sources 输出与来源

# %%
print(*charts.write(found, news), sep="\n")
source_table(panel)
