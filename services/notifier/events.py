"""What notifier's events carry, built from a notification row with no I/O."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from services.notifier.models import Notification


def notification(row: Notification | Row[Any]) -> dict[str, Any]:
    """notifier.notification.sent / .failed: the notification and its delivery (also what
    the API answers for it), from its row (loaded, or the columns a statement returned)."""
    return {
        "id": str(row.id),
        "kind": row.kind,
        "level": row.level,
        "channel": row.channel,
        "to": row.to,
        "subject": row.subject,
        "body": row.body,
        "status": row.status,
        "invoice_id": row.invoice_id,
        "customer_id": row.customer_id,
        "payment_id": row.payment_id,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
        "error": row.error,
        "attempts": row.attempts,
    }


def notifications(rows: list[Notification]) -> list[dict[str, Any]]:
    return [notification(row) for row in rows]
