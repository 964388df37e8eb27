"""the outbox keeps each event's version (the relay marks legacy versions for the broker),
and its payloads are compressed with lz4 where the server has it

Revision ID: outbox_version_notifier
Revises: docs2_c1_notification_facts
Create Date: 2026-12-05 00:15:00.000000
"""
from shared.migrations import (
    downgrade_platform_outbox_versions,
    upgrade_platform_outbox_versions,
)

revision = 'outbox_version_notifier'
down_revision = 'docs2_c1_notification_facts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_platform_outbox_versions()


def downgrade() -> None:
    downgrade_platform_outbox_versions()
