"""The package ships `py.typed`, so its annotations are a promise: mypy, configured in
pyproject.toml ([tool.mypy]: jlinnet/, untyped function bodies checked too), finds no error."""

import subprocess
import sys
from pathlib import Path


def test_mypy_finds_no_error_in_jlinnet():
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], capture_output=True,
                         text=True, cwd=Path(__file__).parent.parent, timeout=600)
    assert run.returncode == 0 and "Success: no issues found" in run.stdout, run.stdout + run.stderr
