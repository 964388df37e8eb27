"""The document an email is about, fetched from billing when the email is sent, so that
its text and its attached PDF state the same figures, and those of that moment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.notifier.models import Notification, company_replica, customer_replica
from services.notifier.wording import invoice_email, language_of
from shared.config import Settings
from shared.db import Database
from shared.replicas import company_profile
from shared.web.client import ServiceClient, ServiceUnavailable


class DocumentAway(Exception):
    """Billing cannot give the document right now: the email waits for it."""


def fetch_credit_note_pdf(settings: Settings, notification: Notification) -> bytes:
    """The PDF of the credit note a ``credit_note`` notice is about (its cause names it);
    raises DocumentAway if billing does not serve it now."""
    note_id = notification.cause.partition(":")[2]
    try:
        status, pdf = ServiceClient(settings).get_bytes("billing", f"/credit-notes/{note_id}/pdf")
    except ServiceUnavailable as exc:
        raise DocumentAway(str(exc)) from None
    if status != 200 or not pdf.startswith(b"%PDF"):
        raise DocumentAway(f"billing answered {status} for the PDF of credit note {note_id}")
    return pdf


def fetch_invoice(settings: Settings, invoice_id: str) -> tuple[dict[str, Any], bytes]:
    """(the invoice as billing answers it, its PDF); raises DocumentAway if billing is down
    or does not serve both."""
    client = ServiceClient(settings)
    try:
        status, pdf = client.get_bytes("billing", f"/invoices/{invoice_id}/pdf")
        answer = client.get("billing", f"/invoices/{invoice_id}")
    except ServiceUnavailable as exc:
        raise DocumentAway(str(exc)) from None
    if status != 200 or not pdf.startswith(b"%PDF"):
        raise DocumentAway(f"billing answered {status} for the PDF of invoice {invoice_id}")
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise DocumentAway(f"billing answered {answer.status} for invoice {invoice_id}")
    return answer.body, pdf


def refresh_invoice_email(
    db: Database, notification: Notification, invoice: dict[str, Any]
) -> None:
    """Write the invoice email anew from ``invoice`` as it is now (paid, credited, due), in
    the row (what the history logs) and in ``notification`` (what is sent)."""
    with db.unit_of_work() as uow:
        row = uow.session.get(Notification, notification.id, with_for_update=True)
        assert row is not None
        customer = uow.session.execute(
            select(customer_replica).where(customer_replica.c.id == row.customer_id)
        ).first()
        language = language_of(customer) if customer is not None else "en"
        company = company_profile(uow, company_replica)
        row.subject, row.body, row.body_html = invoice_email(invoice, language, company)
        subject, body, body_html = row.subject, row.body, row.body_html
        uow.commit()
    notification.subject, notification.body, notification.body_html = subject, body, body_html
