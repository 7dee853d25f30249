"""wb: a research workbench for Chinese retail banking, organised by capability.

- ``wb.door``: reading files, table schemas and their checks, personal-data screening, the atomic writer
- ``wb.banks``: the public bank panel, comparisons and the news check
- ``wb.uplift``: the quota-uplift estimators, designs, results and the RM-level simulator
- ``wb.warehouse``: the bank's customer-level warehouse to the RM panel, and the customer-level uplift
- ``wb.stats``: the inference both wings stand on (clustered variance, t quantiles, sensitivity)
- ``wb.plots``: every figure, and the theme they share
- ``wb.run``: params, scheduled runs, run folders, the PDF brief and the uplift outputs
- ``wb.cli``: the ``wb`` command; ``wb.cli_warehouse``: its ``wb warehouse`` group

Dependencies point one way: cli → cli_warehouse → run → plots → banks | uplift | warehouse →
door | stats → errors (held by the import-linter contract in ``pyproject.toml``).
"""

from importlib import import_module

__version__ = "0.1.0"

#: The Python entry points an analyst uses in Jupyter, imported on first use (``import wb``
#: stays light): ``wb.load_panel(...)``, ``wb.plot_trends(panel)``, ``wb.estimate(frame)``.
PUBLIC = {
    "load_panel": ("wb.banks.panel", "Panel.load"),
    "select": ("wb.banks.panel", "select"),
    "level_table": ("wb.banks.metrics", "level_table"),
    "yoy_table": ("wb.banks.metrics", "yoy_table"),
    "aum_table": ("wb.banks.metrics", "aum_table"),
    "share_table": ("wb.banks.metrics", "share_table"),
    "trend_table": ("wb.banks.metrics", "trend_table"),
    "coverage": ("wb.banks.metrics", "coverage"),
    "findings": ("wb.banks.comparison", "findings"),
    "check_news": ("wb.banks.newscheck", "check"),
    "plot_retail_income_yoy": ("wb.plots.banks", "plot_retail_income_yoy"),
    "plot_retail_profit_yoy": ("wb.plots.banks", "plot_retail_profit_yoy"),
    "plot_retail_share": ("wb.plots.banks", "plot_retail_share"),
    "plot_retail_aum": ("wb.plots.banks", "plot_retail_aum"),
    "plot_wecom_reach": ("wb.plots.banks", "plot_wecom_reach"),
    "plot_trends": ("wb.plots.bank_periods", "plot_trends"),
    "plot_coverage": ("wb.plots.bank_periods", "plot_coverage"),
    "SimulationConfig": ("wb.uplift.simulate", "SimulationConfig"),
    "simulate": ("wb.uplift.simulate", "simulate"),
    "estimate": ("wb.uplift.estimation", "estimate"),
    "analyse": ("wb.run.uplift_outputs", "analyse"),
}
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> object:
    if name not in PUBLIC:
        raise AttributeError(
            f"module 'wb' has no attribute {name!r}; it offers: {', '.join(__all__)}"
        )
    module, attr = PUBLIC[name]
    value: object = import_module(module)
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *PUBLIC})
