"""HTTP routes of the billing service: invoices, credit notes, accounts, jobs."""

from __future__ import annotations

import base64
import uuid
from functools import partial
from typing import Any

from flask import Response
from sqlalchemy import select

from services.billing import commands, queries
from services.billing.domain import OPEN_STATUSES
from services.billing.models import CreditNote, Invoice, customer_replica
from services.billing.pdf import credit_note_pdf, invoice_pdf
from services.billing.schemas import (
    AccountQuery,
    AccountSchema,
    AccountsQuery,
    AccountsSchema,
    CompanyInput,
    CompanySchema,
    CreditNoteCreateSchema,
    CreditNoteDocumentSchema,
    CreditNoteQuery,
    CreditNoteSchema,
    DocumentQuery,
    DryRunQuery,
    InvoiceCreateSchema,
    InvoiceDocumentSchema,
    InvoiceQuery,
    InvoiceSchema,
    OverdueJobResult,
    OverdueJobSchema,
    TransactionSchema,
    TransactionsQuery,
    TransactionsSchema,
    VoidSchema,
)
from shared.clock import today
from shared.db import UnitOfWork
from shared.money import from_minor
from shared.web.auth import requires
from shared.web.backpressure import backpressured
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.inputs import job_day
from shared.web.lists import Listing, list_page, list_response, page_of, wants_csv
from shared.web.lookups import replica_customer
from shared.web.writes import check_if_match, idempotent_create, json_response, with_etag

blp = Blueprint(
    "billing",
    __name__,
    description="Invoices, credit notes and customer accounts",
    template_folder="templates",
)
INVOICES = Listing((Invoice.created_at, Invoice.id), InvoiceSchema, "invoices", descending=True)
CREDIT_NOTES = Listing(
    (CreditNote.created_at, CreditNote.id), CreditNoteSchema, "credit-notes", descending=True
)


def _answer(uow: UnitOfWork, invoice: Invoice, status: int = 200) -> Any:
    return with_etag(
        json_response(InvoiceSchema().dump(queries.invoice_view(uow, invoice)), status),
        invoice.version,
    )


# -- invoices -----------------------------------------------------------------------------


@blp.route("/invoices", methods=["POST"])
@requires("clerk")
@blp.arguments(InvoiceCreateSchema)
@blp.response(201, InvoiceSchema)
@backpressured
def create_invoice(body: dict[str, Any]) -> Any:
    """An invoice auto-filled from the customer (bill-to, currency, due date from terms) and
    priced by the catalog and the customer's contract. Honours Idempotency-Key."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            invoice = commands.create_invoice(uow, body)
            answer = InvoiceSchema().dump(queries.invoice_view(uow, invoice))
            headers = {"Location": f"invoices/{invoice.id}", "ETag": f'"{invoice.version}"'}
            return answer, 201, headers

        return idempotent_create(uow, create)


@blp.route("/invoices/<uuid:invoice_id>/issue", methods=["POST"])
@requires("clerk")
@blp.response(200, InvoiceSchema)
@backpressured
def issue_draft(invoice_id: uuid.UUID) -> Any:
    """A draft is re-priced, dated (today unless it has an issue_date), numbered and posted;
    a stale ``If-Match`` is 409."""
    with unit_of_work() as uow:
        invoice = commands.issue_draft(uow, invoice_id, check_if_match)
        response = _answer(uow, invoice)
        uow.commit()
    return response


@blp.route("/invoices/<uuid:invoice_id>/void", methods=["POST"])
@requires("admin")
@blp.arguments(VoidSchema)
@blp.response(200, InvoiceSchema)
def void(body: dict[str, Any], invoice_id: uuid.UUID) -> Any:
    """Only an invoice with nothing paid or credited can be voided; a stale ``If-Match`` is
    409."""
    with unit_of_work() as uow:
        invoice = commands.void_invoice(uow, invoice_id, body["reason"], check_if_match)
        response = _answer(uow, invoice)
        uow.commit()
    return response


@blp.route("/invoices", methods=["GET"])
@blp.arguments(InvoiceQuery, location="query")
@blp.response(200, page_of(InvoiceSchema))
def list_invoices(args: dict[str, Any]) -> Any:
    """Invoices, newest first; ``customer_id``, ``number``, ``status`` and ``overdue=true``
    filters."""
    stmt = select(Invoice)
    if "number" in args:
        stmt = stmt.where(Invoice.number == args["number"].strip().upper())
    if "customer_id" in args:
        stmt = stmt.where(Invoice.customer_id == str(args["customer_id"]))
    if "status" in args:
        stmt = stmt.where(Invoice.status == args["status"])
    if args.get("overdue") is not None:
        late = Invoice.status.in_(OPEN_STATUSES) & (Invoice.due_date < today())
        stmt = stmt.where(late if args["overdue"] else ~late)
    with unit_of_work() as uow:
        return list_page(uow.session, stmt, INVOICES, args, partial(queries.invoice_views, uow))


@blp.route("/invoices/<uuid:invoice_id>", methods=["GET"])
@blp.arguments(DocumentQuery, location="query")
@blp.response(200, InvoiceDocumentSchema)
def get_invoice(args: dict[str, Any], invoice_id: uuid.UUID) -> Any:
    """The invoice; with ``include=pdf`` also its PDF, rendered from this same answer, so
    the figures and the document cannot disagree (what an invoice email is written from)."""
    if args.get("include") != "pdf":
        with unit_of_work() as uow:
            return _answer(uow, queries.invoice(uow, invoice_id))
    data, seller, language, version = _invoice_document(invoice_id)
    body = {**data, "pdf": base64.b64encode(invoice_pdf(data, seller, language)).decode()}
    return with_etag(json_response(body, 200), version)


def _invoice_document(invoice_id: uuid.UUID) -> tuple[dict[str, Any], Any, str, int]:
    """(the invoice as answered, the seller, the customer's language, its version), read in
    one transaction: what its PDF is rendered from."""
    with unit_of_work() as uow:
        invoice = queries.invoice(uow, invoice_id)
        data = InvoiceSchema().dump(queries.invoice_view(uow, invoice))
        seller = queries.company_or_none(uow)
        return data, seller, queries.customer_language(uow, invoice.customer_id), invoice.version


@blp.route("/invoices/<uuid:invoice_id>/pdf", methods=["GET"])
@blp.response(200, content_type="application/pdf", description="the invoice as a PDF")
def get_invoice_pdf(invoice_id: uuid.UUID) -> Any:
    """Bill-to, lines with tax notes, totals and the amount due, as a PDF."""
    data, seller, language, _version = _invoice_document(invoice_id)
    response = Response(invoice_pdf(data, seller, language), mimetype="application/pdf")
    name = data["number"] or f"draft-{invoice_id}"
    response.headers["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


# -- credit notes -------------------------------------------------------------------------


@blp.route("/credit-notes", methods=["POST"])
@requires("clerk")
@blp.arguments(CreditNoteCreateSchema)
@blp.response(201, CreditNoteSchema)
@backpressured
def create_credit_note(body: dict[str, Any]) -> Any:
    """Against an invoice: split over its tax rates pro rata, lowers amount_due (never below
    0), the excess becomes account credit. Standalone: all account credit."""
    with unit_of_work() as uow:

        def create() -> tuple[Any, int, dict[str, str]]:
            note = commands.create_credit_note(uow, body)
            answer = CreditNoteSchema().dump(queries.credit_note_view(uow, note))
            return answer, 201, {"Location": f"credit-notes/{note.id}"}

        return idempotent_create(uow, create)


@blp.route("/credit-notes", methods=["GET"])
@blp.arguments(CreditNoteQuery, location="query")
@blp.response(200, page_of(CreditNoteSchema))
def list_credit_notes(args: dict[str, Any]) -> Any:
    """Credit notes, newest first; ``customer_id`` and ``invoice_id`` filters; CSV."""
    stmt = select(CreditNote)
    if "customer_id" in args:
        stmt = stmt.where(CreditNote.customer_id == str(args["customer_id"]))
    if "invoice_id" in args:
        stmt = stmt.where(CreditNote.invoice_id == args["invoice_id"])
    with unit_of_work() as uow:
        views = partial(queries.credit_note_views, uow)
        return list_page(uow.session, stmt, CREDIT_NOTES, args, views)


@blp.route("/credit-notes/<uuid:credit_note_id>", methods=["GET"])
@blp.arguments(DocumentQuery, location="query")
@blp.response(200, CreditNoteDocumentSchema)
def get_credit_note(args: dict[str, Any], credit_note_id: uuid.UUID) -> Any:
    """The credit note; with ``include=pdf`` also its PDF, rendered from this same answer."""
    if args.get("include") != "pdf":
        with unit_of_work() as uow:
            return queries.credit_note_view(uow, queries.credit_note(uow, credit_note_id))
    data, customer, seller, language = _credit_note_document(credit_note_id)
    pdf = credit_note_pdf(data, customer, seller, language)
    return json_response({**data, "pdf": base64.b64encode(pdf).decode()}, 200)


def _credit_note_document(credit_note_id: uuid.UUID) -> tuple[dict[str, Any], Any, Any, str]:
    """(the credit note as answered, its customer, the seller, the customer's language),
    read in one transaction: what its PDF is rendered from."""
    with unit_of_work() as uow:
        note = queries.credit_note(uow, credit_note_id)
        data = CreditNoteSchema().dump(queries.credit_note_view(uow, note))
        customer = replica_customer(uow, customer_replica, uuid.UUID(note.customer_id))
        seller = queries.company_or_none(uow)
        language = queries.customer_language(uow, note.customer_id)
        return data, dict(customer.snapshot), seller, language


@blp.route("/credit-notes/<uuid:credit_note_id>/pdf", methods=["GET"])
@blp.response(200, content_type="application/pdf", description="the credit note as a PDF")
def get_credit_note_pdf(credit_note_id: uuid.UUID) -> Any:
    """The seller, the customer, the invoice it credits, net, tax and total, and what it
    took off the invoice or left as account credit, in the customer's language."""
    data, snapshot, seller, language = _credit_note_document(credit_note_id)
    pdf = credit_note_pdf(data, snapshot, seller, language)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{data["number"]}.pdf"'
    return response


# -- the company profile ------------------------------------------------------------------


@blp.route("/company", methods=["GET"])
@blp.response(200, CompanySchema)
def get_company() -> Any:
    """The seller every invoice, credit note and email names (version 0: not set yet);
    its ``ETag`` is the version, for ``If-Match`` on ``PUT``."""
    with unit_of_work() as uow:
        profile = queries.current_profile(uow)
    return with_etag(json_response(CompanySchema().dump(profile), 200), profile["version"])


@blp.route("/company", methods=["PUT"])
@requires("admin")
@blp.arguments(CompanyInput)
@blp.response(200, CompanySchema)
def put_company(body: dict[str, Any]) -> Any:
    """Replace the company profile; emits ``billing.company.updated``. With ``If-Match``
    naming another version than the current one: 409, nothing changed."""
    with unit_of_work() as uow:
        profile = commands.update_company(uow, body, check_if_match)
        uow.commit()
    return with_etag(json_response(CompanySchema().dump(profile), 200), profile["version"])


# -- accounts -----------------------------------------------------------------------------


@blp.route("/accounts", methods=["GET"])
@blp.arguments(AccountsQuery, location="query")
@blp.response(200, AccountsSchema)
def get_accounts(args: dict[str, Any]) -> Any:
    """Several customers' accounts from one read, each as ``GET /accounts/{customer_id}``
    answers it, with those of the invoices named by ``invoice_id`` that are its own (what
    notifier writes a round of emails from). A customer billing has not seen is left out of
    ``items``; an invoice that is none of the named customers' is 422."""
    with unit_of_work() as uow:
        currencies = queries.replica_currencies(uow, args["customer_id"])
        named = queries.invoices_by_customer(uow, list(currencies), args["invoice_id"])
        items = [
            queries.account_view(
                uow, customer_id, currency, named.get(customer_id, []),
                payments=args["invoice_payments"],
            )
            for customer_id, currency in currencies.items()
        ]  # fmt: skip
        return {"items": items}


@blp.route("/accounts/<uuid:customer_id>", methods=["GET"])
@blp.arguments(AccountQuery, location="query")
@blp.response(200, AccountSchema)
def get_account(args: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """Balance (positive: the customer owes), open and overdue totals, unapplied credit;
    with ``invoice_id`` (repeated) also those invoices of the customer as they stand, from
    the same read (what a receipt, reminder or notice is written from), without their
    payments if ``invoice_payments`` is false. An invoice that is not the customer's is
    422."""
    with unit_of_work() as uow:
        customer = replica_customer(uow, customer_replica, customer_id, in_path=True)
        invoices = queries.customer_invoices(uow, customer.id, args["invoice_id"])
        return queries.account_view(
            uow, customer.id, customer.currency, invoices, payments=args["invoice_payments"]
        )


@blp.route("/accounts/<uuid:customer_id>/transactions", methods=["GET"])
@blp.arguments(TransactionsQuery, location="query")
@blp.response(200, TransactionsSchema)
def transactions(args: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """The transaction history, oldest first, each with the balance after it. JSON is paged
    (``limit``, ``cursor``) with the balance before the page; ``?format=csv`` is the whole
    range."""
    with unit_of_work() as uow:
        customer = replica_customer(uow, customer_replica, customer_id, in_path=True)
        history = queries.transactions(uow, customer.id, customer.currency, args, whole=wants_csv())
    head = {
        "customer_id": customer.id,
        "currency": customer.currency,
        "opening_balance": from_minor(history.opening_minor, customer.currency),
    }
    return list_response(
        history.items, TransactionSchema, history.next_cursor, filename="transactions", body=head
    )


# -- jobs ---------------------------------------------------------------------------------


@blp.route("/jobs/overdue", methods=["POST"])
@requires("admin")
@blp.arguments(DryRunQuery, location="query")
@blp.arguments(OverdueJobSchema, required=False)
@blp.response(200, OverdueJobResult)
def overdue_job(query: dict[str, Any], body: dict[str, Any]) -> Any:
    """Emit billing.invoice.overdue once per invoice past due as of ``as_of`` (today or
    earlier); idempotent. ``dry_run`` (body or query) answers what would be flagged and
    changes nothing, and may look ahead."""
    dry_run = bool(query["dry_run"] or body.get("dry_run"))
    as_of = job_day(body.get("as_of"), dry_run)
    with unit_of_work() as uow:
        reported = commands.report_overdue(uow, as_of)
        if not dry_run:  # a dry run leaves the block without commit: all rolled back
            uow.commit()
    return {"as_of": as_of, "dry_run": dry_run, "reported": reported}
