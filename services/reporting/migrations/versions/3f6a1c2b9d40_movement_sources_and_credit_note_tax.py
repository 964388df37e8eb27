"""movement sources and credit note tax

Revenue states credit notes net (it needs the tax within each credit note) and payment
behaviour counts only payments that were not reversed (it needs to know which payment or
credit note each movement comes from). Both are filled in from the event log for the
movements already there, so reports are right without a rebuild.

Revision ID: 3f6a1c2b9d40
Revises: 0d712c51c2c4
Create Date: 2026-12-04 10:30:00.000000
"""
import json
from decimal import Decimal

from alembic import op
import sqlalchemy as sa

from shared.money import exponent


revision = '3f6a1c2b9d40'
down_revision = '0d712c51c2c4'
branch_labels = None
depends_on = None

# The event type -> the field of its data naming the money's source (as the projections say).
SOURCES = {
    'billing.payment.applied': 'payment_id',
    'billing.payment.unapplied': 'payment_id',
    'billing.credit_note.applied': 'credit_note_id',
    'billing.credit_note.issued': 'id',
    'payments.payment.received': 'id',
    'payments.payment.reversed': 'payment_id',
    'payments.refund.issued': 'id',
}
PAGE = 5_000


def _minor(amount: str, currency: str) -> int:
    return int(Decimal(amount).scaleb(exponent(currency)))


def _tax(note: dict) -> int:
    if note.get('tax_total') is not None:
        return _minor(note['tax_total'], note['currency'])
    return sum(_minor(line['tax_amount'], note['currency']) for line in note.get('lines') or [])


def upgrade() -> None:
    with op.batch_alter_table('rp_movements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_minor', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('source_id', sa.String(length=64), nullable=True))

    conn = op.get_bind()
    log = sa.table('event_log', sa.column('id'), sa.column('event_type'), sa.column('envelope'))
    set_source = sa.text('UPDATE rp_movements SET source_id = :source WHERE event_id = :event')
    set_tax = sa.text(
        "UPDATE rp_movements SET tax_minor = :tax WHERE event_id = :event AND kind = 'credit_note'"
    )
    after = 0
    while True:
        page = conn.execute(
            sa.select(log.c.id, log.c.event_type, log.c.envelope)
            .where(log.c.id > after, log.c.event_type.in_(list(SOURCES)))
            .order_by(log.c.id)
            .limit(PAGE)
        ).all()
        if not page:
            break
        sources, taxes = [], []
        for _, event_type, body in page:
            envelope = json.loads(body)
            data = envelope.get('data') or {}
            source = data.get(SOURCES[event_type])
            if source is not None:
                sources.append({'source': str(source), 'event': envelope['id']})
            if event_type == 'billing.credit_note.issued':
                taxes.append({'tax': -_tax(data), 'event': envelope['id']})
        if sources:
            conn.execute(set_source, sources)
        if taxes:
            conn.execute(set_tax, taxes)
        after = page[-1].id


def downgrade() -> None:
    with op.batch_alter_table('rp_movements', schema=None) as batch_op:
        batch_op.drop_column('source_id')
        batch_op.drop_column('tax_minor')
