"""The invoice as a PDF (WeasyPrint renders the HTML template with the fonts installed)."""

from __future__ import annotations

from typing import Any

from flask import render_template


def invoice_pdf(invoice: dict[str, Any]) -> bytes:
    """PDF bytes of an invoice given in its JSON form (the API answer)."""
    import weasyprint  # loaded on first use: it is heavy and only this endpoint needs it

    html = render_template(
        "invoice.html",
        invoice=invoice,
        bill_to=invoice["bill_to"],
        address=invoice["bill_to"].get("billing_address"),
        zero=_zero(invoice),
    )
    return bytes(weasyprint.HTML(string=html).write_pdf())


def _zero(invoice: dict[str, Any]) -> str:
    """ "0.00" in the invoice's currency, as the amounts are written."""
    places = len(invoice["total"].partition(".")[2])
    return "0." + "0" * places if places else "0"
