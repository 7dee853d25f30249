"""wb: a research workbench for Chinese retail banking.

Layers (dependencies point down): ``cli`` → ``runner`` → ``brief`` / ``plots`` →
``uplift`` / ``metrics`` → ``schemas`` / ``io`` / ``simulate``.
"""

__version__ = "0.1.0"
