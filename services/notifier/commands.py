"""Notifier's use cases: queueing the email an event calls for (the invoice, a payment's
receipt or partial-payment notice, a credit note, a refund, a reversal), the reminder run and
the policy it follows. Each runs in the caller's unit of work and writes its events
(payloads from ``events``) in the same transaction; delivery.py sends what is queued."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any, cast

from sqlalchemy import Table, delete

from services.notifier import events, queries
from services.notifier.domain import (
    Level,
    allocated_invoices,
    check_policy,
    is_history,
    language_of,
    payment_calls_for_notice,
    reminder_due,
    reversal_took_back,
)
from services.notifier.models import Notification, PolicyLevel
from services.notifier.wording import (
    NothingToSay,
    Reader,
    Written,
    invoice_email,
    reminder_notice,
    write,
)
from shared.clock import utcnow
from shared.db import UnitOfWork, insert_for
from shared.web.problems import invalid

NO_ADDRESS = "the customer has no email address"
NOTIFICATIONS = cast(Table, Notification.__table__)


def queue(
    uow: UnitOfWork,
    cause: str,
    written: Written,
    *,
    customer_id: str,
    to: str | None,
    invoice_id: str | None = None,
    payment_id: str | None = None,
    level: int | None = None,
    business_date: dt.date | None = None,
    facts: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Record the ``written`` email for ``cause`` unless one exists (then None); returns the
    row's values (no ORM object: a handler has no use for one, and it cost a fiftieth of a
    payment's processing). ``facts``:
    what its cause said, to write it again from billing's figures when it is sent. Without
    an address it can never be sent: it is recorded failed at once, in this transaction."""
    now = utcnow()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "cause": cause,
        "kind": written.kind,
        "level": level,
        "channel": "email",
        "to": to,
        "subject": written.subject,
        "body": written.text,
        "body_html": written.html,
        "status": "queued" if to else "failed",
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "payment_id": payment_id,
        "business_date": business_date,
        "facts": facts,
        "message_id": None,  # given when it is first claimed for sending (delivery.py)
        "attempts": 0 if to else 1,
        "next_attempt_at": now,
        "created_at": now,
        "error": None if to else NO_ADDRESS,
        "sent_at": None,
    }
    # One statement: the row, unless its cause has one already (then nothing happens).
    insert = _insert_notification(uow.db.dialect)
    if uow.connection().execute(insert, values).first() is None:
        return None
    if not to:
        failed = events.notification(Notification(**values))
        uow.emit("notifier.notification.failed", str(values["id"]), failed)
    return values


@functools.cache
def _insert_notification(dialect: str) -> Any:
    """INSERT a notification unless its cause has one, built once: building it anew with
    every row's values cost more than running it."""
    return insert_for(dialect)(NOTIFICATIONS).on_conflict_do_nothing().returning(NOTIFICATIONS.c.id)


# -- the emails events call for -------------------------------------------------------------


def queue_invoice_email(uow: UnitOfWork, invoice: dict[str, Any]) -> dict[str, Any] | None:
    """The invoice email to the bill-to address (else the customer's), in the customer's
    language; it is written anew from billing's answer when it is sent, so what is queued
    here is what the invoice said at issue. Nothing for an invoice entered as history."""
    if is_history(invoice):
        return None
    customer, reader = queries.recipient(uow, invoice["customer_id"])
    to = (invoice.get("bill_to") or {}).get("email") or customer.email
    return queue(
        uow,
        f"invoice_issued:{invoice['id']}",
        invoice_email(invoice, reader),
        customer_id=customer.id,
        to=to,
        invoice_id=invoice["id"],
    )


def _queue_notice(
    uow: UnitOfWork,
    kind: str,
    cause: str,
    facts: dict[str, Any],
    *,
    invoices: dict[str, dict[str, Any]] | None = None,
    **refs: Any,
) -> dict[str, Any] | None:
    """Queue one notice of ``kind`` for ``cause`` to the customer ``facts`` name, in their
    language, written from ``facts`` and the invoices as replicated now; ``facts`` are kept
    so that it is written again from billing's figures when it is sent."""
    customer, reader = queries.recipient(uow, facts["customer_id"])
    return _queue_written(
        uow, kind, cause, facts, recipient=(customer, reader), invoices=invoices or {}, **refs
    )


def _queue_written(
    uow: UnitOfWork,
    kind: str,
    cause: str,
    facts: dict[str, Any],
    *,
    recipient: tuple[Any, Reader],
    invoices: dict[str, dict[str, Any]],
    **refs: Any,
) -> dict[str, Any] | None:
    customer, reader = recipient
    written = write(kind, facts, invoices, None, reader)
    return queue(
        uow, cause, written, customer_id=customer.id, to=customer.email, facts=facts, **refs
    )


def queue_payment_notice(uow: UnitOfWork, applied: dict[str, Any]) -> dict[str, Any] | None:
    """One email per applied payment: a receipt when every invoice it touched is paid,
    otherwise a partial-payment notice naming each invoice's remaining amount and due date.
    Nothing for credit used on a later invoice or a payment entered as history."""
    if not payment_calls_for_notice(applied):
        return None
    ids = allocated_invoices(applied)
    customer, reader, invoices = queries.recipient_and_invoices(uow, applied["customer_id"], ids)
    return _queue_written(
        uow,
        "payment_receipt",
        f"payment:{applied['payment_id']}",
        applied,
        recipient=(customer, reader),
        invoices=invoices,
        payment_id=applied["payment_id"],
        invoice_id=ids[0] if ids else None,
    )


def queue_credit_note_notice(uow: UnitOfWork, note: dict[str, Any]) -> dict[str, Any] | None:
    """The credit note, its PDF attached when it is sent."""
    if is_history(note):
        return None
    return _queue_notice(
        uow, "credit_note", f"credit_note:{note['id']}", note, invoice_id=note.get("invoice_id")
    )


def queue_refund_notice(uow: UnitOfWork, refund: dict[str, Any]) -> dict[str, Any] | None:
    """Credit on the account paid back to the customer."""
    if is_history(refund):
        return None
    return _queue_notice(uow, "refund", f"refund:{refund['id']}", refund)


def queue_reversal_notice(uow: UnitOfWork, unapplied: dict[str, Any]) -> dict[str, Any] | None:
    """A reversed payment: it was returned, and what it had paid is due again. Nothing when
    the reversal took nothing back (no invoice re-opened, no credit removed)."""
    if not reversal_took_back(unapplied["allocations"], unapplied.get("unapplied_amount")):
        return None
    ids = allocated_invoices(unapplied)
    return _queue_notice(
        uow,
        "payment_reversed",
        f"payment_reversed:{unapplied['payment_id']}",
        unapplied,
        invoices=queries.known_invoices(uow, ids),
        payment_id=unapplied["payment_id"],
        invoice_id=ids[0] if ids else None,
    )


# -- reminders ------------------------------------------------------------------------------


def replace_policy(uow: UnitOfWork, levels: list[Level]) -> list[Level]:
    """Replace the reminder levels: numbered 1..n, days rising with the level (422 on
    ``levels`` otherwise)."""
    try:
        check_policy(levels)
    except ValueError as exc:
        raise invalid("levels", str(exc)) from None
    uow.session.execute(delete(PolicyLevel))
    uow.session.add_all(
        PolicyLevel(level=lv.level, days_after_due=lv.days_after_due, template=lv.template)
        for lv in levels
    )
    return levels


def run_reminders(uow: UnitOfWork, as_of: dt.date) -> list[Notification]:
    """Queue, for every open invoice, the next reminder level in order if it is due
    (domain.reminder_due); skip paid and void invoices and customers with reminders
    disabled. Returns the reminders queued."""
    levels = queries.current_policy(uow)
    sent = queries.last_reminders(uow)
    company = queries.company(uow)
    queued = []
    for invoice in queries.remindable_invoices(uow):
        highest, sent_on = sent.get(invoice.id, (0, None))
        level = reminder_due(levels, invoice.due_date, as_of, highest, sent_on)
        if level is None:
            continue
        reader = Reader(invoice.name, language_of(invoice.customer), company)
        notification = _queue_reminder(uow, invoice, level, as_of, reader)
        if notification is not None:
            queued.append(notification)
    return queued


def _queue_reminder(
    uow: UnitOfWork, invoice: Any, level: Level, as_of: dt.date, reader: Reader
) -> Notification | None:
    """The reminder of ``level`` about ``invoice`` (a remindable invoice row) as of the run's
    day; None when one was queued before or the replica's status and amount disagree."""
    facts = {
        "invoice_id": invoice.id,
        "template": level.template,
        "days_late": (as_of - invoice.due_date).days,
        "as_of": as_of.isoformat(),
    }
    try:
        written = reminder_notice(facts, dict(invoice.snapshot), reader)
    except NothingToSay:
        return None  # nothing is due on it after all: nothing to remind of
    queued = queue(
        uow,
        f"reminder:{invoice.id}:{level.level}",
        written,
        customer_id=invoice.customer_id,
        to=invoice.email,
        invoice_id=invoice.id,
        level=level.level,
        business_date=as_of,
        facts=facts,
    )
    return None if queued is None else Notification(**queued)
