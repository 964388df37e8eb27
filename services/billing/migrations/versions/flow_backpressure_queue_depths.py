"""readings of the consuming queues this service's money-moving creates feed (backpressure)

Revision ID: flow_bp_billing
Revises: docs2_a1_credit_note_notify
Create Date: 2026-12-04 14:00:00.000000
"""
from shared.migrations import create_queue_depths, drop_queue_depths

revision = 'flow_bp_billing'
down_revision = 'docs2_a1_credit_note_notify'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_queue_depths()


def downgrade() -> None:
    drop_queue_depths()
