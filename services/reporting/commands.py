"""Read models from events: one function per event type, used alike by the consumer (one
event at a time, :func:`project`) and by the rebuild (the whole log in one transaction,
:func:`rebuild_read_models`).

What each event means for the read models is said once, in the projection functions; how it
is written is the :class:`Projection`'s business. Besides the rows the events give, two kinds
of figures are kept from the movements so that reports as of a date need not add up every
movement: per invoice what its applied and unapplied movements settled and their first and
last dates (``rp_invoices``), and per customer and currency the balance at the end of each day
that has account movements (``rp_day_balances``) and in all (``rp_balances``).
Both depend only on the set of movements, never on the order they arrived in.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Table,
    TextClause,
    Update,
    and_,
    bindparam,
    case,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from services.reporting.models import (
    ACCOUNT_KINDS,
    INVOICE_KINDS,
    DayBalance,
    LoggedEvent,
    Movement,
    ReportBalance,
    ReportCustomer,
    ReportInvoice,
    kind_in,
)
from shared.db import UnitOfWork, dialect_insert, insert_for
from shared.messaging import NotYetKnown
from shared.money import MAX_AMOUNT, exponent, to_minor

log = logging.getLogger(__name__)

Envelope = dict[str, Any]

MOVEMENTS = cast(Table, Movement.__table__)
INVOICES = cast(Table, ReportInvoice.__table__)
CUSTOMERS = cast(Table, ReportCustomer.__table__)
BALANCES = cast(Table, ReportBalance.__table__)
DAY_BALANCES = cast(Table, DayBalance.__table__)

# On PostgreSQL one writer of the read models at a time, as on SQLite: the consumer's events
# and a rebuild take this transaction-scoped advisory lock (in the two-key space, apart from
# the one-key locks of the relay and migrations) before they write. Figures kept from the
# movements are read, then written: two transactions writing one customer's movements at once
# could each miss the other's. (One lock, taken after the inbox rows: no waiting in a cycle.)
READ_MODELS_LOCK = (zlib.crc32(b"tameio.reporting") & 0x7FFF_0000, 1)


def _lock_read_models(session: Session) -> None:
    """Take the lock unless this transaction holds it already (a batch of events)."""
    if not _is_postgresql(session):
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(READ_MODELS_LOCKED) is transaction:
        return
    space, key = READ_MODELS_LOCK
    session.execute(
        text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": space, "key": key}
    )
    session.info[READ_MODELS_LOCKED] = session.get_transaction()


READ_MODELS_LOCKED = "tameio.reporting.read_models_locked"  # session.info: by which transaction


class _Statements:
    """The consumer's statements for each movement, built once per dialect: building one
    cost more than running it."""

    def __init__(self, dialect: str) -> None:
        insert = insert_for(dialect)
        self.add_movement = insert(MOVEMENTS).on_conflict_do_nothing().returning(MOVEMENTS.c.id)
        account = and_(
            DAY_BALANCES.c.customer_id == bindparam("of_customer"),
            DAY_BALANCES.c.currency == bindparam("in_currency"),
        )
        self.move_later_days = (
            update(DAY_BALANCES)
            .where(account, DAY_BALANCES.c.date >= bindparam("from_day"))
            .values(balance_minor=DAY_BALANCES.c.balance_minor + bindparam("amount"))
            .returning(DAY_BALANCES.c.date)
        )
        self.close_before = (
            select(DAY_BALANCES.c.balance_minor)
            .where(account, DAY_BALANCES.c.date < bindparam("from_day"))
            .order_by(DAY_BALANCES.c.date.desc())
            .limit(1)
        )
        self.add_day = DAY_BALANCES.insert()  # given every column
        customer = insert(CUSTOMERS)  # given every column
        self.put_customer = customer.on_conflict_do_update(
            index_elements=[CUSTOMERS.c.id],
            set_={name: customer.excluded[name] for name in ("name", "currency", "sequence")},
            where=CUSTOMERS.c.sequence < customer.excluded.sequence,
        )
        # Given every column; answers the id only if the invoice was not there yet.
        self.add_invoice = insert(INVOICES).on_conflict_do_nothing().returning(INVOICES.c.id)
        new = insert(BALANCES)  # given every column
        moved_on = new.excluded.last_moved_on
        self.add_to_balance = new.on_conflict_do_update(
            index_elements=[BALANCES.c.customer_id, BALANCES.c.currency],
            set_={
                "balance_minor": BALANCES.c.balance_minor + new.excluded.balance_minor,
                "last_moved_on": case(
                    (BALANCES.c.last_moved_on < moved_on, moved_on),
                    else_=BALANCES.c.last_moved_on,
                ),
            },
        )


# The start of both statements below: the movement bound as the statement's parameters,
# written unless it is there already (``moved``: a row only if it was written).
_NEW_MOVEMENT = """
WITH given AS (
    SELECT CAST(:event_id AS TEXT) AS event_id, CAST(:customer_id AS TEXT) AS customer_id,
           CAST(:invoice_id AS TEXT) AS invoice_id, CAST(:kind AS TEXT) AS kind,
           CAST(:date AS DATE) AS date, CAST(:amount_minor AS BIGINT) AS amount_minor,
           CAST(:currency AS TEXT) AS currency, CAST(:tax_minor AS BIGINT) AS tax_minor,
           CAST(:source_id AS TEXT) AS source_id
), moved AS (
    INSERT INTO rp_movements (event_id, customer_id, invoice_id, kind, date, amount_minor,
                              currency, tax_minor, source_id)
    SELECT * FROM given
    ON CONFLICT DO NOTHING
"""


def _movement_then(returning: str, rest: str) -> TextClause:
    """A statement writing the movement (``moved`` answering its ``returning`` columns),
    then ``rest``."""
    return text(f"{_NEW_MOVEMENT}    RETURNING {returning}\n){rest}")


# PostgreSQL: an account movement and what it changes in one statement (elsewhere four or
# five, each a round of SQLAlchemy and the driver): the movement unless it is there already,
# the close of its day and of every later day with movements, its day's close if the day had
# none (the close before it plus this movement), and the customer's balance. Every part sees
# the rows as they were before the statement; none reads what another part writes.
ACCOUNT_MOVE = _movement_then(
    "customer_id, currency, date, amount_minor",
    """, later_days AS (
    UPDATE rp_day_balances AS d SET balance_minor = d.balance_minor + m.amount_minor
    FROM moved AS m
    WHERE d.customer_id = m.customer_id AND d.currency = m.currency AND d.date >= m.date
    RETURNING d.date
), its_day AS (
    INSERT INTO rp_day_balances (customer_id, currency, date, balance_minor)
    SELECT m.customer_id, m.currency, m.date, m.amount_minor + coalesce((
        SELECT b.balance_minor FROM rp_day_balances AS b
        WHERE b.customer_id = m.customer_id AND b.currency = m.currency AND b.date < m.date
        ORDER BY b.date DESC LIMIT 1), 0)
    FROM moved AS m
    WHERE NOT EXISTS (SELECT FROM later_days AS l WHERE l.date = m.date)
), balance AS (
    INSERT INTO rp_balances (customer_id, currency, balance_minor, last_moved_on)
    SELECT customer_id, currency, amount_minor, date FROM moved
    ON CONFLICT (customer_id, currency) DO UPDATE SET
        balance_minor = rp_balances.balance_minor + excluded.balance_minor,
        last_moved_on = greatest(rp_balances.last_moved_on, excluded.last_moved_on)
)
SELECT count(*) FROM moved
""",
)


# PostgreSQL: a movement of money on an invoice and the invoice's kept figures in one
# statement, the figures moved by this movement alone (a payment on an invoice with a
# thousand before it costs what the first did): what the refresh computes from all its
# movements (settled = minus their sum, first and last their dates, cleared on the last when
# settled equals the total), from the figures before plus this one. An invoice not seen
# issued yet has no row; when it comes, it is refreshed from all its movements.
INVOICE_MOVE = _movement_then(
    "invoice_id, date, amount_minor",
    """
UPDATE rp_invoices AS i SET
    settled_minor = i.settled_minor - m.amount_minor,
    first_settled_on = least(i.first_settled_on, m.date),
    last_settled_on = greatest(i.last_settled_on, m.date),
    cleared_on = CASE WHEN i.total_minor = i.settled_minor - m.amount_minor
                      THEN greatest(i.last_settled_on, m.date) END
FROM moved AS m
WHERE i.id = m.invoice_id
""",
)


@functools.cache
def _statements(dialect: str) -> _Statements:
    return _Statements(dialect)


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _minor(amount: str, currency: str) -> int:
    """``to_minor`` without its checks for amounts that plainly pass them (a rebuild converts
    every amount of the log)."""
    value = Decimal(amount)
    places = exponent(currency)
    if value.is_finite() and abs(value) < MAX_AMOUNT and -int(value.as_tuple().exponent) <= places:
        return int(value.scaleb(places))
    return to_minor(value, currency)  # raises the error to_minor raises


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class Projection:
    """Writes what the projection functions derive from events, in one session.

    Live (``batch=False``, the consumer): every row is written at once, and before the event's
    transaction ends :meth:`finish` brings the kept figures of what it touched up to date.
    Batch (the rebuild, on emptied read models): invoice and movement rows are buffered and
    written many at a time by :meth:`flush`, and :meth:`finish` computes every kept figure
    once from all the movements.
    """

    def __init__(self, session: Session, batch: bool = False) -> None:
        self.session = session
        self.batch = batch
        self.touched_invoices: set[str] = set()
        self.pending_invoices: dict[str, dict[str, Any]] = {}
        self.pending_moves: list[dict[str, Any]] = []
        self._dialect = session.get_bind().dialect.name
        if not batch:  # the rebuild took it already
            _lock_read_models(session)

    # -- what projections call -------------------------------------------------------------

    def customer(self, values: dict[str, Any]) -> None:
        """Insert the customer, or replace it with a snapshot of a higher sequence."""
        self.session.execute(_statements(self._dialect).put_customer, values)

    def add_invoice(self, values: dict[str, Any]) -> None:
        """Insert the invoice unless it is already there (a second issued event)."""
        values = {
            **values,
            "settled_minor": 0,
            "first_settled_on": None,
            "last_settled_on": None,
            # Nothing settled yet: only a zero total owes nothing from the start.
            "cleared_on": values["issue_date"] if values["total_minor"] == 0 else None,
        }
        if self.batch:
            self.pending_invoices.setdefault(values["id"], values)
            return
        added = self.session.execute(_statements(self._dialect).add_invoice, values)
        if added.first() is not None:
            # Payments may have been applied to it before it was seen issued.
            self.touched_invoices.add(values["id"])

    def invoice(self, invoice_id: str) -> dict[str, Any] | None:
        """The invoice's customer, currency and total, or None if it was never seen issued."""
        pending = self.pending_invoices.get(invoice_id)
        if pending is not None:
            return pending
        row = self.session.execute(
            select(INVOICES.c.customer_id, INVOICES.c.currency, INVOICES.c.total_minor).where(
                INVOICES.c.id == invoice_id
            )
        ).first()
        return row._asdict() if row is not None else None

    def void_invoice(self, invoice_id: str, day: dt.date) -> None:
        pending = self.pending_invoices.get(invoice_id)
        if pending is not None:
            pending["void_on"] = day
        else:
            self.session.execute(
                update(INVOICES).where(INVOICES.c.id == invoice_id).values(void_on=day)
            )

    def move(
        self,
        envelope: Envelope,
        customer_id: str,
        kind: str,
        day: dt.date,
        *,
        amount_minor: int,
        currency: str,
        invoice_id: str | None = None,
        source_id: str | None = None,
        tax_minor: int = 0,
    ) -> None:
        """A dated money movement, keyed by the event that caused it (once per event);
        ``source_id`` names the payment, credit note or refund it comes from, ``tax_minor``
        the tax within the amount (credit notes)."""
        values = {
            "event_id": envelope["id"],
            "customer_id": customer_id,
            "invoice_id": invoice_id,
            "kind": kind,
            "date": day,
            "amount_minor": amount_minor,
            "currency": currency,
            "tax_minor": tax_minor,
            "source_id": source_id,
        }
        if self.batch:
            self.pending_moves.append(values)
            return
        on_invoice = kind in INVOICE_KINDS
        if self._dialect == "postgresql" and not (on_invoice and invoice_id is None):
            statement = INVOICE_MOVE if on_invoice else ACCOUNT_MOVE
            self.session.connection().execute(statement, values)
            return
        statements = _statements(self._dialect)
        new_id = self.session.execute(statements.add_movement, values).scalar()
        if new_id is None:
            return  # already there: the event was applied before
        if kind in INVOICE_KINDS:
            if invoice_id is not None:
                self.touched_invoices.add(invoice_id)
            return
        # The close of its day and of every later day with movements now includes it; if
        # its day had none, that day's close is the one before it plus this movement.
        account = {"of_customer": customer_id, "in_currency": currency, "from_day": day}
        changed = self.session.execute(
            statements.move_later_days, {**account, "amount": amount_minor}
        ).scalars()
        row = {"customer_id": customer_id, "currency": currency}
        if day not in set(changed):
            before = self.session.execute(statements.close_before, account).scalar()
            self.session.execute(
                statements.add_day,
                {**row, "date": day, "balance_minor": int(before or 0) + amount_minor},
            )
        self.session.execute(
            statements.add_to_balance,
            {**row, "balance_minor": amount_minor, "last_moved_on": day},
        )

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what is buffered (batch), many rows per statement."""
        self._insert_many(INVOICES, list(self.pending_invoices.values()))
        self.pending_invoices.clear()
        self._insert_many(MOVEMENTS, self.pending_moves)
        self.pending_moves = []

    def _insert_many(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:  # an executemany: on PostgreSQL psycopg pipelines the statements
            self.session.execute(dialect_insert(self.session)(table).on_conflict_do_nothing(), rows)

    def finish(self) -> None:
        """Bring the kept figures up to date with the movements written."""
        if self.batch:
            self.flush()
            refresh_invoices(self.session)
            refresh_balances(self.session)
        elif self.touched_invoices:
            refresh_invoices(self.session, sorted(self.touched_invoices))
        self.touched_invoices.clear()


def refresh_invoices(session: Session, invoice_ids: Iterable[str] | None = None) -> None:
    """Set the kept settlement figures of the given invoices (all of them if None) from their
    applied and unapplied movements. An invoice without any keeps what it was created with."""
    if invoice_ids is None:
        session.execute(_refresh_statement(some=False))
    else:
        session.execute(_refresh_statement(some=True), {"invoice_ids": list(invoice_ids)})


@functools.cache
def _refresh_statement(*, some: bool) -> Update:
    """The statement of :func:`refresh_invoices`, built once (the consumer runs it for every
    batch that moves money on invoices); ``some``: of the invoices bound as ``invoice_ids``."""
    settled = (
        select(
            MOVEMENTS.c.invoice_id,
            (-func.sum(MOVEMENTS.c.amount_minor)).label("settled"),
            func.min(MOVEMENTS.c.date).label("first"),
            func.max(MOVEMENTS.c.date).label("last"),
        )
        .where(kind_in(INVOICE_KINDS))
        .group_by(MOVEMENTS.c.invoice_id)
    )
    if some:
        settled = settled.where(
            MOVEMENTS.c.invoice_id.in_(bindparam("invoice_ids", expanding=True))
        )
    moves = settled.subquery()
    return (
        update(INVOICES)
        .where(INVOICES.c.id == moves.c.invoice_id)
        .values(
            settled_minor=moves.c.settled,
            first_settled_on=moves.c.first,
            last_settled_on=moves.c.last,
            # Owing nothing now means owing nothing since the last movement (any earlier
            # date with nothing owed was followed by one that changed that).
            cleared_on=case((INVOICES.c.total_minor == moves.c.settled, moves.c.last)),
        )
    )


def refresh_balances(session: Session) -> None:
    """Compute every day-closing balance and every customer's balance (the rebuild's way;
    the consumer keeps them movement by movement)."""
    day = (
        select(
            MOVEMENTS.c.customer_id,
            MOVEMENTS.c.currency,
            MOVEMENTS.c.date,
            func.sum(MOVEMENTS.c.amount_minor).label("moved"),
        )
        .where(kind_in(ACCOUNT_KINDS))
        .group_by(MOVEMENTS.c.customer_id, MOVEMENTS.c.currency, MOVEMENTS.c.date)
        .subquery()
    )
    closing = func.sum(day.c.moved).over(
        partition_by=(day.c.customer_id, day.c.currency), order_by=day.c.date
    )
    session.execute(delete(DAY_BALANCES))
    session.execute(
        DAY_BALANCES.insert().from_select(
            ["customer_id", "currency", "date", "balance_minor"],
            select(day.c.customer_id, day.c.currency, day.c.date, closing),
        )
    )
    session.execute(delete(BALANCES))
    session.execute(
        BALANCES.insert().from_select(
            ["customer_id", "currency", "balance_minor", "last_moved_on"],
            select(
                MOVEMENTS.c.customer_id,
                MOVEMENTS.c.currency,
                func.sum(MOVEMENTS.c.amount_minor),
                func.max(MOVEMENTS.c.date),
            )
            .where(kind_in(ACCOUNT_KINDS))
            .group_by(MOVEMENTS.c.customer_id, MOVEMENTS.c.currency),
        )
    )


# -- the projection of each event type ----------------------------------------------------------


def customer(target: Projection, envelope: Envelope) -> None:
    data = envelope["data"]
    snapshot = data.get("customer", data)
    target.customer(
        {
            "id": snapshot["id"],
            "name": snapshot["name"],
            "currency": snapshot["currency"],
            "sequence": envelope["sequence"],
        }
    )


def invoice_issued(target: Projection, envelope: Envelope) -> None:
    invoice = envelope["data"]
    c = invoice["currency"]
    total = _minor(invoice["total"], c)
    target.add_invoice(
        {
            "id": invoice["id"],
            "customer_id": invoice["customer_id"],
            "number": invoice["number"],
            "currency": c,
            "issue_date": _date(invoice["issue_date"]),
            "due_date": _date(invoice["due_date"]),
            "net_minor": _minor(invoice["subtotal"], c),
            "tax_minor": _minor(invoice["tax_total"], c),
            "total_minor": total,
            "void_on": None,
        }
    )
    target.move(
        envelope,
        invoice["customer_id"],
        "invoice",
        _date(invoice["issue_date"]),
        amount_minor=total,
        currency=c,
        invoice_id=invoice["id"],
    )


def invoice_voided(target: Projection, envelope: Envelope) -> None:
    data = envelope["data"]
    invoice = target.invoice(data["invoice_id"])
    if invoice is None:
        if data.get("number") is None:
            return  # a draft: it never counted
        raise NotYetKnown(f"invoice {data['number']} voided before it was seen issued")
    day = _date(data["date"])
    target.void_invoice(data["invoice_id"], day)
    target.move(
        envelope,
        invoice["customer_id"],
        "void",
        day,
        amount_minor=-invoice["total_minor"],
        currency=invoice["currency"],
        invoice_id=data["invoice_id"],
    )


def payment_applied(
    target: Projection, envelope: Envelope, sign: int = -1, kind: str = "applied"
) -> None:
    data = envelope["data"]
    source = data.get("payment_id") or data.get("credit_note_id")
    for allocation in data["allocations"]:
        target.move(
            envelope,
            data["customer_id"],
            kind,
            _date(data["date"]),
            amount_minor=sign * _minor(allocation["amount"], data["currency"]),
            currency=data["currency"],
            invoice_id=allocation["invoice_id"],
            source_id=source,
        )


def payment_unapplied(target: Projection, envelope: Envelope) -> None:
    payment_applied(target, envelope, sign=+1, kind="unapplied")


def credit_note_tax(note: dict[str, Any]) -> int:
    """The tax within a credit note's amount, in minor units (its lines' tax)."""
    c = note["currency"]
    if note.get("tax_total") is not None:
        return _minor(note["tax_total"], c)
    return sum(_minor(line["tax_amount"], c) for line in note.get("lines") or [])


def credit_note(target: Projection, envelope: Envelope) -> None:
    note = envelope["data"]
    c, day, source = note["currency"], _date(note["date"]), note["id"]
    target.move(
        envelope,
        note["customer_id"],
        "credit_note",
        day,
        amount_minor=-_minor(note["amount"], c),
        currency=c,
        source_id=source,
        tax_minor=-credit_note_tax(note),
    )
    applied = _minor(note.get("applied_amount") or "0", c)
    if note.get("invoice_id") and applied:
        target.move(
            envelope,
            note["customer_id"],
            "applied",
            day,
            amount_minor=-applied,
            currency=c,
            invoice_id=note["invoice_id"],
            source_id=source,
        )


def money(
    kind: str, sign: int, date_key: str, source_key: str
) -> Callable[[Projection, Envelope], None]:
    def project(target: Projection, envelope: Envelope) -> None:
        data = envelope["data"]
        customer_id = data["customer_id"]
        amount = data.get("amount")
        if amount is None:
            return
        target.move(
            envelope,
            customer_id,
            kind,
            _date(data[date_key]),
            amount_minor=sign * _minor(amount, data["currency"]),
            currency=data["currency"],
            source_id=data.get(source_key),
        )

    return project


PROJECTIONS: dict[str, Callable[[Projection, Envelope], None]] = {
    "customers.customer.created": customer,
    "customers.customer.updated": customer,
    "customers.customer.archived": customer,
    "billing.invoice.issued": invoice_issued,
    "billing.invoice.voided": invoice_voided,
    "billing.payment.applied": payment_applied,
    "billing.payment.unapplied": payment_unapplied,
    "billing.credit_note.applied": payment_applied,
    "billing.credit_note.issued": credit_note,
    "payments.payment.received": money("payment", -1, "received_on", "id"),
    "payments.payment.reversed": money("reversal", +1, "date", "payment_id"),
    "payments.refund.issued": money("refund", +1, "date", "id"),
}


def project(uow: UnitOfWork, envelope: Envelope) -> None:
    """Apply one event (in its wire form) to the read models; unknown types change nothing.

    The kept figures of the invoices it moved money on are brought up to date just before
    the transaction commits, in one statement for all the events of a batch (nothing the
    projections read depends on them)."""
    projection = PROJECTIONS.get(envelope["type"])
    if projection is not None:
        target = Projection(uow.session)
        projection(target, envelope)
        if target.touched_invoices:
            refresh = functools.partial(_refresh_touched, uow.session)
            uow.collect(TOUCHED_INVOICES, refresh).extend(target.touched_invoices)
            target.touched_invoices.clear()


TOUCHED_INVOICES = "reporting.touched_invoices"  # the unit of work's collection of invoice ids


def _refresh_touched(session: Session, invoice_ids: list[str]) -> None:
    refresh_invoices(session, sorted(set(invoice_ids)))


# -- the rebuild ---------------------------------------------------------------------------------

REBUILD_PAGE = 5_000  # events read, applied and written at a time
REBUILD_LOG_SECONDS = 10.0  # at most this long between two progress lines


def rebuild_read_models(session: Session) -> int:
    """Throw the read models away and replay the event log into them, in the caller's
    transaction; answers how many events the log held when it started.

    Only events of the types a projection reads are read, a page at a time, their rows
    written in batches; the kept figures are computed once at the end. Progress is logged
    every ``REBUILD_LOG_SECONDS``. On PostgreSQL the events the consumer applies meanwhile
    wait for the rebuild to commit (they would otherwise write into read models it replaces).
    """
    started = time.monotonic()
    _lock_read_models(session)
    for table in (MOVEMENTS, INVOICES, CUSTOMERS, BALANCES, DAY_BALANCES):
        session.execute(delete(table))
    last_id = session.execute(select(func.max(LoggedEvent.id))).scalar() or 0
    logged = LoggedEvent.id <= last_id
    projected = LoggedEvent.event_type.in_(list(PROJECTIONS))
    total = session.execute(select(func.count()).where(logged)).scalar_one()
    to_replay = session.execute(select(func.count()).where(logged, projected)).scalar_one()
    log.info("rebuild: %d events logged, %d of them to replay", total, to_replay)
    target = Projection(session, batch=True)
    after, replayed, logged_at = 0, 0, started
    while True:
        page = session.execute(
            select(LoggedEvent.id, LoggedEvent.envelope)
            .where(LoggedEvent.id > after, logged, projected)
            .order_by(LoggedEvent.id)
            .limit(REBUILD_PAGE)
        ).all()
        if not page:
            break
        for _, body in page:
            envelope = json.loads(body)
            PROJECTIONS[envelope["type"]](target, envelope)
        target.flush()
        after, replayed = page[-1].id, replayed + len(page)
        if time.monotonic() - logged_at >= REBUILD_LOG_SECONDS:
            logged_at = time.monotonic()
            log.info(
                "rebuild: %d of %d events replayed in %.0f s",
                replayed,
                to_replay,
                logged_at - started,
            )
    log.info(
        "rebuild: %d events replayed in %.0f s; now the kept figures",
        replayed,
        time.monotonic() - started,
    )
    target.finish()
    log.info("rebuild: done in %.1f s", time.monotonic() - started)
    return int(total)
