"""index payments by lower-case bank reference

Revision ID: 6a06088ee66a
Revises: 4e23bd87d889
Create Date: 2026-12-04 09:33:01.011528
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '6a06088ee66a'
down_revision = '4e23bd87d889'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_payments_reference_lower", "payments", [sa.text("lower(reference)")], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_payments_reference_lower", table_name="payments")
