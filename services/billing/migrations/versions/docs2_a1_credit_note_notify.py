"""credit notes remember whether they were entered as history (notify false: no email)

Revision ID: docs2_a1_credit_note_notify
Revises: 9e6a2d4b7c18
Create Date: 2026-12-10 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'docs2_a1_credit_note_notify'
down_revision = '9e6a2d4b7c18'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.drop_column('notify')
