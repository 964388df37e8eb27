"""Every service of the suite, by name: the one place that imports them all (with cli.py)."""

from __future__ import annotations

from typing import Any

from services.billing.app import SERVICE as BILLING
from services.contracts.app import SERVICE as CONTRACTS
from services.customers.app import SERVICE as CUSTOMERS
from services.gateway.app import SERVICE as GATEWAY
from services.notifier.app import SERVICE as NOTIFIER
from services.payments.app import SERVICE as PAYMENTS
from services.reporting.app import SERVICE as REPORTING
from shared.config import Settings
from shared.events import CATALOG
from shared.messaging.definitions import broker_definitions
from shared.messaging.topology import Topology
from shared.service import ServiceDefinition

SERVICES: dict[str, ServiceDefinition] = {
    s.name: s for s in (CUSTOMERS, CONTRACTS, BILLING, PAYMENTS, NOTIFIER, REPORTING, GATEWAY)
}


def topology(settings: Settings) -> Topology:
    """The whole broker topology: every consuming service's queue and bindings."""
    return Topology(
        settings.exchange,
        [s.queue for s in SERVICES.values()],
        settings.queue_prefix,
        passive=not settings.declare_topology,
    )


def definitions(settings: Settings) -> dict[str, Any]:
    """RabbitMQ definitions of the whole topology, with a user per service (no passwords)."""
    publishers = {spec.service for spec in CATALOG.values()}
    return broker_definitions(topology(settings), publishers)
