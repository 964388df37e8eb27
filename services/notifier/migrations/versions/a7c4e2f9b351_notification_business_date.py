"""notifications remember the business day they were queued for (reminder spacing)

Revision ID: a7c4e2f9b351
Revises: 8d3f5a7b1c92
Create Date: 2026-12-04 11:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c4e2f9b351'
down_revision = '8d3f5a7b1c92'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('business_date', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('business_date')
