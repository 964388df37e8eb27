"""HTTP routes of the billing service: invoices, credit notes, accounts, jobs."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Response
from sqlalchemy import func, select, true, tuple_

from services.billing import accounts, company
from services.billing.credit_notes import credit_note_snapshot
from services.billing.domain import net_of_gross, split_gross
from services.billing.models import (
    Application,
    CreditNote,
    Invoice,
    LedgerEntry,
    contract_replica,
    customer_replica,
    item_replica,
    tax_rates_replica,
)
from services.billing.pdf import credit_note_pdf, invoice_pdf
from services.billing.schemas import (
    AccountSchema,
    CompanyInput,
    CompanySchema,
    CreditNoteCreateSchema,
    CreditNoteQuery,
    CreditNoteSchema,
    DryRunQuery,
    InvoiceCreateSchema,
    InvoiceQuery,
    InvoiceSchema,
    OverdueJobResult,
    OverdueJobSchema,
    TransactionSchema,
    TransactionsQuery,
    TransactionsSchema,
    VoidSchema,
)
from shared.clock import today, utcnow
from shared.db import UnitOfWork
from shared.money import MoneyError, display_price, from_minor, to_minor
from shared.pricing import (
    DEFAULT_TAX_RATES,
    CatalogItem,
    Contract,
    LineRequest,
    PricingError,
    price_lines,
)
from shared.replicas import apply_snapshot
from shared.terms import due_date_for
from shared.web.auth import requires
from shared.web.backpressure import backpressured
from shared.web.blueprint import Blueprint
from shared.web.context import unit_of_work
from shared.web.inputs import job_day
from shared.web.lists import (
    csv_response,
    keyset_page,
    list_response,
    page_of,
    schema_columns,
    wants_csv,
)
from shared.web.lookups import fetch_owned, replica_customer
from shared.web.problems import Problem, conflict, invalid, not_found
from shared.web.schemas import LAST_DAY
from shared.web.writes import check_if_match, idempotent_create, json_response, with_etag

blp = Blueprint(
    "billing",
    __name__,
    description="Invoices, credit notes and customer accounts",
    template_folder="templates",
)
CENT = Decimal("0.01")


# -- replicas -----------------------------------------------------------------------------


def _customer(uow: UnitOfWork, customer_id: uuid.UUID, *, in_path: bool = False) -> Any:
    return replica_customer(uow, customer_replica, customer_id, in_path=in_path)


def _language(uow: UnitOfWork, customer_id: str) -> str:
    """The language the customer's documents are written in (``en`` if unknown)."""
    row = uow.session.execute(
        select(customer_replica.c.snapshot).where(customer_replica.c.id == str(customer_id))
    ).first()
    return str((row.snapshot if row is not None else {}).get("language") or "en")


def _tax_rates(uow: UnitOfWork) -> dict[str, Decimal]:
    row = uow.session.execute(select(tax_rates_replica.c.snapshot)).first()
    rates = dict(DEFAULT_TAX_RATES)
    if row is not None:
        rates.update({code: Decimal(rate) for code, rate in row.snapshot["rates"].items()})
    return rates


def price(uow: UnitOfWork, customer: Any, lines: list[dict[str, Any]], on: dt.date) -> Any:
    """Price requested lines from billing's replicas with the one pricing rule."""
    skus = {line["sku"] for line in lines}
    items = {
        row.id: CatalogItem.from_snapshot(row.snapshot)
        for row in uow.session.execute(select(item_replica).where(item_replica.c.id.in_(skus)))
    }
    for sku in sorted(skus - items.keys()):
        fetched = fetch_owned("contracts", f"/items/{quote(sku, safe='')}")
        if fetched is not None:
            apply_snapshot(uow, item_replica, sku, 0, {"snapshot": fetched})
            items[sku] = CatalogItem.from_snapshot(fetched)
    contracts = [
        Contract.from_snapshot(_dated(row.snapshot))
        for row in uow.session.execute(
            select(contract_replica).where(contract_replica.c.customer_id == customer.id)
        )
    ]
    requests = [
        LineRequest(
            line["sku"],
            Decimal(str(line["quantity"])),
            None if line.get("unit_price") is None else Decimal(str(line["unit_price"])),
            line.get("description"),
        )
        for line in lines
    ]
    try:
        return price_lines(
            requests,
            currency=customer.currency,
            on=on,
            items=items,
            contracts=contracts,
            tax_rates=_tax_rates(uow),
        )
    except PricingError as exc:
        raise Problem(422, str(exc), errors={exc.field: [exc.message]}) from None


def _dated(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A contract snapshot from JSON with its dates as dates."""
    out = dict(snapshot)
    for key in ("valid_from", "valid_to", "terminated_on"):
        if out.get(key):
            out[key] = dt.date.fromisoformat(out[key])
    return out


def _apply_pricing(invoice: Invoice, priced: Any) -> None:
    c = priced.currency
    invoice.contract_id = priced.contract_id
    invoice.lines = [
        {
            "sku": line.sku,
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_price": str(display_price(line.unit_price, c)),
            "discount_percent": str(line.discount_percent.quantize(CENT)),
            "net_amount": str(line.net_amount),
            "tax_rate": str(line.tax_rate.quantize(CENT)),
            "tax_amount": str(line.tax_amount),
            "tax_note": line.tax_note,
        }
        for line in priced.lines
    ]
    invoice.subtotal_minor = to_minor(priced.subtotal, c)
    invoice.tax_minor = to_minor(priced.tax_total, c)
    invoice.total_minor = to_minor(priced.total, c)


def _bill_to(customer: Any) -> dict[str, Any]:
    snapshot = customer.snapshot
    return {
        "name": snapshot["name"],
        "email": snapshot.get("email"),
        "tax_id": snapshot.get("tax_id"),
        "billing_address": snapshot.get("billing_address"),
    }


def _invoice(uow: UnitOfWork, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice:
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    invoice = uow.session.execute(
        stmt.with_for_update() if for_update else stmt
    ).scalar_one_or_none()
    if invoice is None:
        raise not_found(f"invoice {invoice_id}")
    return invoice


def _dates(customer: Any, issue: dt.date | None, due: dt.date | None) -> tuple[dt.date, dt.date]:
    issue = issue or today()
    if due is None:
        try:
            due = due_date_for(customer.payment_terms, issue)
        except OverflowError:
            due = dt.date.max
        if due > LAST_DAY:
            raise invalid(
                "issue_date",
                f"under payment terms {customer.payment_terms} the due date would fall after "
                f"{LAST_DAY}",
            )
    if due < issue:
        raise invalid("due_date", f"{due} is before the issue date {issue}")
    return issue, due


def _answer(uow: UnitOfWork, invoice: Invoice, status: int = 200) -> Any:
    return with_etag(
        json_response(InvoiceSchema().dump(accounts.invoice_snapshot(uow, invoice)), status),
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
            customer = _customer(uow, body["customer_id"])
            if customer.status == "archived":
                raise conflict(f"customer {customer.number} is archived")
            issue, due = _dates(customer, body["issue_date"], body["due_date"])
            requested = [
                {
                    **line,
                    "quantity": str(line["quantity"]),
                    "unit_price": None if line["unit_price"] is None else str(line["unit_price"]),
                }
                for line in body["lines"]
            ]
            priced = price(uow, customer, requested, issue)
            now = utcnow()
            invoice = Invoice(
                id=uuid.uuid4(),
                customer_id=customer.id,
                status="draft",
                currency=customer.currency,
                requested_issue_date=body["issue_date"],
                requested_due_date=body["due_date"],
                bill_to=_bill_to(customer),
                requested_lines=requested,
                paid_minor=0,
                credited_minor=0,
                notes=body["notes"],
                notify=body["notify"],
                created_at=now,
                updated_at=now,
            )
            _apply_pricing(invoice, priced)
            uow.session.add(invoice)
            uow.session.flush()
            if not body["draft"]:
                accounts.issue_invoice(uow, invoice, issue, due)
            uow.session.flush()
            answer = InvoiceSchema().dump(accounts.invoice_snapshot(uow, invoice))
            return (
                answer,
                201,
                {"Location": f"invoices/{invoice.id}", "ETag": f'"{invoice.version}"'},
            )

        return idempotent_create(uow, create)


@blp.route("/invoices/<uuid:invoice_id>/issue", methods=["POST"])
@requires("clerk")
@blp.response(200, InvoiceSchema)
@backpressured
def issue_draft(invoice_id: uuid.UUID) -> Any:
    """A draft is re-priced, dated (today unless it has an issue_date), numbered and posted;
    a stale ``If-Match`` is 409."""
    with unit_of_work() as uow:
        invoice = _invoice(uow, invoice_id, for_update=True)
        check_if_match(invoice.version)
        if invoice.status != "draft":
            raise conflict(
                f"invoice {invoice.number or invoice.id} is {invoice.status}, not a draft"
            )
        customer = _customer(uow, uuid.UUID(invoice.customer_id))
        if customer.status == "archived":
            raise conflict(f"customer {customer.number} is archived")
        issue, due = _dates(customer, invoice.requested_issue_date, invoice.requested_due_date)
        _apply_pricing(invoice, price(uow, customer, invoice.requested_lines, issue))
        invoice.bill_to = _bill_to(customer)
        accounts.issue_invoice(uow, invoice, issue, due)
        uow.session.flush()
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
        invoice = _invoice(uow, invoice_id, for_update=True)
        check_if_match(invoice.version)
        if invoice.status == "void":
            raise conflict("the invoice is already void")
        if invoice.paid_minor or invoice.credited_minor:
            raise conflict("the invoice has payments or credits applied: credit it instead")
        accounts.void_invoice(uow, invoice, body["reason"], today())
        uow.session.flush()
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
        late = Invoice.status.in_(accounts.OPEN_STATUSES) & (Invoice.due_date < today())
        stmt = stmt.where(late if args["overdue"] else ~late)
    with unit_of_work() as uow:
        rows, next_cursor = keyset_page(
            uow.session,
            stmt,
            [Invoice.created_at, Invoice.id],
            lambda i: [i.created_at, i.id],
            limit=args["limit"],
            cursor=args["cursor"],
            descending=True,
        )
        items = [accounts.invoice_snapshot(uow, row) for row in rows]
    return list_response(items, InvoiceSchema, next_cursor, filename="invoices")


@blp.route("/invoices/<uuid:invoice_id>", methods=["GET"])
@blp.response(200, InvoiceSchema)
def get_invoice(invoice_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        return _answer(uow, _invoice(uow, invoice_id))


@blp.route("/invoices/<uuid:invoice_id>/pdf", methods=["GET"])
@blp.response(200, content_type="application/pdf", description="the invoice as a PDF")
def get_invoice_pdf(invoice_id: uuid.UUID) -> Any:
    """Bill-to, lines with tax notes, totals and the amount due, as a PDF."""
    with unit_of_work() as uow:
        invoice = _invoice(uow, invoice_id)
        data = InvoiceSchema().dump(accounts.invoice_snapshot(uow, invoice))
        seller = company.company_or_none(uow)
        language = _language(uow, invoice.customer_id)
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
            customer = _customer(uow, body["customer_id"])
            currency = customer.currency
            try:
                amount = to_minor(body["amount"], currency)
            except MoneyError as exc:
                raise invalid("amount", str(exc)) from None
            invoice = None
            if body["invoice_id"] is not None:
                invoice = uow.session.execute(
                    select(Invoice).where(Invoice.id == body["invoice_id"]).with_for_update()
                ).scalar_one_or_none()
                if invoice is None or invoice.customer_id != customer.id:
                    raise invalid("invoice_id", f"no invoice {body['invoice_id']} of this customer")
                if invoice.status in ("draft", "void"):
                    raise conflict(f"a {invoice.status} invoice cannot be credited")
                if amount > invoice.total_minor - invoice.credited_minor:
                    raise invalid("amount", "more than the invoice's total not yet credited")
                weights: dict[Decimal, int] = {}
                for line in invoice.lines:
                    gross = to_minor(
                        Decimal(line["net_amount"]) + Decimal(line["tax_amount"]), currency
                    )
                    rate = Decimal(line["tax_rate"])
                    weights[rate] = weights.get(rate, 0) + gross
                parts = split_gross(amount, sorted(weights.items()))
            else:
                parts = [(body["tax_rate"] or Decimal(0), amount)]
            lines = []
            for rate, gross in parts:
                net = net_of_gross(gross, rate)
                lines.append(
                    {
                        "tax_rate": str(rate.quantize(CENT)),
                        "net_amount": str(from_minor(net, currency)),
                        "tax_amount": str(from_minor(gross - net, currency)),
                    }
                )
            day = body["date"] or today()
            seq = uow.next_number(f"credit_note_number:{day.year}")
            note = CreditNote(
                id=uuid.uuid4(),
                number=f"CN-{day.year}-{seq:06d}",
                customer_id=customer.id,
                invoice_id=invoice.id if invoice else None,
                currency=currency,
                amount_minor=amount,
                lines=lines,
                applied_minor=0,
                reason=body["reason"],
                date=day,
                created_at=utcnow(),
            )
            uow.session.add(note)
            uow.session.flush()
            accounts.credit(uow, note, invoice, notify=body["notify"])
            answer = CreditNoteSchema().dump(credit_note_snapshot(uow, note))
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
        rows, next_cursor = keyset_page(
            uow.session,
            stmt,
            [CreditNote.created_at, CreditNote.id],
            lambda n: [n.created_at, n.id],
            limit=args["limit"],
            cursor=args["cursor"],
            descending=True,
        )
        items = [credit_note_snapshot(uow, row) for row in rows]
    return list_response(items, CreditNoteSchema, next_cursor, filename="credit-notes")


def payment_allocations(
    uow: UnitOfWork, payment_ids: list[str], currency: str
) -> dict[str, list[dict[str, Any]]]:
    """Per payment, the invoices it pays now (directly or through its leftover credit; a
    reversal removes them), with their numbers and amounts, oldest application first."""
    if not payment_ids:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for application, number in uow.session.execute(
        select(Application, Invoice.number)
        .join(Invoice, Invoice.id == Application.invoice_id)
        .where(
            Application.source_id.in_(payment_ids),
            Application.source_kind == "payment",
            Application.removed_at.is_(None),
        )
        .order_by(Application.id)
    ):
        found.setdefault(application.source_id, []).append(
            {
                "invoice_id": str(application.invoice_id),
                "invoice_number": number,
                "amount": from_minor(application.amount_minor, currency),
                "date": application.date,
            }
        )
    return found


def _credit_note(uow: UnitOfWork, credit_note_id: uuid.UUID) -> CreditNote:
    note = uow.session.get(CreditNote, credit_note_id)
    if note is None:
        raise not_found(f"credit note {credit_note_id}")
    return note


@blp.route("/credit-notes/<uuid:credit_note_id>", methods=["GET"])
@blp.response(200, CreditNoteSchema)
def get_credit_note(credit_note_id: uuid.UUID) -> Any:
    with unit_of_work() as uow:
        return credit_note_snapshot(uow, _credit_note(uow, credit_note_id))


@blp.route("/credit-notes/<uuid:credit_note_id>/pdf", methods=["GET"])
@blp.response(200, content_type="application/pdf", description="the credit note as a PDF")
def get_credit_note_pdf(credit_note_id: uuid.UUID) -> Any:
    """The seller, the customer, the invoice it credits, net, tax and total, and what it
    took off the invoice or left as account credit, in the customer's language."""
    with unit_of_work() as uow:
        note = _credit_note(uow, credit_note_id)
        data = CreditNoteSchema().dump(credit_note_snapshot(uow, note))
        customer = _customer(uow, uuid.UUID(note.customer_id))
        snapshot = dict(customer.snapshot)
        seller = company.company_or_none(uow)
        language = _language(uow, note.customer_id)
    pdf = credit_note_pdf(data, snapshot, seller, language)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{data["number"]}.pdf"'
    return response


# -- the company profile ------------------------------------------------------------------


@blp.route("/company", methods=["GET"])
@blp.response(200, CompanySchema)
def get_company() -> Any:
    """The seller every invoice, credit note and email names (version 0: not set yet)."""
    with unit_of_work() as uow:
        return company.current_profile(uow)


@blp.route("/company", methods=["PUT"])
@requires("admin")
@blp.arguments(CompanyInput)
@blp.response(200, CompanySchema)
def put_company(body: dict[str, Any]) -> Any:
    """Replace the company profile; emits ``billing.company.updated``."""
    with unit_of_work() as uow:
        profile = company.update_profile(uow, body)
        uow.commit()
    return profile


# -- accounts -----------------------------------------------------------------------------


@blp.route("/accounts/<uuid:customer_id>", methods=["GET"])
@blp.response(200, AccountSchema)
def get_account(customer_id: uuid.UUID) -> Any:
    """Balance (positive: the customer owes), open and overdue totals, unapplied credit."""
    with unit_of_work() as uow:
        customer = _customer(uow, customer_id, in_path=True)
        return accounts.account_summary(uow, customer.id, customer.currency, today())


@blp.route("/accounts/<uuid:customer_id>/transactions", methods=["GET"])
@blp.arguments(TransactionsQuery, location="query")
@blp.response(200, TransactionsSchema)
def transactions(args: dict[str, Any], customer_id: uuid.UUID) -> Any:
    """The transaction history, oldest first, each with the balance after it. JSON is paged
    (``limit``, ``cursor``) with the balance before the page; ``?format=csv`` is the whole
    range."""
    with unit_of_work() as uow:
        customer = _customer(uow, customer_id, in_path=True)
        currency = customer.currency
        mine = LedgerEntry.customer_id == customer.id
        stmt = select(LedgerEntry).where(mine)
        if args["from_"]:
            stmt = stmt.where(LedgerEntry.date >= args["from_"])
        if args["to"]:
            stmt = stmt.where(LedgerEntry.date <= args["to"])
        next_cursor = None
        if wants_csv():
            rows = list(
                uow.session.execute(stmt.order_by(LedgerEntry.date, LedgerEntry.id)).scalars()
            )
        else:
            rows, next_cursor = keyset_page(
                uow.session,
                stmt,
                [LedgerEntry.date, LedgerEntry.id],
                lambda e: [e.date, e.id],
                limit=args["limit"],
                cursor=args["cursor"],
            )
        if rows:
            before = tuple_(LedgerEntry.date, LedgerEntry.id) < tuple_(rows[0].date, rows[0].id)
        elif args["from_"]:
            before = LedgerEntry.date < args["from_"]
        else:
            before = true()
        opening = int(
            uow.session.execute(
                select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(mine, before)
            ).scalar_one()
        )
        running = opening
        items = []
        allocations = payment_allocations(
            uow, [e.payment_id for e in rows if e.type == "payment" and e.payment_id], currency
        )
        for entry in rows:
            running += entry.amount_minor
            items.append(
                {
                    "date": entry.date,
                    "type": entry.type,
                    "reference": entry.reference,
                    "amount": from_minor(entry.amount_minor, currency),
                    "balance_after": from_minor(running, currency),
                    "invoice_id": entry.invoice_id,
                    "payment_id": entry.payment_id,
                    "allocations": allocations.get(entry.payment_id or "", [])
                    if entry.type == "payment"
                    else [],
                }
            )
    if wants_csv():
        dumped = TransactionSchema(many=True).dump(items)
        return csv_response(dumped, "transactions", schema_columns(TransactionSchema()))
    return {
        "customer_id": customer.id,
        "currency": currency,
        "opening_balance": from_minor(opening, currency),
        "items": items,
        "next_cursor": next_cursor,
    }


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
    from services.billing.jobs import report_overdue

    dry_run = bool(query["dry_run"] or body.get("dry_run"))
    as_of = job_day(body.get("as_of"), dry_run)
    with unit_of_work() as uow:
        reported = report_overdue(uow, as_of)
        if not dry_run:  # a dry run leaves the block without commit: all rolled back
            uow.commit()
    return {"as_of": as_of, "dry_run": dry_run, "reported": reported}
