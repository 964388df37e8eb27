"""HTTP routes of the notifier service: notifications, the reminder policy, reminder runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.notifier import commands, events, queries
from services.notifier.delivery import deliver_now
from services.notifier.domain import Level
from services.notifier.models import Notification
from services.notifier.schemas import (
    DryRunQuery,
    NotificationQuery,
    NotificationSchema,
    PolicySchema,
    RunResultSchema,
    RunSchema,
)
from shared.web.auth import requires
from shared.web.blueprint import Blueprint
from shared.web.context import service_context, unit_of_work
from shared.web.inputs import job_day
from shared.web.lists import Listing, list_page, page_of

blp = Blueprint(
    "notifier", __name__, description="Notifications, reminder policy and reminder runs"
)
NOTIFICATIONS = Listing(
    (Notification.created_at, Notification.id), NotificationSchema, "notifications", descending=True
)


@blp.route("/notifications", methods=["GET"])
@blp.arguments(NotificationQuery, location="query")
@blp.response(200, page_of(NotificationSchema))
def list_notifications(args: dict[str, Any]) -> Any:
    """Every notification and its delivery, newest first."""
    stmt = select(Notification)
    for field in ("customer_id", "invoice_id"):
        if field in args:
            stmt = stmt.where(getattr(Notification, field) == str(args[field]))
    for field in ("kind", "status"):
        if field in args:
            stmt = stmt.where(getattr(Notification, field) == args[field])
    with unit_of_work() as uow:
        return list_page(uow.session, stmt, NOTIFICATIONS, args, events.notifications)


def _policy_body(levels: list[Level]) -> dict[str, Any]:
    return {
        "levels": [
            {"level": lv.level, "days_after_due": lv.days_after_due, "template": lv.template}
            for lv in levels
        ]
    }


@blp.route("/policy", methods=["GET"])
@blp.response(200, PolicySchema)
def get_policy() -> Any:
    """Reminder levels by days relative to the due date (negative: before it)."""
    with unit_of_work() as uow:
        return _policy_body(queries.current_policy(uow))


@blp.route("/policy", methods=["PUT"])
@requires("admin")
@blp.arguments(PolicySchema)
@blp.response(200, PolicySchema)
def put_policy(body: dict[str, Any]) -> Any:
    """Replace the levels: numbered 1..n, days rising with the level."""
    levels = [Level(lv["level"], lv["days_after_due"], lv["template"]) for lv in body["levels"]]
    with unit_of_work() as uow:
        levels = commands.replace_policy(uow, levels)
        uow.commit()
    return _policy_body(levels)


@blp.route("/reminders/run", methods=["POST"])
@requires("admin")
@blp.arguments(DryRunQuery, location="query")
@blp.arguments(RunSchema, required=False)
@blp.response(200, RunResultSchema)
def run(query: dict[str, Any], body: dict[str, Any]) -> Any:
    """Send the reminders due as of ``as_of`` (today or earlier; each level at most once per
    invoice); the answer lists them with their delivery status. ``dry_run`` (body or query)
    answers what would be sent and changes nothing, and may look ahead."""
    dry_run = bool(query["dry_run"] or body.get("dry_run"))
    as_of = job_day(body.get("as_of"), dry_run)
    with unit_of_work() as uow:
        queued = commands.run_reminders(uow, as_of)
        if dry_run:  # leaving the block without commit rolls every queued notice back
            return {"as_of": as_of, "dry_run": True, "sent": events.notifications(queued)}
        ids = [n.id for n in queued]
        uow.commit()
    context = service_context()
    return {
        "as_of": as_of,
        "dry_run": False,
        "sent": deliver_now(context.db, context.settings, ids),
    }
