"""Broker topology: the events exchange, one quorum queue per consuming service, bindings.

Declared by every worker at start (idempotently) and by ``tameio up`` before anything
publishes, so no event is routed to an exchange with its queues still missing. Where ops
load the broker's definitions themselves and each service's user may only read its own
queues and publish (``TAMEIO_DECLARE_TOPOLOGY=false``), a passive topology only checks
that the exchanges and queues exist, which needs no permission at all. Tunables
RabbitMQ can set by policy (delivery limit, dead-letter exchange) are policies
(:func:`policies`), never queue arguments, so changing them never means deleting a queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kombu import Exchange, Queue, binding


@dataclass(frozen=True)
class QueueSpec:
    """The queue of one consuming service and the routing keys it is bound to."""

    service: str
    bindings: tuple[str, ...]


class Topology:
    def __init__(
        self,
        exchange: str,
        queues: Iterable[QueueSpec],
        prefix: str = "",
        *,
        passive: bool = False,
    ) -> None:
        self.exchange = Exchange(exchange, type="topic", durable=True)
        self.dead_letter_exchange = Exchange(f"{exchange}.dead-letter", type="direct", durable=True)
        self.prefix = prefix
        self.queues = {spec.service: spec for spec in queues if spec.bindings}
        self.passive = passive

    def queue_name(self, service: str) -> str:
        return f"{self.prefix}{service}.events"

    def parked_queue_name(self, service: str) -> str:
        return f"{self.prefix}{service}.events.dead"

    def queue(self, service: str) -> Queue:
        spec = self.queues[service]
        return Queue(
            self.queue_name(service),
            bindings=[binding(self.exchange, routing_key=key) for key in spec.bindings],
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )

    def parked_queue(self, service: str) -> Queue:
        """Where the broker itself dead-letters what it gives up on (delivery limit)."""
        return Queue(
            self.parked_queue_name(service),
            exchange=self.dead_letter_exchange,
            routing_key=self.queue_name(service),
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )

    def declare(self, channel: Any) -> None:
        """Declare the exchange, every service queue and its bindings (idempotent); when
        passive, check that they exist instead (raises the broker's NotFound if not)."""
        if self.passive:
            self.check(channel)
            return
        self.exchange(channel).declare()
        self.dead_letter_exchange(channel).declare()
        for service in self.queues:
            self.queue(service)(channel).declare()
            self.parked_queue(service)(channel).declare()

    def check(self, channel: Any) -> None:
        """Passively declare the exchanges and queues: no permission needed, nothing made."""
        self.exchange(channel).declare(passive=True)
        self.dead_letter_exchange(channel).declare(passive=True)
        for service in self.queues:
            for queue in (self.queue(service), self.parked_queue(service)):
                queue(channel).queue_declare(passive=True)

    def delete(self, channel: Any) -> None:
        """Remove every queue and the exchanges (used by tests that made their own)."""
        for service in self.queues:
            self.queue(service)(channel).delete()
            self.parked_queue(service)(channel).delete()
        self.exchange(channel).delete()
        self.dead_letter_exchange(channel).delete()

    def policies(self, delivery_limit: int = 20) -> list[dict[str, Any]]:
        """RabbitMQ policies for the service queues, as the management API takes them."""
        return [
            {
                "name": f"{self.queue_name(service)}-limits",
                "pattern": "^" + self.queue_name(service).replace(".", r"\.") + "$",
                "apply-to": "queues",
                "priority": 10,
                "definition": {
                    "delivery-limit": delivery_limit,
                    "dead-letter-exchange": self.dead_letter_exchange.name,
                    "dead-letter-routing-key": self.queue_name(service),
                },
            }
            for service in self.queues
        ]
