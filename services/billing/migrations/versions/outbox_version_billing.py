"""the outbox keeps each event's version (the relay marks legacy versions for the broker)

Revision ID: outbox_version_billing
Revises: flow_bp_billing
Create Date: 2026-12-05 00:15:00.000000
"""
from shared.migrations import add_outbox_version, drop_outbox_version

revision = 'outbox_version_billing'
down_revision = 'flow_bp_billing'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_version()


def downgrade() -> None:
    drop_outbox_version()
