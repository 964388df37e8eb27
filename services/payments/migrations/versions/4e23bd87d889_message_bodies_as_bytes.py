"""message bodies kept as bytes; the worker reports its consumer's state

Revision ID: 4e23bd87d889
Revises: 6b213e6da059
Create Date: 2026-12-04 09:50:00.000000
"""
from shared.migrations import downgrade_platform_message_bytes, upgrade_platform_message_bytes

revision = '4e23bd87d889'
down_revision = '6b213e6da059'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_platform_message_bytes()


def downgrade() -> None:
    downgrade_platform_message_bytes()
