"""State changes shared by the API and the event handlers (writes and events, no HTTP)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.contracts.models import Contract
from shared.clock import utcnow
from shared.db import UnitOfWork


def terminate(uow: UnitOfWork, contract: Contract, effective: dt.date) -> dict[str, Any]:
    """Mark ``contract`` terminated as of ``effective`` and emit the event; returns its data."""
    contract.status, contract.terminated_on = "terminated", effective
    contract.terminated_at = contract.updated_at = utcnow()
    uow.session.flush()
    return dict(
        uow.emit("contracts.contract.terminated", str(contract.id), contract.snapshot())["data"]
    )
