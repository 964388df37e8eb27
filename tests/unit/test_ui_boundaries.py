"""The staff UI reaches the services through the public API only: no UI module imports a
service's code (its models, its database) or opens a database of its own."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "services" / "gateway" / "ui"
SERVICES = ("customers", "contracts", "billing", "payments", "notifier", "reporting")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_ui_module_imports_a_service_or_a_database_driver():
    offending = {
        str(path.relative_to(UI)): sorted(
            name
            for name in imported_modules(path)
            if name.startswith(tuple(f"services.{s}" for s in SERVICES))
            or name.split(".")[0] in {"sqlalchemy", "psycopg", "sqlite3"}
        )
        for path in UI.rglob("*.py")
    }
    assert {k: v for k, v in offending.items() if v} == {}
