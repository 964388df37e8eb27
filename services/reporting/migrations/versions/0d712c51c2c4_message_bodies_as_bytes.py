"""message bodies kept as bytes; the worker reports its consumer's state

Revision ID: 0d712c51c2c4
Revises: b848c0516643
Create Date: 2026-12-04 09:50:00.000000
"""
from shared.migrations import downgrade_platform_message_bytes, upgrade_platform_message_bytes

revision = '0d712c51c2c4'
down_revision = 'b848c0516643'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_platform_message_bytes()


def downgrade() -> None:
    downgrade_platform_message_bytes()
