"""Events the contracts service consumes: the customers replica; archived customers'
contracts end."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from services.contracts.commands import terminate
from services.contracts.models import Contract, customer_replica
from shared.clock import business_timezone
from shared.db import UnitOfWork
from shared.messaging import Event
from shared.replicas import customer_replica_handlers

_replica = customer_replica_handlers(customer_replica)


def end_contracts_of_archived_customer(uow: UnitOfWork, event: Event) -> None:
    """customers.customer.archived: update the replica, then terminate the customer's active
    contracts on the archive date (one not yet started ends the day before it would have)."""
    _replica["customers.customer.archived"](uow, event)
    archived_on = event.occurred_at.astimezone(business_timezone()).date()
    active = uow.session.execute(
        select(Contract)
        .where(Contract.customer_id == str(event.data["customer_id"]), Contract.status == "active")
        .with_for_update()
    ).scalars()
    for contract in active:
        effective = max(archived_on, contract.valid_from - dt.timedelta(days=1))
        if contract.valid_to is not None:
            effective = min(effective, contract.valid_to)
        terminate(uow, contract, effective)


HANDLERS = {
    **_replica,
    "customers.customer.archived": end_contracts_of_archived_customer,
}
