"""the company profile: the seller every document and email names

Revision ID: 7b1e4c9a2f55
Revises: 5d18b07aacd0
Create Date: 2026-12-04 10:40:00.000000
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '7b1e4c9a2f55'
down_revision = '5d18b07aacd0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('company_profile',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_profile'))
    )


def downgrade() -> None:
    op.drop_table('company_profile')
