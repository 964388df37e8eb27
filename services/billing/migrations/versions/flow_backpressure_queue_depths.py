"""readings of the consuming queues this service's money-moving creates feed (backpressure)

Revision ID: flow_bp_billing
Revises: 9e6a2d4b7c18
Create Date: 2026-12-04 14:00:00.000000
"""
from shared.migrations import create_queue_depths, drop_queue_depths

revision = 'flow_bp_billing'
down_revision = '9e6a2d4b7c18'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_queue_depths()


def downgrade() -> None:
    drop_queue_depths()
