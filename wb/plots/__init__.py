"""Figures of wb, one module per analysis (``wb.plots.banks``, ``wb.plots.uplift``, ...); every
function returns a matplotlib Figure."""
