"""message bodies kept as bytes; the worker reports its consumer's state

Revision ID: 58febcfe2f59
Revises: abb9d067843e
Create Date: 2026-12-04 09:50:00.000000
"""
from shared.migrations import downgrade_platform_message_bytes, upgrade_platform_message_bytes

revision = '58febcfe2f59'
down_revision = 'abb9d067843e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_platform_message_bytes()


def downgrade() -> None:
    downgrade_platform_message_bytes()
