"""What an email states, fetched from billing in ONE request when the email is sent and
written anew from it, so that its text (and the PDF it attaches, from the same answer)
states the figures of that moment: an invoice or credit note with its PDF
(``?include=pdf``), or the customer's account with the invoices a notice names
(``/accounts/{id}?invoice_id=...``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from services.notifier.models import Notification, company_replica, customer_replica
from services.notifier.notices import Reader, Written, invoice_ids, write
from services.notifier.wording import invoice_email, language_of
from shared.config import Settings
from shared.db import Database
from shared.replicas import company_profile
from shared.web.client import ServiceClient, ServiceUnavailable


class DocumentAway(Exception):
    """Billing cannot give the figures or the document right now: the email waits."""


def write_at_sending(db: Database, settings: Settings, notification: Notification) -> bytes | None:
    """Fetch what ``notification`` states from billing (one request), write it anew in its
    row and in ``notification``; returns the PDF it attaches (None if it has none). Raises
    DocumentAway while billing cannot answer, NothingToSay when it should not go at all.
    A notification queued without facts (before they were kept) is sent as written."""
    if not notification.to:
        return None
    cause_id = notification.cause.partition(":")[2]
    if notification.kind == "invoice_issued" and notification.invoice_id:
        invoice, pdf = fetch_document(settings, f"/invoices/{notification.invoice_id}")
        rewrite(db, notification, lambda reader: _invoice_email(invoice, reader))
        return pdf
    if notification.kind == "credit_note":
        note, pdf = fetch_document(settings, f"/credit-notes/{cause_id}")
        rewrite(db, notification, lambda reader: write("credit_note", note, {}, None, reader))
        return pdf
    facts = notification.facts
    if facts is None:
        return None
    ids = invoice_ids(notification.kind, facts, notification.invoice_id)
    account = fetch_account(settings, notification.customer_id, ids)
    invoices = {str(invoice["id"]): invoice for invoice in account["invoices"]}
    if any(invoice_id not in invoices for invoice_id in ids):
        raise DocumentAway(f"billing did not answer every invoice of {notification.cause}")
    kind = notification.kind
    rewrite(db, notification, lambda reader: write(kind, facts, invoices, account, reader))
    return None


def _invoice_email(invoice: dict[str, Any], reader: Reader) -> Written:
    line, text, html = invoice_email(invoice, reader.language, reader.company)
    return Written("invoice_issued", line, text, html)


def _get(settings: Settings, path: str) -> dict[str, Any]:
    """Billing's JSON answer to ``path``; DocumentAway unless it is a 200 with a body."""
    try:
        answer = ServiceClient(settings).get("billing", path)
    except ServiceUnavailable as exc:
        raise DocumentAway(str(exc)) from None
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise DocumentAway(f"billing answered {answer.status} for {path.partition('?')[0]}")
    return answer.body


def fetch_document(settings: Settings, path: str) -> tuple[dict[str, Any], bytes]:
    """(the invoice or credit note at ``path``, its PDF), from one answer of billing."""
    body = _get(settings, f"{path}?include=pdf")
    try:
        pdf = base64.b64decode(str(body.pop("pdf", "")), validate=True)
    except (binascii.Error, ValueError):
        pdf = b""
    if not pdf.startswith(b"%PDF"):
        raise DocumentAway(f"billing gave no PDF with {path}")
    return body, pdf


def fetch_account(settings: Settings, customer_id: str, ids: list[str]) -> dict[str, Any]:
    """The customer's account with the invoices ``ids``, from one answer of billing."""
    query = urlencode([("invoice_id", invoice_id) for invoice_id in ids])
    return _get(settings, f"/accounts/{customer_id}" + (f"?{query}" if query else ""))


def rewrite(
    db: Database, notification: Notification, written_for: Callable[[Reader], Written]
) -> None:
    """Write the notification anew for its reader (their name and language, the seller as
    replicated now), in the row (what the history logs) and in ``notification`` (what is
    sent)."""
    with db.unit_of_work() as uow:
        row = uow.session.get(Notification, notification.id, with_for_update=True)
        assert row is not None
        customer = uow.session.execute(
            select(customer_replica).where(customer_replica.c.id == row.customer_id)
        ).first()
        reader = Reader(
            customer.name if customer is not None else "",
            language_of(customer) if customer is not None else "en",
            company_profile(uow, company_replica),
        )
        written = written_for(reader)
        row.kind, row.subject, row.body, row.body_html = written
        uow.commit()
    notification.kind, notification.subject = written.kind, written.subject
    notification.body, notification.body_html = written.text, written.html
