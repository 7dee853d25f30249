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
banks: list[str] | None = None  # help: bank ids to show; None means all
metrics: list[str] | None = None  # help: income, profit, share, aum, wecom, trends, coverage
out_dir: str = "../figures"  # help: folder for figures (PNG+SVG) and bank_comparison.json

# %%
from pathlib import Path

import pandas as pd
from IPython.display import display

from wb.banks import comparison, newscheck
from wb.banks import metrics as m
from wb.door.arguments import check_parameters
from wb.door.io import write_workbook
from wb.plots import banks as bank_plots

check_parameters(globals())  # a wrong type: converted when unambiguous (2024 → "2024"), else an error
pd.set_option("display.max_colwidth", 120)
panel = m.Panel.load(panel_path)
periods = sorted({*bank_plots.DEFAULT_PERIODS, period}, key=lambda p: (p[-4:], p))
found = comparison.findings(panel, period, periods, banks)
tables = comparison.chart_tables(panel, period, periods, banks)
drawers = {
    "income": (bank_plots.plot_retail_income_yoy, {"period": period}),
    "profit": (bank_plots.plot_retail_profit_yoy, {"period": period}),
    "share": (bank_plots.plot_retail_share, {"period": period}),
    "aum": (bank_plots.plot_retail_aum, {"period": period}),
    "wecom": (bank_plots.plot_wecom_reach, {}),
    "trends": (
        bank_plots.plot_trends,
        {"kind": comparison.trend_kind(period), "until": comparison.period_year(period)},
    ),
    "coverage": (bank_plots.plot_coverage, {"periods": periods}),
}
chosen = metrics or list(drawers)
saved = []
print(
    panel.frame.shape[0],
    "rows;",
    panel.frame["bank_id"].nunique(),
    "banks;",
    len(panel.sources),
    "sources",
)

# %% [markdown]
# ## Question 1 · Retail income and profit 零售营收与利润
#
# Did retail operating income and retail profit grow or fall on a year earlier, and how large is
# retail within each bank?

# %%
for key in [k for k in ("income", "profit", "share") if k in chosen]:
    draw, kwargs = drawers[key]
    fig = draw(panel, banks=banks, **kwargs)
    saved.append(bank_plots.save_with_record(fig, out_dir, f"bank_{key}", tables[f"bank_{key}"]))
for key in ("retail_income", "retail_profit", "retail_share"):
    display(found[key])

# %% [markdown]
# ## Question 2 · Retail AUM growth 零售AUM增长
#
# How large is each bank's retail AUM and how fast did it grow since the previous year-end?
# Definitions differ by bank (个人客户金融资产, 零售AUM, 含市值 …): compare growth rates, not levels.

# %%
if "aum" in chosen:
    fig = bank_plots.plot_retail_aum(panel, period=period, banks=banks)
    saved.append(bank_plots.save_with_record(fig, out_dir, "bank_aum", tables["bank_aum"]))
display(found["retail_aum"])

# %% [markdown]
# ## Question 3 · WeCom reach 企业微信触达
#
# How many customers does each bank reach through WeCom, and what share of its retail customers
# is that? The figures are dated points; two dates far apart are flagged.

# %%
if "wecom" in chosen:
    fig = bank_plots.plot_wecom_reach(panel, banks=banks)
    saved.append(bank_plots.save_with_record(fig, out_dir, "bank_wecom", tables["bank_wecom"]))
display(found["wecom"])
m.wecom_reach(panel, banks)

# %% [markdown]
# ## Trends 历年走势
#
# Retail operating income and retail's share of income over the years, first halves with first
# halves (or full years with full years for an FY run). A year without a figure is a gap, never
# interpolated; unverified figures are open squares and named under the chart.

# %%
if "trends" in chosen:
    draw, kwargs = drawers["trends"]
    fig = draw(panel, banks=banks, **kwargs)
    saved.append(bank_plots.save_with_record(fig, out_dir, "bank_trends", tables["bank_trends"]))
display(found["trend"])

# %% [markdown]
# ## The news check 新闻核对
#
# 每日经济新闻 2025-12-31 (re-posted in seeds/002) makes claims about H1 2025 retail results. Each is
# checked against the panel; the article's own pages are not counted as evidence. `strength` says
# how strong the evidence behind each verdict is; `origin` whether the claim is in the article's
# text or only in a summary of it.

# %%
news = newscheck.check(panel)
news

# %% [markdown]
# ## What is known and what is missing 数据覆盖

# %%
if "coverage" in chosen:
    fig = bank_plots.plot_coverage(panel, periods=periods, banks=banks)
    saved.append(
        bank_plots.save_with_record(fig, out_dir, "bank_coverage", tables["bank_coverage"])
    )
display(found["coverage"])

# %% [markdown]
# ## The artifact and the sources 输出与来源

# %%
artifact = comparison.comparison_artifact(panel, period, found, news, saved)
path = comparison.write_artifact(artifact, out_dir)
shown = {record["stem"] for record in saved}
book = write_workbook(
    {stem: table for stem, table in tables.items() if stem in shown},
    Path(out_dir) / comparison.WORKBOOK_NAME,
)
print(path, book, sep="\n")
m.source_table(panel)
