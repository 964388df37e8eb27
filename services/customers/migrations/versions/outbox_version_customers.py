"""the outbox keeps each event's version (the relay marks legacy versions for the broker),
and its payloads are compressed with lz4 where the server has it

Revision ID: outbox_version_customers
Revises: 4c2d8e1f0a63
Create Date: 2026-12-05 00:15:00.000000
"""
from shared.migrations import (
    add_outbox_version,
    compress_by_default,
    compress_with_lz4,
    drop_outbox_version,
)

revision = 'outbox_version_customers'
down_revision = '4c2d8e1f0a63'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_version()
    compress_with_lz4("outbox", "payload")


def downgrade() -> None:
    compress_by_default("outbox", "payload")
    drop_outbox_version()
