"""Customer rules with no I/O: numbers, search normalization, what a change to a customer
stores, and how a notification is written into the communication history (payment terms:
shared.terms)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from shared.money import from_minor, to_minor

ADDRESS_KEYS = ("line1", "line2", "city", "postal_code", "region", "country")


def customer_number(sequence: int) -> str:
    return f"C-{sequence:06d}"


def search_key(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` for any script ("ΑΘΗΝΆ" -> "αθηνα")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.casefold()).strip()


def search_text(name: str, email: str | None, number: str, tax_id: str | None = None) -> str:
    """What a customer search matches against: name, email, number and tax id, normalized."""
    return " | ".join(search_key(part) for part in (name, email or "", number, tax_id or ""))


def address(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A billing address as stored: every key present, anything else left out."""
    if value is None:
        return None
    return {key: value.get(key) for key in ADDRESS_KEYS}


def credit_limit_minor(value: Any, currency: str) -> int | None:
    """A credit limit in minor units of ``currency`` (None: no limit); MoneyError (a
    ValueError) if it has more places than the currency."""
    return None if value is None else to_minor(value, currency)


def stored_changes(
    request: Mapping[str, Any], currency: str, limit_minor: int | None
) -> dict[str, Any]:
    """The column values a change of fields asks for, given the customer's ``currency`` and
    stored ``limit_minor`` now: names trimmed, addresses as stored, the credit limit in
    minor units of the currency it will have (a limit kept across a currency change is
    re-expressed in the new one). MoneyError if a limit does not fit its currency."""
    new_currency = request.get("currency", currency)
    changes: dict[str, Any] = {}
    for field, value in request.items():
        if field == "credit_limit":
            changes["credit_limit_minor"] = credit_limit_minor(value, new_currency)
        elif field == "billing_address":
            changes[field] = address(value)
        elif field == "name":
            changes[field] = value.strip()
        else:
            changes[field] = value
    if "currency" in request and "credit_limit" not in request and limit_minor is not None:
        kept = from_minor(limit_minor, currency)
        changes["credit_limit_minor"] = credit_limit_minor(kept, new_currency)
    return changes


def notification_ref(notification_id: str, failed: bool) -> str:
    """What an interaction logged from a notification records: one per notification and
    outcome, however often notifier reports it."""
    return f"notification:{notification_id}:{'failed' if failed else 'sent'}"


def notification_body(body: str | None, error: str | None, failed: bool) -> str:
    """The interaction's text for a notification: a failed delivery says so first."""
    if not failed:
        return body or ""
    return f"Delivery failed: {error or 'unknown error'}\n\n{body or ''}"
