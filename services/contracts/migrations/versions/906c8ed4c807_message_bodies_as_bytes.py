"""message bodies kept as bytes; the worker reports its consumer's state

Revision ID: 906c8ed4c807
Revises: f685295803ec
Create Date: 2026-12-04 09:50:00.000000
"""
from shared.migrations import downgrade_platform_message_bytes, upgrade_platform_message_bytes

revision = '906c8ed4c807'
down_revision = 'f685295803ec'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_platform_message_bytes()


def downgrade() -> None:
    downgrade_platform_message_bytes()
