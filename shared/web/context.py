"""Access to the running service from inside a request."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from shared.config import Settings
from shared.db import Database, UnitOfWork


@dataclass(frozen=True)
class ServiceContext:
    settings: Settings
    db: Database


def service_context() -> ServiceContext:
    context: ServiceContext = current_app.extensions["tameio"]
    return context


def unit_of_work() -> UnitOfWork:
    return service_context().db.unit_of_work()
