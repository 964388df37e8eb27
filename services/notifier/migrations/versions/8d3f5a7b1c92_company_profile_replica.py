"""the company profile replica: the sender and signature of every email

Revision ID: 8d3f5a7b1c92
Revises: 5c084addba2d
Create Date: 2026-12-04 10:50:00.000000
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '8d3f5a7b1c92'
down_revision = '5c084addba2d'
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


def downgrade() -> None:
    op.drop_table('company_replica')
