"""Messaging: envelope, outbox writer, relay, consumer runner, topology, worker."""

from shared.messaging.envelope import Event
from shared.messaging.errors import BadEvent, NotYetKnown

__all__ = ["BadEvent", "Event", "NotYetKnown"]
