"""What an email says, in the customer's language: templates (English at the top of
``templates/``, Greek under ``templates/el/``), subjects, and the signature with the seller
from the company profile."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)
LANGUAGES = ("en", "el")

SUBJECTS: dict[str, dict[str, str]] = {
    "en": {
        "invoice_issued": "Invoice {number}: {total} {currency}, due {due_date}",
        "invoice_settled": "Invoice {number}: {total} {currency}, already settled",
        "payment_receipt": "Payment received: {amount} {currency}, thank you",
        "partial_payment": "Payment received: {amount} {currency}, a balance remains",
        "reminder_final": "Final notice: invoice {number}",
        "reminder_upcoming": (
            "Reminder: invoice {number}, {amount_due} {currency} due on {due_date}"
        ),
        "reminder_late": "Reminder: invoice {number}, {amount_due} {currency} due, {late}",
        "credit_note": "Credit note {number}: {amount} {currency}",
        "refund": "Refund: {amount} {currency} paid back to you",
        "payment_reversed": (
            "Payment of {amount} {currency} returned: {due_again} {currency} due again"
        ),
        "late_one": "1 day late",
        "late_many": "{days} days late",
    },
    "el": {
        "invoice_issued": "Τιμολόγιο {number}: {total} {currency}, λήξη {due_date}",
        "invoice_settled": "Τιμολόγιο {number}: {total} {currency}, ήδη εξοφλημένο",
        "payment_receipt": "Λάβαμε την πληρωμή σας: {amount} {currency}, ευχαριστούμε",
        "partial_payment": "Λάβαμε την πληρωμή σας: {amount} {currency}, απομένει υπόλοιπο",
        "reminder_final": "Τελική ειδοποίηση: τιμολόγιο {number}",
        "reminder_upcoming": (
            "Υπενθύμιση: τιμολόγιο {number}, {amount_due} {currency} έως {due_date}"
        ),
        "reminder_late": "Υπενθύμιση: τιμολόγιο {number}, {amount_due} {currency}, {late}",
        "credit_note": "Πιστωτικό τιμολόγιο {number}: {amount} {currency}",
        "refund": "Επιστροφή χρημάτων: {amount} {currency}",
        "payment_reversed": (
            "Επιστροφή πληρωμής {amount} {currency}: οφείλονται ξανά {due_again} {currency}"
        ),
        "late_one": "1 ημέρα καθυστέρηση",
        "late_many": "{days} ημέρες καθυστέρηση",
    },
}


def language_of(customer: Any) -> str:
    """A customer replica row's language (``en`` unless its snapshot says ``el``)."""
    snapshot = getattr(customer, "snapshot", None) or {}
    language = snapshot.get("language") if isinstance(snapshot, dict) else None
    return language if language in LANGUAGES else "en"


def subject(language: str, key: str, **values: Any) -> str:
    """The subject line ``key`` in ``language``, filled with ``values``."""
    words = SUBJECTS.get(language, SUBJECTS["en"])
    if "days" in values:
        days = values.pop("days")
        values["late"] = words["late_one"] if days == 1 else words["late_many"].format(days=days)
    return words[key].format(**values)


def seller_address(company: dict[str, Any] | None) -> str:
    """The company's address on one line ("Street 1, 11526 Athens, GR")."""
    address = (company or {}).get("address") or {}
    town = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    parts = (address.get("line1"), address.get("line2"), town, address.get("country"))
    return ", ".join(part for part in parts if part)


def render(
    kind: str,
    context: dict[str, Any],
    *,
    language: str = "en",
    company: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """(text, html) of a notification kind in ``language`` (English where no Greek template
    exists), signed with the seller ``company`` (None before a profile is set)."""
    full = {
        "reference": None,
        **context,
        "company": company,
        "seller_address": seller_address(company),
    }
    folder = "el/" if language == "el" else ""
    parts = []
    for extension in ("txt", "html"):
        try:
            template = TEMPLATES.get_template(f"{folder}{kind}.{extension}")
        except TemplateNotFound:
            template = TEMPLATES.get_template(f"{kind}.{extension}")
        parts.append(template.render(**full))
    return parts[0], parts[1]


def is_zero(amount: str) -> bool:
    return Decimal(amount) == 0


def invoice_email(
    invoice: dict[str, Any], language: str, company: dict[str, Any] | None
) -> tuple[str, str, str]:
    """(subject, text, html) of the invoice email for ``invoice`` as it stands: what is due
    and by when, or that it is already settled (account credit paid it at issue)."""
    settled = is_zero(invoice["amount_due"])
    text, html = render(
        "invoice_issued",
        {
            "customer_name": invoice["bill_to"]["name"],
            "invoice": invoice,
            "reference": None if settled else invoice["number"],
        },
        language=language,
        company=company,
    )
    line = subject(
        language,
        "invoice_settled" if settled else "invoice_issued",
        number=invoice["number"],
        total=invoice["total"],
        currency=invoice["currency"],
        due_date=invoice["due_date"],
    )
    return line, text, html
