"""What `wb run` imports before it starts a kernel: nothing that costs a second by itself."""

from __future__ import annotations

import subprocess
import sys

#: Modules known to cost about a second on import and not needed by wb: rfc3987-syntax
#: compiles a Lark grammar when imported (python-jsonschema/jsonschema issue 1392), and
#: jsonschema 4.25 and later import it whenever it is installed (pyproject.toml pins below).
SLOW_IMPORTS = ("rfc3987_syntax",)


def test_wb_run_imports_no_known_slow_module():
    code = (
        "import sys, papermill, nbformat, jsonschema, wb.cli, wb.run.runner;"
        f"print([m for m in {SLOW_IMPORTS!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
