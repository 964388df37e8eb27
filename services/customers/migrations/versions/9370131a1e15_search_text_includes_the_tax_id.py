"""search text includes the tax id

Revision ID: 9370131a1e15
Revises: 9beca0ee0180
Create Date: 2026-12-04 09:33:07.319913
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '9370131a1e15'
down_revision = '9beca0ee0180'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # search_text becomes "name | email | number | tax id" (customers.domain.search_text).
    # Tax ids are ASCII letters and digits, so lower() normalizes them as search_key would.
    op.execute(
        "UPDATE customers SET search_text = search_text || ' | ' || lower(coalesce(tax_id, ''))"
    )


def downgrade() -> None:
    pass  # the extra part only widens what a search matches
