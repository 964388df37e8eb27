"""message bodies kept as bytes; the worker reports its consumer's state

Revision ID: 5d18b07aacd0
Revises: a24fd955e5b5
Create Date: 2026-12-04 09:50:00.000000
"""
from shared.migrations import downgrade_platform_message_bytes, upgrade_platform_message_bytes

revision = '5d18b07aacd0'
down_revision = 'a24fd955e5b5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_platform_message_bytes()


def downgrade() -> None:
    downgrade_platform_message_bytes()
