"""The customers service's reads: a customer, the API's answers, and the language a new
customer starts with."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from services.customers import events
from services.customers.models import Customer, Interaction, company_replica
from shared.db import UnitOfWork
from shared.replicas import company_profile
from shared.web.lookups import one_or_404


def customer(uow: UnitOfWork, customer_id: uuid.UUID, *, for_update: bool = False) -> Customer:
    """The customer, or 404."""
    stmt = select(Customer).where(Customer.id == customer_id)
    return one_or_404(uow, stmt, f"customer {customer_id}", for_update=for_update)


def customer_view(row: Customer) -> dict[str, Any]:
    """The API answer: the whole customer, as its events carry it."""
    return events.customer_snapshot(row)


def customer_views(rows: list[Customer]) -> list[dict[str, Any]]:
    return [customer_view(row) for row in rows]


def interaction_view(row: Interaction) -> dict[str, Any]:
    """The API answer: the interaction, as its event carries it."""
    return events.interaction_logged(row)


def interaction_views(rows: list[Interaction]) -> list[dict[str, Any]]:
    return [interaction_view(row) for row in rows]


def company_language(uow: UnitOfWork) -> str:
    """A new customer's language: the company profile's, ``en`` before there is one."""
    profile = company_profile(uow, company_replica)
    return str((profile or {}).get("language") or "en")
