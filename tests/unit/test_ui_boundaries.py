"""The staff UI reaches the services through the public API only: no UI module imports a
service's code (its models, its database) or opens a database of its own; and it has a word
for every status the services answer."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from marshmallow import Schema, validate

from services.gateway.ui.views.common import STATUS_NAMES

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


def test_every_status_a_service_list_filters_by_has_a_label_in_the_ui():
    """A status the UI shows (a badge) is worded in the reader's language, never the raw
    word: every status a service's list accepts as a filter has a label."""
    statuses: set[str] = set()
    for service in SERVICES:
        schemas = importlib.import_module(f"services.{service}.schemas")
        for value in vars(schemas).values():
            field = (
                isinstance(value, type)
                and issubclass(value, Schema)
                and value._declared_fields.get("status")
            )
            for rule in getattr(field, "validators", None) or []:
                if isinstance(rule, validate.OneOf):
                    statuses.update(rule.choices)
    assert {"cancelled", "terminated", "reversed", "archived"} <= statuses
    assert sorted(statuses - set(STATUS_NAMES)) == []
