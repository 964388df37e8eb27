"""invoices remember whether they were entered as history (notify false: no email)

Revision ID: 9e6a2d4b7c18
Revises: 7b1e4c9a2f55
Create Date: 2026-12-04 11:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '9e6a2d4b7c18'
down_revision = '7b1e4c9a2f55'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('notify')
