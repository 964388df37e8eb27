"""Invoices and credit notes as PDFs (WeasyPrint renders the HTML templates with the fonts
installed), in the customer's language, with the seller and how to pay."""

from __future__ import annotations

from typing import Any

from flask import render_template

LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "draft": "(draft)",
        "draft_invoice": "Draft invoice",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "date": "Date",
        "currency": "Currency",
        "bill_to": "Bill to",
        "seller": "From",
        "tax_id": "VAT number",
        "item": "Item",
        "qty": "Qty",
        "unit_price": "Unit price",
        "discount": "Discount",
        "net": "Net",
        "tax": "Tax",
        "tax_rate": "Tax rate",
        "tax_amount": "Tax amount",
        "subtotal": "Subtotal",
        "total": "Total",
        "paid": "Paid",
        "credited": "Credited",
        "amount_due": "Amount due",
        "not_issued": "not issued",
        "how_to_pay": "How to pay",
        "iban": "IBAN",
        "bic": "BIC",
        "reference": "Reference to quote",
        "against_invoice": "Against invoice",
        "reason": "Reason",
        "applied": "Applied to the invoice",
        "account_credit": "Credit on your account",
        "status": {"paid": "Paid", "void": "Void", "draft": "Draft"},
    },
    "el": {
        "invoice": "Τιμολόγιο",
        "credit_note": "Πιστωτικό τιμολόγιο",
        "draft": "(πρόχειρο)",
        "draft_invoice": "Πρόχειρο τιμολόγιο",
        "issue_date": "Ημερομηνία έκδοσης",
        "due_date": "Ημερομηνία λήξης",
        "date": "Ημερομηνία",
        "currency": "Νόμισμα",
        "bill_to": "Πελάτης",
        "seller": "Εκδότης",
        "tax_id": "ΑΦΜ",
        "item": "Είδος",
        "qty": "Ποσότητα",
        "unit_price": "Τιμή μονάδας",
        "discount": "Έκπτωση",
        "net": "Καθαρή αξία",
        "tax": "ΦΠΑ",
        "tax_rate": "Συντελεστής ΦΠΑ",
        "tax_amount": "Ποσό ΦΠΑ",
        "subtotal": "Καθαρό σύνολο",
        "total": "Σύνολο",
        "paid": "Πληρώθηκαν",
        "credited": "Πιστώθηκαν",
        "amount_due": "Πληρωτέο ποσό",
        "not_issued": "δεν έχει εκδοθεί",
        "how_to_pay": "Τρόπος πληρωμής",
        "iban": "IBAN",
        "bic": "BIC",
        "reference": "Αιτιολογία κατάθεσης",
        "against_invoice": "Για το τιμολόγιο",
        "reason": "Αιτία",
        "applied": "Συμψηφίστηκε με το τιμολόγιο",
        "account_credit": "Πίστωση στον λογαριασμό σας",
        "status": {"paid": "Εξοφλημένο", "void": "Ακυρωμένο", "draft": "Πρόχειρο"},
    },
}


def labels(language: str | None) -> dict[str, Any]:
    """The documents' words in ``language`` (English for anything but ``el``)."""
    return LABELS.get(language or "en", LABELS["en"])


def invoice_pdf(
    invoice: dict[str, Any], company: dict[str, Any] | None = None, language: str = "en"
) -> bytes:
    """PDF bytes of an invoice given in its JSON form (the API answer), with the seller
    ``company`` (None: not set yet) and in ``language`` (``en`` or ``el``)."""
    html = render_template(
        "invoice.html",
        invoice=invoice,
        bill_to=invoice["bill_to"],
        address=invoice["bill_to"].get("billing_address"),
        zero=_zero(invoice["total"]),
        company=company,
        reference=invoice.get("number"),
        language=language if language in LABELS else "en",
        t=labels(language),
    )
    return _pdf(html)


def credit_note_pdf(
    note: dict[str, Any],
    customer: dict[str, Any],
    company: dict[str, Any] | None = None,
    language: str = "en",
) -> bytes:
    """PDF bytes of a credit note (its JSON form), for ``customer`` (the replica's snapshot)."""
    html = render_template(
        "credit_note.html",
        note=note,
        customer=customer,
        address=customer.get("billing_address"),
        zero=_zero(note["amount"]),
        company=company,
        language=language if language in LABELS else "en",
        t=labels(language),
    )
    return _pdf(html)


def _pdf(html: str) -> bytes:
    import weasyprint  # loaded on first use: it is heavy and only these endpoints need it

    return bytes(weasyprint.HTML(string=html).write_pdf())


def _zero(amount: str) -> str:
    """ "0.00" in the document's currency, as its amounts are written."""
    places = len(amount.partition(".")[2])
    return "0." + "0" * places if places else "0"
