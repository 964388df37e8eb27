"""The UI's pages, one blueprint per area."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from services.gateway.ui.views import admin, auth, customers, home, invoices, payments, reports

    for module in (auth, home, customers, invoices, payments, reports, admin):
        app.register_blueprint(module.bp)
