"""Reading a replica in a request, asking the owning service once on a miss."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Select, Table, bindparam, select

from shared.db import UnitOfWork
from shared.replicas import apply_snapshot, customer_values, invoice_values
from shared.web.client import ServiceClient, ServiceUnavailable
from shared.web.context import service_context
from shared.web.problems import Problem, invalid, not_found


def one_or_404(uow: UnitOfWork, stmt: Select[Any], what: str, *, for_update: bool = False) -> Any:
    """The one row ``stmt`` selects (locked for this transaction if ``for_update``), or 404
    naming ``what``."""
    found = uow.session.execute(stmt.with_for_update() if for_update else stmt).scalar_one_or_none()
    if found is None:
        raise not_found(what)
    return found


def fetch_owned(service: str, path: str) -> dict[str, Any] | None:
    """A replica miss: ask the owning service (None if it has no such thing; 503 if down)."""
    me = service_context().settings
    try:
        answer = ServiceClient(me).get(service, path)
    except ServiceUnavailable as exc:
        raise Problem(
            503, f"{exc}; {me.service} has not heard of this yet, try again shortly"
        ) from None
    if answer.status == 200 and isinstance(answer.body, dict):
        return dict(answer.body)
    return None


@functools.cache
def _row_by_id(table: Table, columns: tuple[str, ...] | None = None) -> Select[Any]:
    """A replica's row by id (only ``columns`` of it, if named), built once per table and
    columns: money-moving creates look one up. A few columns cost a fraction of the whole
    row, whose snapshot is decoded and whose every column is described per statement."""
    chosen = [table.c[name] for name in columns] if columns else [table]
    return select(*chosen).where(table.c.id == bindparam("id"))


def replica_customer(
    uow: UnitOfWork,
    table: Table,
    customer_id: uuid.UUID,
    *,
    in_path: bool = False,
    columns: tuple[str, ...] | None = None,
) -> Any:
    """The customer from the service's replica (only ``columns`` of its row, if named); on a
    miss, asked once from customers and kept.

    Unknown everywhere: 404 when the id is in the path, else 422 on ``customer_id``.
    """
    query, key = _row_by_id(table, columns), {"id": str(customer_id)}
    row = uow.connection().execute(query, key).first()
    if row is None:
        fetched = fetch_owned("customers", f"/customers/{customer_id}")
        if fetched is not None:
            # Sequence 0: the customer's own events (1, 2, ...) always win over this copy.
            apply_snapshot(uow, table, str(customer_id), 0, customer_values(fetched, fetched))
            row = uow.connection().execute(query, key).first()
    if row is None:
        if in_path:
            raise not_found(f"customer {customer_id}")
        raise invalid("customer_id", f"no customer {customer_id}")
    return row


def replica_invoice(
    uow: UnitOfWork, table: Table, invoice_id: uuid.UUID, *, columns: tuple[str, ...] | None = None
) -> Any:
    """The invoice from the service's replica (only ``columns`` of its row, if named); on a
    miss, asked once from billing and kept (None if billing has no such invoice; 503 naming
    billing if it is down)."""
    query, key = _row_by_id(table, columns), {"id": str(invoice_id)}
    row = uow.connection().execute(query, key).first()
    if row is None:
        fetched = fetch_owned("billing", f"/invoices/{invoice_id}")
        if fetched is not None and fetched.get("status") != "draft":
            # Sequence 0: the invoice's own events (1, 2, ...) always win over this copy.
            apply_snapshot(uow, table, str(invoice_id), 0, invoice_values(fetched))
            row = uow.connection().execute(query, key).first()
    return row
