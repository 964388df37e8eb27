"""message bodies kept as bytes; the worker reports its consumer's state

Revision ID: 9beca0ee0180
Revises: 1731fbd7e5a5
Create Date: 2026-12-04 09:50:00.000000
"""
from shared.migrations import downgrade_platform_message_bytes, upgrade_platform_message_bytes

revision = '9beca0ee0180'
down_revision = '1731fbd7e5a5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_platform_message_bytes()


def downgrade() -> None:
    downgrade_platform_message_bytes()
