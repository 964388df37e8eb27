"""A list costs the same number of queries whatever its page size: what each row needs
(an invoice's payments, a credit note's invoice number) is loaded once per page."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from services.billing.app import SERVICE as BILLING
from services.billing.models import Application, CreditNote, Invoice
from shared.config import load_settings
from tests.support.harness import SECRET, SignedClient

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ROWS = 6


def _invoice(n: int) -> Invoice:
    return Invoice(
        id=uuid.uuid4(),
        number=f"INV-2026-{n:06d}",
        customer_id="c-1",
        status="partially_paid",
        currency="EUR",
        issue_date=dt.date(2026, 3, 1),
        due_date=dt.date(2026, 3, 31),
        bill_to={"name": "Ann"},
        lines=[],
        requested_lines=[],
        subtotal_minor=10_000,
        tax_minor=0,
        total_minor=10_000,
        paid_minor=3_000,
        credited_minor=1_000,
        created_at=NOW + dt.timedelta(minutes=n),
        updated_at=NOW,
    )


def _applied(invoice: Invoice, source: str, kind: str, amount: int) -> Application:
    return Application(
        invoice_id=invoice.id,
        source_id=source,
        source_kind=kind,
        via_credit=False,
        amount_minor=amount,
        date=dt.date(2026, 3, 2),
        applied_at=NOW,
    )


@pytest.fixture(scope="module")
def billing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, SignedClient]]:
    data: Path = tmp_path_factory.mktemp("billing")
    settings = load_settings(
        "billing", {"TAMEIO_DATA_DIR": str(data), "TAMEIO_INTERNAL_SECRET": SECRET}
    )
    BILLING.migrate(settings)
    db = BILLING.database(settings)
    with db.unit_of_work() as uow:
        for n in range(ROWS):
            invoice = _invoice(n)
            note_id = uuid.uuid4()
            uow.session.add(invoice)
            uow.session.flush()
            uow.session.add_all(
                [
                    _applied(invoice, f"pay-{n}", "payment", 3_000),
                    _applied(invoice, str(note_id), "credit_note", 1_000),
                    CreditNote(
                        id=note_id,
                        number=f"CN-2026-{n:06d}",
                        customer_id="c-1",
                        invoice_id=invoice.id,
                        currency="EUR",
                        amount_minor=1_000,
                        lines=[],
                        applied_minor=1_000,
                        reason=None,
                        date=dt.date(2026, 3, 2),
                        created_at=NOW + dt.timedelta(minutes=n),
                    ),
                ]
            )
        uow.commit()
    yield db, SignedClient(BILLING.create_app(settings, db), role="viewer")
    db.dispose()


def _queries(billing: tuple[Any, SignedClient], path: str) -> tuple[int, dict[str, Any]]:
    db, client = billing
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        answer = client.get(path)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert answer.status_code == 200, answer.get_json()
    return len(statements), answer.get_json()


def test_a_page_of_invoices_loads_their_payments_in_one_query(billing):
    few, small = _queries(billing, "/invoices?limit=2")
    many, full = _queries(billing, f"/invoices?limit={ROWS}")

    assert len(small["items"]) == 2 and len(full["items"]) == ROWS
    assert many == few
    assert all(
        [p["payment_id"] for p in i["payments"]] == [f"pay-{i['number'][-1]}"]
        for i in full["items"]
    )


def test_a_page_of_credit_notes_loads_their_invoices_in_one_query(billing):
    few, small = _queries(billing, "/credit-notes?limit=2")
    many, full = _queries(billing, f"/credit-notes?limit={ROWS}")

    assert len(small["items"]) == 2 and len(full["items"]) == ROWS
    assert many == few
    assert [n["invoice_number"][-6:] for n in full["items"]] == [
        n["number"][-6:] for n in full["items"]
    ]
