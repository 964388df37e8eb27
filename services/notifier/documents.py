"""What an email states, fetched from billing in ONE request when the email is sent, so that
its text (and the PDF it attaches, from the same answer) states the figures of that moment:
an invoice or credit note with its PDF (``?include=pdf``), or the customer's account with
the invoices a notice names (``/accounts/{id}?invoice_id=...``, without their payments)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlencode

from services.notifier.domain import invoices_named
from services.notifier.models import Notification
from services.notifier.wording import Reader, Written, invoice_email, write
from shared.config import Settings
from shared.web.client import ServiceClient, ServiceUnavailable

# No email states an invoice's payments: billing leaves them out of the account's answer.
_NO_PAYMENTS = ("invoice_payments", "false")


class DocumentAway(Exception):
    """Billing cannot give the figures or the document right now: the email waits."""


class UnknownParameter(Exception):
    """Billing does not know a query parameter it was asked with (an older version)."""


class Fetched(NamedTuple):
    """Billing's answer for one email: how to write it for its reader, and the PDF it
    attaches (None if it has none)."""

    written_for: Callable[[Reader], Written]
    pdf: bytes | None


def fetch_for(settings: Settings, notification: Notification) -> Fetched | None:
    """What ``notification`` states, from billing's answer to one request; None for one
    queued without facts (before they were kept), sent as written. Raises DocumentAway
    while billing cannot answer in full."""
    kind, cause_id = notification.kind, notification.cause.partition(":")[2]
    if kind == "invoice_issued" and notification.invoice_id:
        invoice, pdf = fetch_document(settings, f"/invoices/{notification.invoice_id}")
        return Fetched(lambda reader: invoice_email(invoice, reader), pdf)
    if kind == "credit_note":
        note, pdf = fetch_document(settings, f"/credit-notes/{cause_id}")
        return Fetched(lambda reader: write("credit_note", note, {}, None, reader), pdf)
    facts = notification.facts
    if facts is None:
        return None
    ids = invoices_named(kind, facts, notification.invoice_id)
    account = fetch_account(settings, notification.customer_id, ids)
    invoices = {str(invoice["id"]): invoice for invoice in account["invoices"]}
    if any(invoice_id not in invoices for invoice_id in ids):
        raise DocumentAway(f"billing did not answer every invoice of {notification.cause}")
    return Fetched(lambda reader: write(kind, facts, invoices, account, reader), None)


def _get(settings: Settings, path: str, *, unless_unknown: str | None = None) -> dict[str, Any]:
    """Billing's JSON answer to ``path``; DocumentAway unless it is a 200 with a body. With
    ``unless_unknown``, a 422 refusing that query parameter (a billing older than it) is
    UnknownParameter instead."""
    try:
        answer = ServiceClient(settings).get("billing", path)
    except ServiceUnavailable as exc:
        raise DocumentAway(str(exc)) from None
    if answer.status == 422 and unless_unknown and _refuses(answer.body, unless_unknown):
        raise UnknownParameter(unless_unknown)
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise DocumentAway(f"billing answered {answer.status} for {path.partition('?')[0]}")
    return answer.body


def _refuses(problem: Any, parameter: str) -> bool:
    """Whether a 422 problem answer names ``parameter`` among its errors."""
    return isinstance(problem, dict) and parameter in (problem.get("errors") or {})


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
    """The customer's account with the invoices ``ids``, from one answer of billing; their
    payments left out, so the answer (and billing's read) stays the same size however many
    an invoice has had. A billing older than ``invoice_payments`` refuses it: asked again
    without it, so no email waits for billing's upgrade."""
    named = [("invoice_id", invoice_id) for invoice_id in ids]
    path = f"/accounts/{customer_id}"
    try:
        return _get(
            settings, f"{path}?{urlencode([*named, _NO_PAYMENTS])}", unless_unknown=_NO_PAYMENTS[0]
        )
    except UnknownParameter:
        return _get(settings, f"{path}?{urlencode(named)}" if named else path)
