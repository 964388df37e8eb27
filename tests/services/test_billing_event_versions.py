"""billing.invoice.updated in two versions: version 2 without the payments (its size does
not grow with the invoice's history), version 1 beside it while legacy versions are on."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from types import SimpleNamespace

from sqlalchemy import select, update

from services.billing import commands, events, queries
from services.billing.models import Application, Invoice, PaymentsListed
from shared.events import spec_for
from tests.services.test_billing_support import Billing


def updates_after(billing: Billing, mark: int) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for event in billing.events("billing.invoice.updated", after=mark):
        found.setdefault(event["version"], []).append(event["data"])
    return found


def test_an_update_goes_out_in_both_versions_the_second_without_payments(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "1"))
    mark = billing.mark()

    billing.pay(customer, "50.00", invoice_id=invoice["id"])

    updates = updates_after(billing, mark)
    (first,), (second,) = updates[1], updates[2]
    assert [p["amount"] for p in first["payments"]] == ["50.00"]
    assert "payments" not in second
    assert {k: v for k, v in first.items() if k != "payments"} == second
    assert billing.get_invoice(invoice["id"])["payments"][0]["amount"] == "50.00"  # API keeps it


def test_without_legacy_versions_only_version_2_and_it_stays_the_same_size(billing):
    billing.sut.db.legacy_event_versions = False
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "10"))  # 1,240.00
    sizes = []
    for _ in range(5):
        mark = billing.mark()
        billing.pay(customer, "10.00", invoice_id=invoice["id"])
        updates = updates_after(billing, mark)
        assert list(updates) == [2]
        sizes.append(len(json.dumps(updates[2][0], sort_keys=True)))

    assert max(sizes) - min(sizes) <= 2  # only the amounts' digits may differ


def test_version_1_payments_from_the_database_are_what_the_dumper_writes(billing):
    # On PostgreSQL the payment path reads version 1's list of payments already in its wire
    # form; it must be exactly the catalog dumper's, in any currency's places and for an
    # instant with or without microseconds.
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "10"))
    for amount in ("10.00", "0.07", "123.45"):
        billing.pay(customer, amount, invoice_id=invoice["id"])
    invoice_id = uuid.UUID(invoice["id"])
    with billing.sut.db.engine.begin() as conn:
        ids = (
            conn.execute(
                select(Application.id)
                .where(Application.invoice_id == invoice_id)
                .order_by(Application.id)
            )
            .scalars()
            .all()
        )
        whole_second = dt.datetime(2026, 3, 2, 9, 30, 0, tzinfo=dt.UTC)
        conn.execute(
            update(Application).where(Application.id == ids[0]).values(applied_at=whole_second)
        )
        one_micro = dt.datetime(2026, 3, 2, 23, 59, 59, 1, tzinfo=dt.UTC)
        conn.execute(
            update(Application).where(Application.id == ids[1]).values(applied_at=one_micro)
        )

    dumper = spec_for("billing.invoice.updated", 1).dumper
    with billing.sut.db.unit_of_work() as uow:
        row = uow.session.get(Invoice, invoice_id)
        applications = queries.active_applications(uow, [invoice_id])[invoice_id]
        for currency in ("EUR", "JPY", "KWD"):
            figures = SimpleNamespace(**{**row.__dict__, "currency": currency})
            snapshot = events.invoice_snapshot(figures, applications, dt.date(2026, 3, 3))
            expected = dumper.dump(snapshot)["payments"]
            wire = commands.payments_wire(uow, [invoice_id], currency)[str(invoice_id)].value()
            assert wire == expected, currency
    # Both kinds of instant were compared: a whole second, and one microsecond past one.
    assert [p["applied_at"] for p in wire[:2]] == [
        "2026-03-02T09:30:00Z",
        "2026-03-02T23:59:59.000001Z",
    ]
    assert [p["amount"] for p in wire] == ["1.000", "0.007", "12.345"]  # KWD: three places


def expected_payments(billing: Billing, invoice_id: str) -> list[dict]:
    """Version 1's list of payments as the catalog's dumper writes it from the applications."""
    dumper = spec_for("billing.invoice.updated", 1).dumper
    with billing.sut.db.unit_of_work() as uow:
        row = uow.session.get(Invoice, uuid.UUID(invoice_id))
        applications = queries.active_applications(uow, [row.id])[row.id]
        snapshot = events.invoice_snapshot(row, applications, dt.date(2026, 3, 3))
        return dumper.dump(snapshot)["payments"]


def last_listed(billing: Billing, mark: int, invoice_id: str) -> list[dict]:
    (*_, last) = [u for u in updates_after(billing, mark)[1] if u["id"] == invoice_id]
    return last["payments"]


def kept(billing: Billing, invoice_id: str) -> list[dict] | None:
    with billing.sut.db.engine.connect() as conn:
        found = conn.execute(
            select(PaymentsListed.payments).where(
                PaymentsListed.invoice_id == uuid.UUID(invoice_id)
            )
        ).scalar()
    return None if found is None else json.loads(found)


def test_the_kept_list_of_payments_is_the_whole_list_whatever_happened_before(billing):
    # The payment path appends each payment to the invoice's kept list instead of writing
    # all of them again; a reversal, credit applied or payments while version 1 was off
    # leave it incomplete, so it is dropped then and written whole at the next payment.
    customer = billing.customer()
    first = billing.pay(customer, "30.00")  # nothing open: all of it credit
    invoice = billing.invoice(customer, ("WIDGET", "10"))["id"]  # the credit pays 30.00
    assert kept(billing, invoice) is None
    steps: list[tuple[str, object]] = [
        ("pay", "10.00"),  # written whole: the credit's application and this payment
        ("pay", "0.07"),  # appended
        ("pay", "5.00"),
        ("reverse", 1),  # the second payment (0.07) reversed: dropped
        ("pay", "2.00"),  # written whole again
        ("legacy off", None),
        ("pay", "3.00"),  # not listed, and the kept list dropped
        ("legacy on", None),
        ("pay", "4.00"),
    ]
    paid: list[str] = []
    for step, value in steps:
        mark = billing.mark()
        if step == "pay":
            paid.append(billing.pay(customer, str(value), invoice_id=invoice))
        elif step == "reverse":
            assert billing.reverse(paid[int(str(value))], customer) is not None
        else:
            billing.sut.db.legacy_event_versions = step == "legacy on"
            continue
        if billing.sut.db.legacy_event_versions and step == "pay":
            listed = last_listed(billing, mark, invoice)
            assert listed == expected_payments(billing, invoice), (step, value)
            assert kept(billing, invoice) == listed
        elif step == "pay":
            assert kept(billing, invoice) is None
        else:
            assert kept(billing, invoice) is None, "dropped by the reversal"

    amounts = [p["amount"] for p in expected_payments(billing, invoice)]
    assert amounts == ["30.00", "10.00", "5.00", "2.00", "3.00", "4.00"]
    assert first in [p["payment_id"] for p in expected_payments(billing, invoice)]


def test_the_kept_lists_and_the_outbox_are_compressed_with_lz4(billing):
    # Rewritten at each payment, or written once and large: pglz cost three times what
    # lz4 does, for about the same size.
    with billing.sut.db.engine.connect() as conn:
        methods = conn.exec_driver_sql(
            "SELECT attrelid::regclass::text, attcompression FROM pg_attribute"
            " WHERE (attrelid, attname) IN"
            " (('payments_listed'::regclass, 'payments'), ('outbox'::regclass, 'payload'))"
        ).all()
    assert sorted(methods) == [("outbox", "l"), ("payments_listed", "l")]
