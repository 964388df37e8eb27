"""What an email says, in the customer's language: the templates (English at the top of
``templates/``, Greek under ``templates/el/``), the subjects, the signature with the seller
from the company profile, and each kind of email written from two things: the facts of its
cause (the event that queued it, kept on the notification) and the figures of the moment
(the invoice; what each invoice has paid, credited and still asks; the account's credit).
When it is queued the figures are notifier's replicas; when it is sent they are billing's
answer to one request (documents.py), so the email states what is true when it is read."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, FileSystemLoader, Template, TemplateNotFound, select_autoescape

from services.notifier.domain import (
    allocated,
    nothing_due,
    payment_notice_kind,
    reminder_subject,
    zero_like,
)

DICT_ATTRIBUTES = frozenset(dir(dict))


class DictFirstEnvironment(Environment):
    """Jinja's environment, with ``a.b`` on a plain dict (what every template is given)
    read as its key at once. Jinja tries the attribute first, and the AttributeError raised
    and caught for each lookup was a third of writing a notice. The answer is the same: a
    name that is not an attribute of dict is looked up as a key either way."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


# The templates ship with the code: loaded and compiled once, never checked for changes.
TEMPLATES = DictFirstEnvironment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
    auto_reload=False,
)

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


class Written(NamedTuple):
    kind: str
    subject: str
    text: str
    html: str


class Reader(NamedTuple):
    """Who reads it: the customer's name, their language, the seller (None before a
    profile is set)."""

    name: str
    language: str
    company: dict[str, Any] | None


class NothingToSay(Exception):
    """What the notification was about is settled: sending it now would be wrong."""


# -- templates and subjects -----------------------------------------------------------------


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
    text, html = templates(kind, language)
    return text.render(**full), html.render(**full)


@functools.cache
def templates(kind: str, language: str) -> tuple[Template, Template]:
    """The (text, HTML) templates of ``kind`` in ``language``, English where no Greek one
    exists; looked up once per kind and language."""
    folder = "el/" if language == "el" else ""
    found = []
    for extension in ("txt", "html"):
        try:
            found.append(TEMPLATES.get_template(f"{folder}{kind}.{extension}"))
        except TemplateNotFound:
            found.append(TEMPLATES.get_template(f"{kind}.{extension}"))
    return found[0], found[1]


def _written(kind: str, context: dict[str, Any], reader: Reader, **subject_values: Any) -> Written:
    text, html = render(
        kind,
        {"customer_name": reader.name, **context},
        language=reader.language,
        company=reader.company,
    )
    return Written(kind, subject(reader.language, kind, **subject_values), text, html)


# -- each kind of email ---------------------------------------------------------------------


def invoice_email(invoice: dict[str, Any], reader: Reader) -> Written:
    """The invoice email for ``invoice`` as it stands, to its bill-to name: what is due and
    by when, or that it is already settled (account credit paid it at issue)."""
    settled = Decimal(invoice["amount_due"]) == 0
    text, html = render(
        "invoice_issued",
        {
            "customer_name": invoice["bill_to"]["name"],
            "invoice": invoice,
            "reference": None if settled else invoice["number"],
        },
        language=reader.language,
        company=reader.company,
    )
    line = subject(
        reader.language,
        "invoice_settled" if settled else "invoice_issued",
        number=invoice["number"],
        total=invoice["total"],
        currency=invoice["currency"],
        due_date=invoice["due_date"],
    )
    return Written("invoice_issued", line, text, html)


def write(
    kind: str,
    facts: dict[str, Any],
    invoices: dict[str, dict[str, Any]],
    account: dict[str, Any] | None,
    reader: Reader,
) -> Written:
    """The notice of ``kind`` for ``facts``, with ``invoices`` (by id) and ``account`` as
    they stand; raises NothingToSay for a reminder whose invoice has nothing due, and
    KeyError when an invoice it names is not among ``invoices``."""
    if kind in ("payment_receipt", "partial_payment"):
        return payment_notice(facts, invoices, reader)
    if kind == "payment_reversed":
        return reversal_notice(facts, invoices, reader)
    if kind == "refund":
        return refund_notice(facts, account, reader)
    if kind == "reminder":
        return reminder_notice(facts, invoices[str(facts["invoice_id"])], reader)
    if kind == "credit_note":
        return credit_note_notice(facts, reader)
    raise ValueError(f"no notice is written for {kind}")


def payment_notice(
    facts: dict[str, Any], invoices: dict[str, dict[str, Any]], reader: Reader
) -> Written:
    """A receipt when every invoice the payment touched is paid now, otherwise a partial-
    payment notice naming what each still asks and by when."""
    lines = []
    for allocation in facts["allocations"]:
        invoice = invoices[str(allocation["invoice_id"])]
        lines.append(
            {
                "number": invoice["number"],
                "applied": allocation["amount"],
                "amount_due": invoice["amount_due"],
                "due_date": invoice["due_date"],
                "paid": Decimal(invoice["amount_due"]) == 0,
            }
        )
    kind = payment_notice_kind([line["amount_due"] for line in lines])
    unapplied = str(facts["unapplied_amount"])
    amount = allocated(facts["allocations"]) + Decimal(unapplied)
    context = {
        "amount": str(amount),
        "currency": facts["currency"],
        "invoices": lines,
        "unapplied": unapplied,
        "zero": zero_like(unapplied),
        "payment_date": facts.get("date"),
        "reference": ", ".join(str(line["number"]) for line in lines if not line["paid"]) or None,
    }
    return _written(kind, context, reader, amount=amount, currency=facts["currency"])


def reversal_notice(
    facts: dict[str, Any], invoices: dict[str, dict[str, Any]], reader: Reader
) -> Written:
    """The payment was returned: what it had paid is due again (and what each of those
    invoices asks now), what of its credit was taken back."""
    lines = []
    for allocation in facts["allocations"]:
        invoice = invoices.get(str(allocation["invoice_id"]))
        lines.append(
            {
                "number": invoice["number"] if invoice else None,
                "amount": allocation["amount"],
                "amount_due": invoice["amount_due"] if invoice else None,
            }
        )
    due_again = allocated(facts["allocations"])
    removed = Decimal(facts.get("unapplied_amount") or 0)
    amount, due = str(due_again + removed), str(due_again)
    numbers = [str(line["number"]) for line in lines if line["number"]]
    context = {
        "amount": amount,
        "currency": facts["currency"],
        "reason": facts.get("reason"),
        "due_again": due,
        "credit_removed": str(removed),
        "invoices": lines,
        "reference": ", ".join(numbers) or None,
    }
    return _written(
        "payment_reversed",
        context,
        reader,
        amount=amount,
        due_again=due,
        currency=facts["currency"],
    )


def refund_notice(facts: dict[str, Any], account: dict[str, Any] | None, reader: Reader) -> Written:
    """Credit paid back to the customer, and (once billing has said) the credit left."""
    return _written(
        "refund",
        {"refund": facts, "account": account},
        reader,
        amount=facts["amount"],
        currency=facts["currency"],
    )


def reminder_notice(facts: dict[str, Any], invoice: dict[str, Any], reader: Reader) -> Written:
    """The reminder of a policy level (``facts``: ``template``, ``days_late`` as of the run)
    about ``invoice`` as it stands; NothingToSay once nothing is due on it."""
    if nothing_due(invoice["status"], invoice["amount_due"]):
        raise NothingToSay(f"invoice {invoice['number']} is {invoice['status']}: nothing is due")
    days_late = int(facts["days_late"])
    context = {
        "invoice": invoice,
        "days_late": days_late,
        "template": facts["template"],
        "reference": invoice["number"],
    }
    key = reminder_subject(facts["template"], days_late)
    text, html = render(
        "reminder",
        {"customer_name": reader.name, **context},
        language=reader.language,
        company=reader.company,
    )
    line = subject(
        reader.language,
        key,
        number=invoice["number"],
        amount_due=invoice["amount_due"],
        currency=invoice["currency"],
        due_date=invoice["due_date"],
        **({"days": days_late} if key == "reminder_late" else {}),
    )
    return Written("reminder", line, text, html)


def credit_note_notice(note: dict[str, Any], reader: Reader) -> Written:
    """The credit note as billing states it (its PDF goes with it)."""
    return _written(
        "credit_note",
        {"note": note},
        reader,
        number=note["number"],
        amount=note["amount"],
        currency=note["currency"],
    )
