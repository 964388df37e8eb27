"""Request and response shapes of the billing API."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events.billing import (
    CompanyProfile,
    CreditNoteIssued,
    InvoicePayment,
    InvoiceSnapshot,
)
from shared.events.fields import Amount, Currency
from shared.web.lists import PageQuery
from shared.web.schemas import (
    AmountInput,
    BusinessDate,
    Name,
    Percent,
    Quantity,
    RequestSchema,
    UnitPrice,
)


class InvoiceLineInput(RequestSchema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    quantity = Quantity(required=True)
    description = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=500)
    )
    unit_price = UnitPrice(allow_none=True, load_default=None)


class InvoiceCreateSchema(RequestSchema):
    customer_id = fields.UUID(required=True)
    lines = fields.List(
        fields.Nested(InvoiceLineInput), required=True, validate=validate.Length(min=1, max=500)
    )
    issue_date = BusinessDate(load_default=None, allow_none=True)
    due_date = BusinessDate(load_default=None, allow_none=True)
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    draft = fields.Boolean(load_default=False)
    notify = fields.Boolean(
        load_default=True,
        metadata={"description": "false: history import, no email is sent for it"},
    )

    @validates_schema
    def _due_after_issue(self, data: dict[str, Any], **_: Any) -> None:
        issue, due = data.get("issue_date"), data.get("due_date")
        if issue and due and due < issue:
            raise ValidationError("Must not be before issue_date.", "due_date")


class VoidSchema(RequestSchema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class InvoiceQuery(PageQuery):
    customer_id = fields.UUID()
    number = fields.String(
        validate=validate.Length(min=1, max=20),
        metadata={"description": "exactly, e.g. INV-2026-000001"},
    )
    status = fields.String(
        validate=validate.OneOf(["draft", "open", "partially_paid", "paid", "void"])
    )
    overdue = fields.Boolean()


class CreditNoteCreateSchema(RequestSchema):
    customer_id = fields.UUID(required=True)
    invoice_id = fields.UUID(load_default=None, allow_none=True)
    amount = AmountInput(positive=True, required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    date = BusinessDate(load_default=None, allow_none=True)
    tax_rate = Percent(load_default=None, allow_none=True)
    notify = fields.Boolean(
        load_default=True,
        metadata={"description": "false: history import, no email is sent for it"},
    )

    @validates_schema
    def _rate_only_standalone(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("invoice_id") and data.get("tax_rate") is not None:
            raise ValidationError("Only standalone credit notes take a tax_rate.", "tax_rate")


class CreditNoteQuery(PageQuery):
    customer_id = fields.UUID()
    invoice_id = fields.UUID()


class AccountQuery(RequestSchema):
    invoice_id = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "repeat to have these invoices of the customer in the answer"},
    )
    invoice_payments = fields.Boolean(
        load_default=True,
        metadata={
            "description": "false: the invoices asked for leave out `payments` (as "
            "billing.invoice.updated version 2 does), so the answer does not grow with their "
            "history; what an email states needs no more"
        },
    )


class AccountInvoice(InvoiceSnapshot):
    payments = fields.List(
        fields.Nested(InvoicePayment),
        metadata={"description": "left out with invoice_payments=false"},
    )


class AccountSchema(Schema):
    customer_id = fields.String(required=True)
    currency = Currency(required=True)
    balance = Amount(required=True)
    open_total = Amount(required=True)
    overdue_total = Amount(required=True)
    unapplied_credit = Amount(required=True)
    open_invoices = fields.Integer(required=True)
    as_of = fields.Date(required=True)
    invoices = fields.List(
        fields.Nested(AccountInvoice),
        required=True,
        metadata={
            "description": "the invoices asked for with invoice_id, read in the same "
            "transaction as the figures above (empty unless asked)"
        },
    )


class AccountsQuery(AccountQuery):
    customer_id = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "repeat for each customer whose account is wanted"},
    )
    invoice_id = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=200),
        metadata={"description": "repeat to have these invoices in the answer, each in its "
                  "customer's account"},
    )  # fmt: skip


class AccountsSchema(Schema):
    items = fields.List(
        fields.Nested(AccountSchema),
        required=True,
        metadata={
            "description": "the accounts in the order asked, each customer once; a customer "
            "billing has not seen is left out"
        },
    )


class DocumentQuery(RequestSchema):
    include = fields.String(
        validate=validate.OneOf(["pdf"]),
        metadata={"description": "pdf: the answer also carries the document's PDF (base64)"},
    )


def pdf_field() -> fields.String:
    return fields.String(
        metadata={
            "description": "with include=pdf: the PDF (base64), rendered from this very answer",
            "format": "byte",
        }
    )


class TransactionAllocation(Schema):
    invoice_id = fields.String(required=True)
    invoice_number = fields.String(allow_none=True)
    amount = Amount(required=True)
    date = fields.Date(required=True)


class TransactionSchema(Schema):
    date = fields.Date(required=True)
    type = fields.String(required=True)
    reference = fields.String(required=True)
    amount = Amount(required=True)
    balance_after = Amount(required=True)
    invoice_id = fields.String(allow_none=True)
    payment_id = fields.String(allow_none=True)
    allocations = fields.List(
        fields.Nested(TransactionAllocation),
        metadata={"description": "payment rows: the invoices the payment pays now"},
    )


class TransactionsQuery(PageQuery):
    from_ = BusinessDate(data_key="from", load_default=None)
    to = BusinessDate(load_default=None)


class TransactionsSchema(Schema):
    customer_id = fields.String(required=True)
    currency = Currency(required=True)
    opening_balance = Amount(
        required=True, metadata={"description": "balance before the first item"}
    )
    items = fields.List(fields.Nested(TransactionSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class OverdueJobSchema(RequestSchema):
    as_of = BusinessDate(load_default=None, metadata={"description": "today or earlier"})
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "answer what would be flagged, change nothing"}
    )


class DryRunQuery(RequestSchema):
    dry_run = fields.Boolean(load_default=False)


class OverdueJobResult(Schema):
    as_of = fields.Date(required=True)
    dry_run = fields.Boolean(required=True)
    reported = fields.List(
        fields.String(), required=True, metadata={"description": "flagged (or, dry, would be)"}
    )


def _text(max_length: int) -> fields.String:
    return fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=max_length)
    )


class CompanyAddressInput(RequestSchema):
    line1 = _text(200)
    line2 = _text(200)
    city = _text(100)
    postal_code = _text(20)
    region = _text(100)
    country = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[A-Z]{2}$", error="An ISO 3166 alpha-2 code, e.g. GR."),
    )


class CompanyInput(RequestSchema):
    """The whole profile (PUT replaces it): ``name`` and ``email`` are required."""

    name = Name(required=True)
    address = fields.Nested(CompanyAddressInput, load_default=None, allow_none=True)
    tax_id = _text(40)
    email = fields.Email(required=True, validate=validate.Length(max=320))
    reply_to = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=320))
    phone = _text(40)
    iban = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^[A-Z]{2}[0-9]{2}[A-Z0-9 ]{10,36}$", error="An IBAN, e.g. GR16 0110 1250 ..."
        ),
    )
    bic = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[A-Z0-9]{8}([A-Z0-9]{3})?$", error="A BIC of 8 or 11."),
    )
    payment_instructions = _text(2000)
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "el"]))


class CompanySchema(CompanyProfile):
    name = fields.String(allow_none=True, required=True)
    email = fields.String(allow_none=True, required=True)
    updated_at = fields.String(allow_none=True)  # type: ignore[assignment]  # its wire form


InvoiceSchema = InvoiceSnapshot
CreditNoteSchema = CreditNoteIssued


class InvoiceDocumentSchema(InvoiceSnapshot):
    pdf = pdf_field()


class CreditNoteDocumentSchema(CreditNoteIssued):
    pdf = pdf_field()
