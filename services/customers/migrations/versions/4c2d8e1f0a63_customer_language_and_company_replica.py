"""customer language and the company profile replica

Revision ID: 4c2d8e1f0a63
Revises: 9370131a1e15
Create Date: 2026-12-04 10:50:00.000000
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '4c2d8e1f0a63'
down_revision = '9370131a1e15'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('company_replica',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_replica'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=2), server_default='en', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('language')
    op.drop_table('company_replica')
