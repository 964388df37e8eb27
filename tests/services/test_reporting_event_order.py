"""Reports do not depend on the order events arrive in, nor on an event arriving twice (the
same envelope id): every report built from a shuffled, duplicated delivery of billing's
events equals the one built from the events in the order they were written."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from services.reporting.models import LoggedEvent
from shared.clock import today
from shared.messaging.consumer import Outcome
from tests.services.test_reporting_support import (
    Books,
    Reporting,
    fresh_reporting,
    kept_figures,
    open_books,
    report_snapshot,
)
from tests.support.events import dead_letter_rows

DATES = [
    dt.date(2026, 3, 1),
    dt.date(2026, 3, 15),
    dt.date(2026, 4, 11),
    dt.date(2026, 4, 26),
    dt.date(2026, 5, 31),
    today(),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def books(service_factory: Any, request: pytest.FixtureRequest) -> Iterator[Books]:
    with open_books(service_factory, reporting_on=request.param) as opened:
        yield opened


def run_history(books: Books, with_void: bool) -> None:
    """Two customers: invoices, payments (to one invoice, split, over), credit notes (on an
    invoice and standalone), a reversal, a refund, credit used by a later invoice, a rename;
    and, if asked, a voided invoice. Reporting gets every event as soon as it is written."""
    billing = books.billing
    first = books.customer("Ordered Ltd")
    second = books.customer("Second Ltd")
    one = books.invoice(first, ("WIDGET", "1"), issue_date=dt.date(2026, 3, 2))
    two = books.invoice(first, ("BOOK", "3"), issue_date=dt.date(2026, 3, 20))
    three = books.invoice(first, ("FLAT", "1"), issue_date=dt.date(2026, 4, 5))
    books.invoice(second, ("WIDGET", "2"), issue_date=dt.date(2026, 3, 5))
    if with_void:
        books.void(books.invoice(second, ("FLAT", "1"), issue_date=dt.date(2026, 3, 6))["id"])
    billing.pay(first, "50.00", on=dt.date(2026, 3, 10), invoice_id=one["id"])
    split = billing.pay(
        first,
        "200.00",
        on=dt.date(2026, 4, 10),
        allocations=[(two["id"], "30.00"), (three["id"], "50.00")],
    )
    books.credit_note(first, "10.00", dt.date(2026, 4, 12), invoice_id=one["id"])
    books.credit_note(first, "15.00", dt.date(2026, 4, 15), tax_rate="24.00")
    billing.pay(first, "500.00", on=dt.date(2026, 4, 20))
    billing.pay(second, "100.00", on=dt.date(2026, 3, 30))
    billing.reverse(split, first, on=dt.date(2026, 4, 25))
    billing.refund(first, "20.00", on=dt.date(2026, 4, 28))
    books.invoice(first, ("WIDGET", "1"), issue_date=dt.date(2026, 5, 2))
    billing.customer_updated(first, name="Ordered Group")
    books.sync()


def deliver_all(
    books: Books, order: list[str], label: str, batch: int = 1
) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    """Reports of a fresh reporting service fed ``order`` (``batch`` messages to a
    transaction, as a busy consumer takes them), [how many events its inbox holds, what it
    did with each message], and its read models' rows."""
    with fresh_reporting(books.reporting, label) as reporting:
        outcomes = []
        for start in range(0, len(order), batch):
            outcomes += reporting.processor.process_batch(order[start : start + batch])
        # An event that came too early (a void before its invoice) waits as a retry; its
        # copy may meanwhile have been applied, so what counts is the inbox: each event in
        # it once, and no retry left.
        reporting.retry_now()
        db = reporting.sut.db
        with db.engine.connect() as conn:
            applied = conn.execute(select(func.count()).select_from(db.tables.inbox)).scalar()
            waiting = conn.execute(select(func.count()).select_from(db.tables.retries)).scalar()
        outcomes = [o for o in outcomes if o is not Outcome.RETRY]
        assert waiting == 0, label
        return report_snapshot(reporting, DATES), [applied, outcomes], kept_figures(reporting)


@pytest.mark.parametrize("with_void", [False, True], ids=["no_void", "with_void"])
def test_events_in_any_order_and_delivered_twice_give_identical_reports(books, with_void):
    run_history(books, with_void)
    written = list(books.forwarded)
    expected = report_snapshot(books.reporting, DATES)
    assert expected["outstanding"]["items"], "the history leaves something owed"

    rng = random.Random(20260302)
    orders = {"reversed": list(reversed(written))}
    for attempt in range(3):
        copies = written + rng.sample(written, k=len(written) // 3)
        rng.shuffle(copies)
        orders[f"shuffled {attempt}"] = copies
    kept = kept_figures(books.reporting)
    for label, order in orders.items():
        snapshot, (applied, outcomes), figures = deliver_all(books, order, label.replace(" ", "-"))
        assert applied == len(written), label  # each event applied exactly once
        assert outcomes.count(Outcome.APPLIED) <= len(written), label
        assert snapshot == expected, label
        # The figures kept from movements too (settled amounts, day balances), though they
        # were written in another order.
        assert figures == kept, label


def test_events_applied_in_batches_give_the_same_reports_and_figures(books):
    run_history(books, with_void=False)
    written = list(books.forwarded)
    expected, kept = report_snapshot(books.reporting, DATES), kept_figures(books.reporting)

    rng = random.Random(20260303)
    copies = written + rng.sample(written, k=len(written) // 3)
    rng.shuffle(copies)
    snapshot, (applied, _outcomes), figures = deliver_all(books, copies, "batches", batch=7)

    assert applied == len(written)
    assert snapshot == expected
    assert figures == kept


def test_an_event_delivered_again_with_the_same_id_is_a_duplicate_and_changes_nothing(books):
    run_history(books, with_void=True)
    before = report_snapshot(books.reporting, DATES)

    again = [books.reporting.deliver(body) for body in books.forwarded]

    assert set(again) == {Outcome.DUPLICATE}
    assert report_snapshot(books.reporting, DATES) == before


def test_a_void_delivered_before_its_invoice_still_takes_the_invoice_out_of_the_reports(books):
    customer = books.customer("Void First Ltd")
    invoice = books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))
    books.void(invoice["id"])
    bodies = books.pending()
    types = [json.loads(body)["type"] for body in bodies]
    voided = bodies[types.index("billing.invoice.voided")]
    # Too early: reporting has not seen the invoice, so the void waits for it (a retry).
    assert books.reporting.deliver(voided) is Outcome.RETRY
    for body in (b for b in bodies if b is not voided):
        sent = json.loads(body)
        ignored = (sent["type"], sent["version"]) == ("billing.invoice.updated", 1)
        expected = Outcome.IGNORED if ignored else Outcome.APPLIED
        assert books.reporting.deliver(body) is expected
    assert books.reporting.retry_now() == 1

    as_of = today().isoformat()
    aging = books.reporting.row("aging", customer, as_of=as_of)
    assert aging is None, aging
    outstanding = books.reporting.row("outstanding", customer, as_of=as_of)
    assert outstanding is None, outstanding
    revenue = books.reporting.report("revenue", **{"from": "2026-01-01", "to": as_of})
    assert [row for row in revenue["items"] if row["customer_id"] == customer] == []


def test_events_applied_by_concurrent_transactions_keep_the_same_figures(service_factory):
    """On PostgreSQL two consumers (or a consumer and the retry runner) may apply events at
    the same time: the figures kept from movements (read, then written) must come out as when
    the events come one at a time."""
    with open_books(service_factory, reporting_on="postgresql") as books:
        run_history(books, with_void=False)
        written = list(books.forwarded)
        kept = kept_figures(books.reporting)
        other = Reporting(service_factory("reporting"))
        order = random.Random(7).sample(written, len(written))
        lanes = [order[lane::4] for lane in range(4)]
        start = threading.Barrier(len(lanes))

        def deliver(lane: list[str]) -> list[Outcome]:
            start.wait()
            return [other.deliver(body) for body in lane]

        with ThreadPoolExecutor(len(lanes)) as pool:
            outcomes = [outcome for lane in pool.map(deliver, lanes) for outcome in lane]
        assert set(outcomes) == {Outcome.APPLIED}
        assert kept_figures(other) == kept


def test_version_1_of_an_invoice_update_is_acked_and_neither_logged_nor_parked(books):
    """Billing publishes an invoice's update in version 2 and, for outside subscribers, in
    version 1 beside it, which lists every payment of the invoice: reporting keeps version 2
    alone, so a payment costs the same however many came before it (decision 89)."""
    customer = books.customer("Versions Ltd")
    invoice = books.priced_invoice(customer, "100.00", dt.date(2026, 3, 2))
    books.sync()
    books.billing.pay(customer, "40.00", on=dt.date(2026, 3, 10), invoice_id=invoice["id"])
    sent = {json.loads(body)["id"]: json.loads(body) for body in books.pending()}
    updates = {e["version"]: e["id"] for e in sent.values() if e["type"].endswith(".updated")}
    assert set(updates) == {1, 2}

    outcomes = {
        event_id: books.reporting.deliver(body)
        for event_id, body in ((e, json.dumps(sent[e])) for e in sent)
    }

    assert outcomes.pop(updates[1]) is Outcome.IGNORED
    assert set(outcomes.values()) == {Outcome.APPLIED}
    sut = books.reporting.sut
    logged = {row.event_id for row in sut.rows(LoggedEvent.__table__)}
    assert updates[2] in logged and updates[1] not in logged
    assert set(outcomes) <= logged
    assert dead_letter_rows(sut) == []
