"""Events published by the billing service: invoices, credit notes, payment application, accounts.

Every event that moves money carries its business ``date`` (CONTRACT "Events").
"""

from __future__ import annotations

from marshmallow import fields

from shared.events.catalog import EventData, event
from shared.events.customers import Address
from shared.events.fields import Amount, Currency, Id, Timestamp


class BillTo(EventData):
    name = fields.String(required=True)
    email = fields.String(allow_none=True)
    tax_id = fields.String(allow_none=True)
    billing_address = fields.Nested(Address, allow_none=True)


class InvoiceLine(EventData):
    sku = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    quantity = Amount(required=True)
    unit_price = Amount(required=True)
    discount_percent = Amount(required=True)
    net_amount = Amount(required=True)
    tax_rate = Amount(required=True)
    tax_amount = Amount(required=True)
    tax_note = fields.String(allow_none=True)


class InvoicePayment(EventData):
    payment_id = Id(required=True)
    amount = Amount(required=True)
    applied_at = Timestamp(allow_none=True)
    date = fields.Date(allow_none=True)  # business date of the application


@event(
    "billing.invoice.updated",
    summary="The whole invoice after a change to its amounts or status (a snapshot).",
)
class InvoiceSnapshot(EventData):
    id = Id(required=True)
    number = fields.String(allow_none=True)  # drafts have none
    customer_id = Id(required=True)
    status = fields.String(required=True)
    currency = Currency(required=True)
    date = fields.Date(required=True)  # business date of the change this snapshot follows
    issue_date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    bill_to = fields.Nested(BillTo, required=True)
    contract_id = Id(allow_none=True)
    lines = fields.List(fields.Nested(InvoiceLine), required=True)
    subtotal = Amount(required=True)
    tax_total = Amount(required=True)
    total = Amount(required=True)
    amount_paid = Amount(required=True)
    amount_credited = Amount(required=True)
    amount_due = Amount(required=True)
    overdue = fields.Boolean(required=True)
    days_overdue = fields.Integer(required=True)
    payments = fields.List(fields.Nested(InvoicePayment), required=True)
    paid_on = fields.Date(allow_none=True)  # date of the settling payment or credit note
    notify = fields.Boolean(allow_none=True)  # false: entered as history, no email
    notes = fields.String(allow_none=True)
    void_reason = fields.String(allow_none=True)
    version = fields.Integer(required=True)
    created_at = Timestamp(allow_none=True)
    issued_at = Timestamp(allow_none=True)
    voided_at = Timestamp(allow_none=True)
    updated_at = Timestamp(allow_none=True)


@event(
    "billing.invoice.updated",
    version=2,
    summary="The whole invoice after a change to its amounts or status, without the list of "
    "payments applied to it (version 1 carries it, so it grows with every partial payment; "
    "GET /invoices/{id} answers it): the same size however long its history.",
)
class InvoiceSnapshotV2(InvoiceSnapshot):
    class Meta(EventData.Meta):
        exclude = ("payments",)


@event("billing.invoice.issued", summary="An invoice was issued: the whole invoice, numbered.")
class InvoiceIssued(InvoiceSnapshot):
    number = fields.String(required=True)
    issue_date = fields.Date(required=True)
    due_date = fields.Date(required=True)


@event(
    "billing.invoice.partially_paid",
    "billing.invoice.paid",
    summary="Payments or credits left an invoice partly paid, or settled it in full.",
)
class InvoicePaymentProgress(EventData):
    invoice_id = Id(required=True)
    customer_id = Id(required=True)
    amount_paid = Amount(required=True)
    amount_due = Amount(required=True)
    currency = Currency(required=True)
    date = fields.Date(required=True)
    number = fields.String(allow_none=True)
    total = Amount(allow_none=True)
    amount_credited = Amount(allow_none=True)
    issue_date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    payment_id = Id(allow_none=True)  # the payment that caused the change, if any
    credit_note_id = Id(allow_none=True)  # the credit note that caused it, if any


@event("billing.invoice.overdue", summary="An invoice became overdue (emitted once per invoice).")
class InvoiceOverdue(EventData):
    invoice_id = Id(required=True)
    customer_id = Id(required=True)
    due_date = fields.Date(required=True)
    amount_due = Amount(required=True)
    currency = Currency(required=True)
    as_of = fields.Date(required=True)
    number = fields.String(allow_none=True)
    days_overdue = fields.Integer(allow_none=True)


@event("billing.invoice.voided", summary="An invoice with nothing paid or credited was voided.")
class InvoiceVoided(EventData):
    invoice_id = Id(required=True)
    customer_id = Id(required=True)
    reason = fields.String(required=True, allow_none=True)
    date = fields.Date(required=True)
    number = fields.String(allow_none=True)
    total = Amount(allow_none=True)
    currency = Currency(allow_none=True)


class CreditNoteLine(EventData):
    tax_rate = Amount(required=True)
    net_amount = Amount(required=True)
    tax_amount = Amount(required=True)


@event("billing.credit_note.issued", summary="A credit note was issued, against an invoice or not.")
class CreditNoteIssued(EventData):
    id = Id(required=True)
    number = fields.String(required=True)
    customer_id = Id(required=True)
    invoice_id = Id(allow_none=True)  # null: all of it is account credit
    invoice_number = fields.String(allow_none=True)
    amount = Amount(required=True)  # gross
    currency = Currency(required=True)
    date = fields.Date(required=True)
    reason = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(CreditNoteLine), required=True)
    net_total = Amount(allow_none=True)
    tax_total = Amount(allow_none=True)
    applied_amount = Amount(allow_none=True)  # lowered the invoice's amount_due
    unapplied_amount = Amount(allow_none=True)  # became credit on the account
    created_at = Timestamp(allow_none=True)
    notify = fields.Boolean(allow_none=True)  # false: entered as history, no email


class Allocation(EventData):
    invoice_id = Id(required=True)
    amount = Amount(required=True)


@event(
    "billing.payment.applied",
    summary="A payment, or credit left over from it, was applied to invoices.",
)
class PaymentApplied(EventData):
    payment_id = Id(required=True)
    customer_id = Id(required=True)
    allocations = fields.List(fields.Nested(Allocation), required=True)
    unapplied_amount = Amount(required=True)
    currency = Currency(required=True)
    date = fields.Date(required=True)
    from_credit = fields.Boolean(allow_none=True)  # true: leftover credit used on a later invoice
    notify = fields.Boolean(allow_none=True)  # false: the payment was entered as history


@event(
    "billing.credit_note.applied",
    summary="Account credit left over from a credit note paid part of a later invoice.",
)
class CreditNoteApplied(EventData):
    credit_note_id = Id(required=True)
    customer_id = Id(required=True)
    allocations = fields.List(fields.Nested(Allocation), required=True)
    unapplied_amount = Amount(required=True)  # what is left of the credit note's credit
    currency = Currency(required=True)
    date = fields.Date(required=True)


@event(
    "billing.payment.unapplied",
    summary="A reversed payment's applications were removed from the invoices they paid.",
)
class PaymentUnapplied(EventData):
    payment_id = Id(required=True)
    customer_id = Id(required=True)
    allocations = fields.List(fields.Nested(Allocation), required=True)
    currency = Currency(required=True)
    date = fields.Date(required=True)
    unapplied_amount = Amount(allow_none=True)  # credit removed from the account
    reason = fields.String(allow_none=True)


@event(
    "billing.account.balance_changed",
    summary="A customer's account balance or unapplied credit changed.",
)
class AccountBalanceChanged(EventData):
    customer_id = Id(required=True)
    balance = Amount(required=True)
    unapplied_credit = Amount(required=True)
    currency = Currency(required=True)
    date = fields.Date(allow_none=True)  # business date of the change
    open_total = Amount(allow_none=True)
    overdue_total = Amount(allow_none=True)
    open_invoices = fields.Integer(allow_none=True)


class CompanyAddress(EventData):
    line1 = fields.String(allow_none=True)
    line2 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    country = fields.String(allow_none=True)


@event(
    "billing.company.updated",
    summary="The seller's company profile after a change (a snapshot; subject `company`): "
    "what every document and email shows as the sender.",
)
class CompanyProfile(EventData):
    name = fields.String(required=True)
    address = fields.Nested(CompanyAddress, allow_none=True)
    tax_id = fields.String(allow_none=True)
    email = fields.String(required=True)
    reply_to = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    iban = fields.String(allow_none=True)
    bic = fields.String(allow_none=True)
    payment_instructions = fields.String(allow_none=True)
    language = fields.String(required=True)  # en or el: new customers' language
    version = fields.Integer(required=True)
    updated_at = Timestamp(allow_none=True)
