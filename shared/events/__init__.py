"""The event catalog: one marshmallow schema per event type and version (CONTRACT "Events").

Importing this package registers every event type; the AsyncAPI document is generated from
:data:`CATALOG`, and the outbox validates every event it writes against it.
"""

from shared.events import billing, contracts, customers, notifier, payments
from shared.events.catalog import CATALOG, EventSpec, UnknownEvent, spec_for

__all__ = [
    "CATALOG",
    "EventSpec",
    "UnknownEvent",
    "billing",
    "contracts",
    "customers",
    "notifier",
    "payments",
    "spec_for",
]
