"""What many pages share: calling a service without failing the whole page, form errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from services.gateway.ui.client import ApiError, ServiceDown

T = TypeVar("T")

SERVICE_NAMES = {
    "customers": _l("customers"),
    "contracts": _l("contracts"),
    "billing": _l("billing"),
    "payments": _l("payments"),
    "notifier": _l("notifications"),
    "reporting": _l("reporting"),
}
ROLE_NAMES = {"viewer": _l("viewer"), "clerk": _l("clerk"), "admin": _l("admin")}


def section(fetch: Callable[[], T], default: T | None = None) -> T | None:
    """What ``fetch`` returns, or ``default`` with a banner when its service is down: one
    service down costs the page that part only."""
    try:
        return fetch()
    except ServiceDown as down:
        g.down = g.get("down", set()) | {down.service}
        return default


def form_errors(error: ApiError) -> dict[str, list[str]]:
    """A service's field errors keyed by the form's field names, plus ``_`` for the rest."""
    errors = dict(error.errors)
    if not errors:
        errors["_"] = [error.detail]
    return errors


def page_args() -> dict[str, Any]:
    """The list paging arguments of the current request."""
    return {"cursor": request.args.get("cursor") or None, "limit": 25}


STATUS_NAMES = {
    "active": _l("active"),
    "archived": _l("archived"),
    "draft": _l("draft"),
    "open": _l("open"),
    "partially_paid": _l("partially paid"),
    "paid": _l("paid"),
    "void": _l("void"),
    "overdue": _l("overdue"),
    "received": _l("received"),
    "applied": _l("applied"),
    "reversed": _l("reversed"),
    "queued": _l("queued"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
    "activated": _l("active"),
    "terminated": _l("terminated"),
    "disabled": _l("disabled"),
    "revoked": _l("revoked"),
}
BUCKET_NAMES = {
    "current": _l("Not yet due"),
    "d1_30": _l("1–30 days"),
    "d31_60": _l("31–60 days"),
    "d61_90": _l("61–90 days"),
    "d90_plus": _l("Over 90 days"),
}


def idempotency() -> dict[str, str]:
    """The form's Idempotency-Key (made when the form was shown): a form sent twice, by a
    double click or a retry, creates one record."""
    key = request.form.get("idempotency_key", "").strip()
    return {"Idempotency-Key": key[:200]} if key else {}


TRANSACTION_NAMES = {
    "invoice": _l("Invoice"),
    "payment": _l("Payment"),
    "credit_note": _l("Credit note"),
    "refund": _l("Refund"),
    "payment_reversal": _l("Payment reversed"),
}
CHANNEL_NAMES = {
    "phone": _l("Phone call"),
    "email": _l("Email"),
    "meeting": _l("Meeting"),
    "note": _l("Note"),
    "letter": _l("Letter"),
    "sms": _l("SMS"),
}
DIRECTION_NAMES = {
    "inbound": _l("they contacted us"),
    "outbound": _l("we contacted them"),
    "internal": _l("internal note"),
}
NOTIFICATION_NAMES = {
    "invoice_issued": _l("Invoice sent"),
    "payment_receipt": _l("Payment receipt"),
    "partial_payment": _l("Partial payment notice"),
    "reminder": _l("Reminder"),
    "credit_note": _l("Credit note"),
    "refund": _l("Refund"),
    "payment_reversed": _l("Payment reversed"),
}
FIELD_NAMES = {
    "name": _l("Name"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "tax_id": _l("Tax id"),
    "notes": _l("Notes"),
    "billing_address": _l("Billing address"),
    "payment_terms": _l("Payment terms"),
    "currency": _l("Currency"),
    "credit_limit": _l("Credit limit"),
    "reminders_enabled": _l("Reminders"),
    "language": _l("Language of documents and emails"),
}
LANGUAGE_NAMES = {"en": _l("English"), "el": _l("Greek")}
METHOD_NAMES = {
    "bank_transfer": _l("Bank transfer"),
    "card": _l("Card"),
    "cash": _l("Cash"),
    "check": _l("Cheque"),
    "other": _l("Other"),
}
TAX_CODE_NAMES = {
    "standard": _l("Standard"),
    "reduced": _l("Reduced"),
    "super_reduced": _l("Super-reduced"),
    "zero": _l("Zero"),
}
TREATMENT_NAMES = {
    "standard": _l("Standard rates"),
    "exempt": _l("Exempt"),
    "reverse_charge": _l("Reverse charge"),
    "custom_rate": _l("Custom rate"),
}
TEMPLATE_NAMES = {
    "upcoming": _l("Upcoming due date"),
    "first": _l("First reminder"),
    "second": _l("Second reminder"),
    "third": _l("Third reminder"),
    "final": _l("Final notice"),
}
COMMON_TERMS = ("net_0", "net_7", "net_14", "net_30", "net_45", "net_60", "eom_30")


def terms_name(terms: str) -> str:
    kind, _sep, days = (terms or "").partition("_")
    if kind == "net":
        return _("Due on receipt") if days == "0" else _("%(days)s days net", days=days)
    if kind == "eom":
        return _("%(days)s days after month end", days=days)
    return terms


def terms_options(current: str | None) -> list[tuple[str, str]]:
    keys = list(COMMON_TERMS)
    if current and current not in keys:
        keys.append(current)
    return [(key, terms_name(key)) for key in keys]


def name_helpers() -> dict[str, object]:
    """Template functions that name codes in the reader's language."""
    return {
        "role_name": lambda role: ROLE_NAMES.get(role, role),
        "service_name": lambda service: SERVICE_NAMES.get(service, service),
        "status_name": lambda status: STATUS_NAMES.get(status, status),
        "bucket_name": lambda bucket: BUCKET_NAMES.get(bucket, bucket),
        "transaction_name": lambda kind: TRANSACTION_NAMES.get(kind, kind),
        "channel_name": lambda channel: CHANNEL_NAMES.get(channel, channel),
        "direction_name": lambda direction: DIRECTION_NAMES.get(direction, direction),
        "notification_name": lambda kind: NOTIFICATION_NAMES.get(kind, kind),
        "field_name": lambda field: FIELD_NAMES.get(field, field),
        "language_name": lambda code: LANGUAGE_NAMES.get(code, code),
        "language_options": lambda: list(LANGUAGE_NAMES.items()),
        "method_name": lambda method: METHOD_NAMES.get(method, method),
        "tax_code_name": lambda code: TAX_CODE_NAMES.get(code, code),
        "tax_code_options": lambda: list(TAX_CODE_NAMES.items()),
        "treatment_name": lambda kind: TREATMENT_NAMES.get(kind, kind),
        "treatment_options": lambda: list(TREATMENT_NAMES.items()),
        "template_name": lambda name: TEMPLATE_NAMES.get(name, name),
        "terms_name": terms_name,
        "terms_options": terms_options,
    }
