"""notifications keep the facts of their cause (written again from billing's figures when
sent) and get their Message-ID when first claimed for sending

Revision ID: docs2_c1_notification_facts
Revises: a7c4e2f9b351
Create Date: 2026-12-10 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'docs2_c1_notification_facts'
down_revision = 'a7c4e2f9b351'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('facts', sa.JSON(), nullable=True))
        batch_op.alter_column('message_id', existing_type=sa.String(length=200), nullable=True)


def downgrade() -> None:
    op.execute(
        "UPDATE notifications SET message_id = '<' || id || '@tameio.invalid>' "
        "WHERE message_id IS NULL"
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column('facts')
