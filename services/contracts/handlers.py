"""Events the contracts service consumes: the customers replica; archived customers'
contracts end."""

from __future__ import annotations

from services.contracts import commands
from services.contracts.models import customer_replica
from shared.clock import business_timezone
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.replicas import customer_replica_handlers

_replica = customer_replica_handlers(customer_replica)


def end_contracts_of_archived_customer(uow: UnitOfWork, event: Event) -> None:
    """customers.customer.archived: update the replica, then end the customer's active
    contracts on the archive date (in the business time zone)."""
    _replica["customers.customer.archived"](uow, event)
    archived_on = event.occurred_at.astimezone(business_timezone()).date()
    commands.end_contracts_of(uow, str(event.data["customer_id"]), archived_on)


HANDLERS = {
    **_replica,
    "customers.customer.archived": end_contracts_of_archived_customer,
}
