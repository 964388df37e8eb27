"""The customers service's use cases: creating, changing and archiving a customer, and its
communication history (logged by hand or from notifier's notifications), and noting that a
customer has documents. Each runs in the caller's unit of work and writes its events
(payloads from ``events``) in the same transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from services.customers import events, queries
from services.customers.domain import (
    address,
    credit_limit_minor,
    customer_number,
    notification_body,
    notification_ref,
    search_text,
    stored_changes,
)
from services.customers.models import Customer, Interaction
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.messaging import BadEvent
from shared.money import MoneyError
from shared.web.problems import conflict, invalid

VersionCheck = Callable[[int], None]  # raises if the caller expected another version


def _limit(value: Any, currency: str) -> int | None:
    try:
        return credit_limit_minor(value, currency)
    except MoneyError as exc:
        raise invalid("credit_limit", str(exc)) from None


def create_customer(uow: UnitOfWork, request: Mapping[str, Any]) -> Customer:
    """A new active customer with the next number (C-000001); its language is the one asked
    for, else the company profile's."""
    now = utcnow()
    customer = Customer(
        id=uuid.uuid4(),
        name=request["name"].strip(),
        email=request.get("email"),
        phone=request.get("phone"),
        billing_address=address(request.get("billing_address")),
        payment_terms=request["payment_terms"],
        currency=request["currency"],
        tax_id=request.get("tax_id"),
        credit_limit_minor=_limit(request.get("credit_limit"), request["currency"]),
        reminders_enabled=request["reminders_enabled"],
        language=request.get("language") or queries.company_language(uow),
        notes=request.get("notes"),
        status="active",
        created_at=now,
        updated_at=now,
    )
    # The number counter row stays locked until commit (numbers are gapless), so take it as
    # late as possible: concurrent creates queue only for the last statements.
    customer.seq = uow.next_number("customer_number")
    customer.number = customer_number(customer.seq)
    customer.search_text = search_text(
        customer.name, customer.email, customer.number, customer.tax_id
    )
    uow.session.add(customer)
    uow.session.flush()
    uow.emit("customers.customer.created", str(customer.id), events.customer_snapshot(customer))
    return customer


def update_customer(
    uow: UnitOfWork,
    customer_id: uuid.UUID,
    request: Mapping[str, Any],
    check_version: VersionCheck,
) -> Customer:
    """Change any field of an active customer; its currency only while it has no documents.
    A change that changes nothing emits nothing and keeps the version."""
    customer = queries.customer(uow, customer_id, for_update=True)
    check_version(customer.version)
    if customer.status == "archived":
        raise conflict(f"customer {customer.number} is archived")
    if request.get("currency", customer.currency) != customer.currency and customer.has_documents:
        raise conflict(
            f"customer {customer.number} has invoices, credit notes or payments in "
            f"{customer.currency}; its currency can no longer change"
        )
    try:
        wanted = stored_changes(request, customer.currency, customer.credit_limit_minor)
    except MoneyError as exc:
        raise invalid("credit_limit", str(exc)) from None
    changed = {k: v for k, v in wanted.items() if getattr(customer, k) != v}
    if changed:
        for field, value in changed.items():
            setattr(customer, field, value)
        customer.search_text = search_text(
            customer.name, customer.email, customer.number, customer.tax_id
        )
        customer.updated_at = utcnow()
        uow.session.flush()
        uow.emit("customers.customer.updated", str(customer.id), events.customer_snapshot(customer))
    return customer


def archive_customer(uow: UnitOfWork, customer_id: uuid.UUID) -> Customer:
    """Archive instead of delete: the record and its history stay."""
    customer = queries.customer(uow, customer_id, for_update=True)
    if customer.status == "archived":
        raise conflict(f"customer {customer.number} is already archived")
    customer.status = "archived"
    customer.updated_at = utcnow()
    uow.session.flush()
    uow.emit("customers.customer.archived", str(customer.id), events.customer_archived(customer))
    return customer


def _log(uow: UnitOfWork, interaction: Interaction) -> Interaction:
    uow.session.add(interaction)
    uow.session.flush()
    data = events.interaction_logged(interaction)
    uow.emit("customers.interaction.logged", str(interaction.id), data)
    return interaction


def log_interaction(
    uow: UnitOfWork, customer_id: uuid.UUID, request: Mapping[str, Any], author: str
) -> Interaction:
    """A call, email, meeting, letter, SMS or note logged by hand by ``author``."""
    queries.customer(uow, customer_id)
    now = utcnow()
    return _log(
        uow,
        Interaction(
            id=uuid.uuid4(),
            customer_id=customer_id,
            channel=request["channel"],
            direction=request["direction"],
            subject=request.get("subject"),
            body=request.get("body"),
            invoice_id=request.get("invoice_id"),
            occurred_at=request.get("occurred_at") or now,
            source="manual",
            author=author,
            created_at=now,
        ),
    )


INTERACTIONS = cast(Table, Interaction.__table__)
CUSTOMERS = cast(Table, Customer.__table__)
# The consumer's statements are Core on the table columns, run on the transaction's connection:
# the ORM's compile and result machinery was most of the customers worker's CPU per event.
# The customer a notification names, and whether it is logged already: one read.
NOTIFICATION_TARGET = select(
    CUSTOMERS.c.id,
    select(INTERACTIONS.c.id)
    .where(INTERACTIONS.c.source_ref == bindparam("source_ref"))
    .scalar_subquery()
    .label("logged"),
).where(CUSTOMERS.c.id == bindparam("customer_id"))
LOG_INTERACTION = INTERACTIONS.insert()
HAS_DOCUMENTS = select(CUSTOMERS.c.has_documents).where(CUSTOMERS.c.id == bindparam("customer_id"))
NOTE_DOCUMENTS = (
    update(CUSTOMERS)
    .where(CUSTOMERS.c.id == bindparam("customer_id"), CUSTOMERS.c.has_documents.is_(False))
    .values(has_documents=True)
)


def log_notification(
    uow: UnitOfWork, notification: Mapping[str, Any], *, failed: bool, reported_at: dt.datetime
) -> None:
    """A notification notifier sent (or failed to send), as an outbound interaction of the
    customer: once per notification and outcome, even if notifier reports it twice.
    Customers owns customers: a notification naming one it does not have is bad data."""
    customer_id = uuid.UUID(str(notification["customer_id"]))
    source_ref = notification_ref(notification["id"], failed)
    connection = uow.connection()
    target = connection.execute(
        NOTIFICATION_TARGET, {"customer_id": customer_id, "source_ref": source_ref}
    ).first()
    if target is None:
        raise BadEvent(f"notification {notification['id']} names unknown customer {customer_id}")
    if target.logged is not None:
        return
    body = notification_body(notification.get("body"), notification.get("error"), failed)
    values = {
        "id": uuid.uuid4(),
        "customer_id": customer_id,
        "channel": notification.get("channel") or "email",
        "direction": "outbound",
        "subject": notification.get("subject"),
        "body": body,
        "invoice_id": notification.get("invoice_id"),
        "occurred_at": notification.get("sent_at") or notification.get("created_at") or reported_at,
        "source": "notifier",
        "author": "notifier",
        "source_ref": source_ref,
        "created_at": utcnow(),
    }
    connection.execute(LOG_INTERACTION, values)
    data = events.interaction_logged(Interaction(**values))  # what was written, not loaded
    uow.emit("customers.interaction.logged", str(values["id"]), data)


def note_document(uow: UnitOfWork, customer_id: object, what: str) -> None:
    """An invoice, credit note or payment (``what``) exists for the customer: its currency
    is now fixed."""
    key = uuid.UUID(str(customer_id))
    # One light read per event (not the whole customer), and a write only the first time.
    connection = uow.connection()
    known = connection.execute(HAS_DOCUMENTS, {"customer_id": key}).first()
    if known is None:
        raise BadEvent(f"{what} names unknown customer {key}")
    if not known.has_documents:
        connection.execute(NOTE_DOCUMENTS, {"customer_id": key})
