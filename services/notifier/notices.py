"""What a receipt, partial-payment notice, reversal, refund, reminder or credit note notice
says, written from two things: the facts of its cause (the event that queued it, kept on
the notification) and the figures of the moment (what each invoice has paid, credited and
still due; the account's credit). When it is queued the figures are notifier's replicas;
when it is sent they are billing's answer to one request (documents.py), so the email
states what is true when the customer reads it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from services.notifier.domain import payment_notice_kind
from services.notifier.wording import render, subject


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


def invoice_ids(kind: str, facts: dict[str, Any], invoice_id: str | None) -> list[str]:
    """The invoices whose figures a notification of ``kind`` states."""
    if kind in ("payment_receipt", "partial_payment", "payment_reversed"):
        return [str(a["invoice_id"]) for a in facts.get("allocations", [])]
    if kind == "reminder" and invoice_id:
        return [invoice_id]
    return []


def write(
    kind: str,
    facts: dict[str, Any],
    invoices: dict[str, dict[str, Any]],
    account: dict[str, Any] | None,
    reader: Reader,
) -> Written:
    """The notification of ``kind`` for ``facts``, with ``invoices`` (by id) and ``account``
    as they stand; raises NothingToSay for a reminder whose invoice has nothing due, and
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


def _written(kind: str, context: dict[str, Any], reader: Reader, **subject_values: Any) -> Written:
    text, html = render(
        kind,
        {"customer_name": reader.name, **context},
        language=reader.language,
        company=reader.company,
    )
    return Written(kind, subject(reader.language, kind, **subject_values), text, html)


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
    applied = sum((Decimal(a["amount"]) for a in facts["allocations"]), Decimal(0))
    amount = applied + Decimal(unapplied)
    places = len(unapplied.partition(".")[2])
    context = {
        "amount": str(amount),
        "currency": facts["currency"],
        "invoices": lines,
        "unapplied": unapplied,
        "zero": "0." + "0" * places if places else "0",
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
    due_again = sum((Decimal(a["amount"]) for a in facts["allocations"]), Decimal(0))
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
    if invoice["status"] not in ("open", "partially_paid") or Decimal(invoice["amount_due"]) <= 0:
        raise NothingToSay(f"invoice {invoice['number']} is {invoice['status']}: nothing is due")
    days_late = int(facts["days_late"])
    context = {
        "invoice": invoice,
        "days_late": days_late,
        "template": facts["template"],
        "reference": invoice["number"],
    }
    key = (
        "reminder_final"
        if facts["template"] == "final"
        else "reminder_upcoming"
        if days_late < 0
        else "reminder_late"
    )
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
