"""What an email states, fetched from billing in ONE request when the email is sent, so that
its text (and the PDF it attaches, from the same answer) states the figures of that moment:
an invoice or credit note with its PDF (``?include=pdf``), or the customer's account with
the invoices a notice names (``/accounts/{id}?invoice_id=...``, without their payments).
The accounts a round of emails states are read together when the round starts (``GET
/accounts?customer_id=...``) and serve its emails for FRESH_FOR seconds."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlencode

from services.notifier.domain import invoices_named
from services.notifier.models import Notification
from services.notifier.wording import Reader, Written, invoice_email, write
from shared.config import Settings
from shared.web.client import ServiceClient, ServiceUnavailable

# No email states an invoice's payments: billing leaves them out of the account's answer.
_NO_PAYMENTS = ("invoice_payments", "false")
# How long accounts read for a round serve its emails: a round slowed down (a slow SMTP
# server) asks again for each email still to go, so none states figures older than this.
FRESH_FOR = 5.0
# Parameters per request for a round's accounts: each about 50 bytes, so a request line
# stays far under 4 KB (gunicorn's limit), and under billing's 50 customers and 200 invoices.
_PER_REQUEST = 48


class DocumentAway(Exception):
    """Billing cannot give the figures or the document right now: the email waits."""


class UnknownParameter(Exception):
    """Billing does not know a query parameter it was asked with (an older version)."""


class Fetched(NamedTuple):
    """Billing's answer for one email: how to write it for its reader, and the PDF it
    attaches (None if it has none)."""

    written_for: Callable[[Reader], Written]
    pdf: bytes | None


@dataclass(frozen=True)
class Accounts:
    """Accounts read together for a round of emails, by customer, and when (monotonic)."""

    by_customer: Mapping[str, dict[str, Any]]
    read_at: float

    def get(self, customer_id: str, ids: Sequence[str]) -> dict[str, Any] | None:
        """The customer's account with the invoices ``ids``, if read less than FRESH_FOR
        seconds ago and with all of them; None: the email asks billing itself."""
        account = self.by_customer.get(customer_id)
        if account is None or time.monotonic() - self.read_at > FRESH_FOR:
            return None
        have = {str(invoice.get("id")) for invoice in account.get("invoices") or ()}
        return account if all(invoice_id in have for invoice_id in ids) else None


NO_ACCOUNTS = Accounts({}, 0.0)


def fetch_for(
    settings: Settings, notification: Notification, accounts: Accounts = NO_ACCOUNTS
) -> Fetched | None:
    """What ``notification`` states, from billing's answer to one request (or from
    ``accounts``, read for its round); None for one queued without facts (before they were
    kept), sent as written. Raises DocumentAway while billing cannot answer in full."""
    kind, cause_id = notification.kind, notification.cause.partition(":")[2]
    if kind == "invoice_issued" and notification.invoice_id:
        invoice, pdf = fetch_document(settings, f"/invoices/{notification.invoice_id}")
        return Fetched(lambda reader: invoice_email(invoice, reader), pdf)
    if kind == "credit_note":
        note, pdf = fetch_document(settings, f"/credit-notes/{cause_id}")
        return Fetched(lambda reader: write("credit_note", note, {}, None, reader), pdf)
    facts, ids = notification.facts, named_in_account(notification)
    if facts is None or ids is None:
        return None
    account = accounts.get(notification.customer_id, ids) or fetch_account(
        settings, notification.customer_id, ids
    )
    invoices = {str(invoice["id"]): invoice for invoice in account["invoices"]}
    if any(invoice_id not in invoices for invoice_id in ids):
        raise DocumentAway(f"billing did not answer every invoice of {notification.cause}")
    return Fetched(lambda reader: write(kind, facts, invoices, account, reader), None)


def named_in_account(notification: Notification) -> list[str] | None:
    """The invoices an email written from the customer's account states; None for one that
    is not (an invoice or credit note, written from its document; one queued without
    facts, sent as written)."""
    kind = notification.kind
    if (kind == "invoice_issued" and notification.invoice_id) or kind == "credit_note":
        return None
    if notification.facts is None:
        return None
    return invoices_named(kind, notification.facts, notification.invoice_id)


def accounts_for(settings: Settings, due: Sequence[Notification]) -> Accounts:
    """The accounts the emails ``due`` state, read together when two or more do (one alone
    asks for its own when it is sent). None are kept if billing does not answer every
    request in full (a billing older than ``GET /accounts`` among them): each email then
    asks for its own, as before."""
    wanted: dict[str, dict[str, None]] = {}  # customer: its invoices named, each once
    emails = 0
    for notification in due:
        ids = named_in_account(notification) if notification.to else None
        if ids is not None:
            wanted.setdefault(notification.customer_id, {}).update(dict.fromkeys(ids))
            emails += 1
    if emails < 2:
        return NO_ACCOUNTS
    read_at, found = time.monotonic(), {}
    for query in _account_queries(wanted):
        try:
            items = _get(settings, f"/accounts?{query}").get("items")
        except DocumentAway:
            return NO_ACCOUNTS
        if not isinstance(items, list):
            return NO_ACCOUNTS
        found.update(
            {str(item.get("customer_id")): item for item in items if isinstance(item, dict)}
        )
    return Accounts(found, read_at)


def _account_queries(wanted: Mapping[str, Iterable[str]]) -> Iterator[str]:
    """Query strings for ``GET /accounts`` asking for ``wanted`` (customer: invoices), each
    with at most _PER_REQUEST parameters; a customer whose own do not fit is left out (its
    emails ask for their own)."""
    params: list[tuple[str, str]] = []
    for customer_id, ids in wanted.items():
        part = [("customer_id", customer_id)] + [("invoice_id", i) for i in ids]
        if len(part) > _PER_REQUEST:
            continue
        if len(params) + len(part) > _PER_REQUEST:
            yield urlencode([*params, _NO_PAYMENTS])
            params = []
        params += part
    if params:
        yield urlencode([*params, _NO_PAYMENTS])


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
