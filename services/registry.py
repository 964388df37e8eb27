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


def topology(settings: Settings, *, on_rabbitmq: bool | None = None) -> Topology:
    """The whole broker topology: every consuming service's queue and bindings, as RabbitMQ
    holds it unless the settings are embedded mode's (or ``on_rabbitmq`` says otherwise)."""
    return Topology(
        settings.exchange,
        [s.queue for s in SERVICES.values()],
        settings.queue_prefix,
        passive=not settings.declare_topology,
        sort_versions=not settings.embedded if on_rabbitmq is None else on_rabbitmq,
    )


def definitions(settings: Settings) -> dict[str, Any]:
    """RabbitMQ definitions of the whole topology, with a user per service (no passwords)."""
    publishers = {spec.service for spec in CATALOG.values()}
    return broker_definitions(topology(settings, on_rabbitmq=True), publishers)
