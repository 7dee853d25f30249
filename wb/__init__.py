"""wb: a research workbench for Chinese retail banking, organised by capability.

- ``wb.door``: reading files, table schemas and their checks, personal-data screening, the atomic writer
- ``wb.banks``: the public bank panel, comparisons and the news check
- ``wb.uplift``: the quota-uplift estimators, designs, results and the RM-level simulator
- ``wb.plots``: every figure, and the theme they share
- ``wb.run``: params, scheduled runs, run folders, the PDF brief and the uplift outputs
- ``wb.cli``: the ``wb`` command

Dependencies point one way: cli → run → plots → banks | uplift → door → errors
(held by the import-linter contract in ``pyproject.toml``).
"""

__version__ = "0.1.0"
