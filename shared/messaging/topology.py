"""Broker topology: the events exchange, one quorum queue per consuming service, bindings.

Every event is published to the events exchange (``tameio.events``), where outside
subscribers bind. The suite's own queues are bound one step further, to
``<exchange>.current``, which receives every event but the legacy versions (decision 99):
the events exchange passes everything on to ``<exchange>.versions``, a headers exchange
that routes a message carrying :data:`LEGACY_HEADER` to ``<exchange>.legacy`` (bound to
nothing: no queue of the suite reads a legacy version) and anything else, having no other
binding, to its alternate exchange, ``<exchange>.current``. A message without the header
(any publisher's, an older relay's) therefore still reaches every queue of the suite. The
memory transport (embedded mode) has neither headers exchanges nor exchange-to-exchange
bindings: there the queues are bound to the events exchange and ack the legacy versions.

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

# The header a relay sets on a legacy version of an event (value "true").
LEGACY_HEADER = "tameio-legacy"


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
        sort_versions: bool = True,
    ) -> None:
        self.exchange = Exchange(exchange, type="topic", durable=True)
        self.dead_letter_exchange = Exchange(f"{exchange}.dead-letter", type="direct", durable=True)
        self.current_exchange = Exchange(f"{exchange}.current", type="topic", durable=True)
        self.legacy_exchange = Exchange(f"{exchange}.legacy", type="fanout", durable=True)
        self.versions_exchange = Exchange(
            f"{exchange}.versions",
            type="headers",
            durable=True,
            arguments={"alternate-exchange": self.current_exchange.name},
        )
        self.prefix = prefix
        self.queues = {spec.service: spec for spec in queues if spec.bindings}
        self.passive = passive
        # False on the memory transport, which routes by neither headers nor exchanges.
        self.sort_versions = sort_versions

    @property
    def queues_exchange(self) -> Exchange:
        """The exchange the suite's own queues are bound to."""
        return self.current_exchange if self.sort_versions else self.exchange

    @property
    def exchanges(self) -> list[Exchange]:
        """Every exchange of the topology, the one publishers use first."""
        sorting = [self.versions_exchange, self.current_exchange, self.legacy_exchange]
        return [self.exchange, self.dead_letter_exchange, *(sorting if self.sort_versions else [])]

    def exchange_bindings(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """The exchange-to-exchange bindings that keep legacy versions from the suite's
        queues, as (source, destination, routing key, arguments); none when not sorted."""
        if not self.sort_versions:
            return []
        versions = self.versions_exchange.name
        legacy = {"x-match": "all", LEGACY_HEADER: "true"}
        return [
            (self.exchange.name, versions, "#", {}),
            (versions, self.legacy_exchange.name, "", legacy),
        ]

    def queue_name(self, service: str) -> str:
        return f"{self.prefix}{service}.events"

    def parked_queue_name(self, service: str) -> str:
        return f"{self.prefix}{service}.events.dead"

    def queue(self, service: str) -> Queue:
        spec = self.queues[service]
        return Queue(
            self.queue_name(service),
            bindings=[binding(self.queues_exchange, routing_key=key) for key in spec.bindings],
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
        for exchange in self.exchanges:
            exchange(channel).declare()
        for source, destination, key, arguments in self.exchange_bindings():
            channel.exchange_bind(
                destination=destination, source=source, routing_key=key, arguments=arguments
            )
        for service in self.queues:
            self.queue(service)(channel).declare()
            self.parked_queue(service)(channel).declare()
            if self.sort_versions:
                self._unbind_from_events_exchange(channel, service)

    def _unbind_from_events_exchange(self, channel: Any, service: str) -> None:
        """Remove the bindings a queue had to the events exchange before the versions were
        sorted (bound to both, it would still get the legacy versions). Done after its new
        bindings are made, so no event misses it meanwhile; unbinding what is not bound is
        no error."""
        for key in self.queues[service].bindings:
            channel.queue_unbind(self.queue_name(service), self.exchange.name, key)

    def check(self, channel: Any) -> None:
        """Passively declare the exchanges and queues: no permission needed, nothing made.
        Sorting out the versions is not checked: where it is missing, the queues receive
        the legacy versions too and ack them."""
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
        for exchange in self.exchanges:
            exchange(channel).delete()

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
