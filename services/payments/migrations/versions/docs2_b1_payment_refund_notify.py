"""payments and refunds remember whether they were entered as history (notify false)

Revision ID: docs2_b1_payment_refund_notify
Revises: 6a06088ee66a
Create Date: 2026-12-10 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'docs2_b1_payment_refund_notify'
down_revision = '6a06088ee66a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('payments', 'refunds'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('notify', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    for table in ('payments', 'refunds'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('notify')
