"""Events the payments service consumes."""

from __future__ import annotations

from services.payments.models import customer_replica
from shared.replicas import customer_replica_handlers

HANDLERS = {
    **customer_replica_handlers(customer_replica),
}
