"""Events the notifier service consumes."""

from __future__ import annotations

from services.notifier.models import customer_replica
from shared.replicas import customer_replica_handlers

HANDLERS = {
    **customer_replica_handlers(customer_replica),
}
