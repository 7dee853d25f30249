"""Figures of wb, one module per analysis; every function returns a matplotlib Figure."""

from wb.plots.banks import (
    DEFAULT_PERIODS,
    plot_coverage,
    plot_retail_aum,
    plot_retail_income_yoy,
    plot_retail_profit_yoy,
    plot_retail_share,
    plot_wecom_reach,
    save_with_record,
    source_line,
)

__all__ = [
    "DEFAULT_PERIODS",
    "plot_coverage",
    "plot_retail_aum",
    "plot_retail_income_yoy",
    "plot_retail_profit_yoy",
    "plot_retail_share",
    "plot_wecom_reach",
    "save_with_record",
    "source_line",
]
