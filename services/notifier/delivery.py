"""Composing and delivering notifications: Jinja2 templates, SMTP or .eml files.

A notification is recorded before anything is sent (one row per cause, so a duplicated
trigger changes nothing), marked ``sending`` in its own transaction before it is handed to
SMTP, and marked ``sent`` (emitting notifier.notification.sent) after. A crash between the
two leaves it ``sending``: it is sent again with the same Message-ID, the only window in
which a duplicate email is possible. Failures are retried with growing delay, then marked
``failed`` (emitting notifier.notification.failed).
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from services.notifier.documents import DocumentAway, write_at_sending
from services.notifier.models import Notification, company_replica
from services.notifier.notices import NothingToSay
from shared.clock import utcnow
from shared.config import Settings
from shared.db import Database, UnitOfWork
from shared.replicas import company_profile

MAX_ATTEMPTS = 5
T = TypeVar("T")
LEASE = dt.timedelta(minutes=2)  # longer than any SMTP exchange (10 s timeout)
SENDER = "Tameio Receivables <receivables@tameio.invalid>"


NO_ADDRESS = "the customer has no email address"


def queue(
    uow: UnitOfWork,
    *,
    cause: str,
    kind: str,
    customer_id: str,
    to: str | None,
    subject: str,
    body: str,
    body_html: str,
    invoice_id: str | None = None,
    payment_id: str | None = None,
    level: int | None = None,
    business_date: dt.date | None = None,
    facts: dict[str, Any] | None = None,
) -> Notification | None:
    """Record a notification for ``cause`` unless one exists (then None). ``facts``: what
    its cause said, to write it again from billing's figures when it is sent. Without an
    address it can never be sent: it is recorded failed at once, in this transaction."""
    if uow.session.execute(select(Notification.id).where(Notification.cause == cause)).first():
        return None
    now = utcnow()
    notification = Notification(
        id=uuid.uuid4(),
        cause=cause,
        kind=kind,
        level=level,
        channel="email",
        to=to,
        subject=subject,
        body=body,
        body_html=body_html,
        status="queued",
        invoice_id=invoice_id,
        customer_id=customer_id,
        payment_id=payment_id,
        business_date=business_date,
        facts=facts,
        message_id=None,  # given when it is first claimed for sending (message_id_for)
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    if not to:
        notification.status, notification.error, notification.attempts = "failed", NO_ADDRESS, 1
    uow.session.add(notification)
    uow.session.flush()
    if not to:
        uow.emit("notifier.notification.failed", str(notification.id), notification.snapshot())
    return notification


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """smtp://user:pass@host:587?starttls=1, or smtps://host:465."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.parts = urlsplit(url)
        self.starttls = parse_qs(self.parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        host, port = self.parts.hostname or "127.0.0.1", self.parts.port
        if self.parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port or 465, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port or 25, timeout=self.timeout)
        with client:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.parts.username:
                client.login(unquote(self.parts.username), unquote(self.parts.password or ""))
            client.send_message(message)


class FileMailer:
    """Embedded mode: every message as a real .eml file in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        name = message["Message-ID"].strip("<>").split("@")[0]
        (self.folder / f"{stamp}-{name}.eml").write_bytes(bytes(message))


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url)
    return FileMailer(settings.data_dir / "mail")


def sender(company: dict[str, Any] | None) -> str:
    """The From address: the company profile's name and email, the placeholder before one
    is set."""
    if not company or not company.get("email"):
        return SENDER
    return formataddr((str(company.get("name") or ""), str(company["email"])))


def compose(
    notification: Notification,
    attachment: bytes | None = None,
    company: dict[str, Any] | None = None,
) -> EmailMessage:
    """The message as sent: from the company, Reply-To when it has one, dated now, the
    text and HTML parts, and the PDF if any."""
    message = EmailMessage()
    message["From"] = sender(company)
    if company and company.get("reply_to"):
        message["Reply-To"] = str(company["reply_to"])
    message["To"] = notification.to or ""
    message["Subject"] = notification.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = notification.message_id
    message.set_content(notification.body)
    message.add_alternative(notification.body_html, subtype="html")
    if attachment is not None:
        message.add_attachment(
            attachment,
            maintype="application",
            subtype="pdf",
            filename=f"{attachment_name(notification)}.pdf",
        )
    return message


def attachment_name(notification: Notification) -> str:
    """The document number the subject starts with ("Invoice INV-2026-000001: ...")."""
    return notification.subject.split(":")[0].split(" ")[-1]


def retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(5 * 2 ** (attempts - 1), 600))


def deliver_due(
    db: Database,
    settings: Settings,
    mailer: Mailer | None = None,
    limit: int = 20,
    only: Sequence[uuid.UUID] | None = None,
) -> int:
    """Send what is due (queued, or left ``sending`` by a crash), or just ``only``; returns how
    many were tried. Claiming a row leases it: nobody else sends it until the lease ends."""
    mailer = mailer or mailer_for(settings)
    now = utcnow()
    with db.unit_of_work() as uow:
        stmt = (
            select(Notification)
            .where(
                Notification.status.in_(("queued", "sending")), Notification.next_attempt_at <= now
            )
            .order_by(Notification.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if only is not None:
            stmt = stmt.where(Notification.id.in_(list(only)))
        due = list(uow.session.execute(stmt).scalars())
        company = company_profile(uow, company_replica)
        for notification in due:
            notification.status = "sending"
            notification.next_attempt_at = now + LEASE
            notification.message_id = notification.message_id or message_id_for(company, settings)
        uow.commit()
    for notification in due:
        error, attachment = None, None
        try:
            attachment = patiently(write_at_sending, db, settings, notification)
        except DocumentAway as exc:
            patiently(postpone, db, notification.id, str(exc))
            continue
        except NothingToSay as exc:
            patiently(withdraw, db, notification.id, str(exc))
            continue
        if not notification.to:
            error = NO_ADDRESS
        else:
            try:
                mailer.send(compose(notification, attachment, company))
            except (OSError, smtplib.SMTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
        patiently(record_outcome, db, notification.id, error, final=not notification.to)
    return len(due)


def message_id_for(company: dict[str, Any] | None, settings: Settings) -> str:
    """A new Message-ID under the sender's domain: the company profile's email, else the
    host of TAMEIO_PUBLIC_URL, else this machine's name."""
    email = str((company or {}).get("email") or "")
    if "@" in email:
        return make_msgid(domain=email.rpartition("@")[2])
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return make_msgid(domain=host)


def postpone(db: Database, notification_id: uuid.UUID, reason: str) -> None:
    """Wait for the document an email needs (billing is down): queued again, the reason
    kept as its error, no attempt charged, so it is never sent without its document and
    never given up while the document may come back. The wait grows with how long it has
    waited (a quarter of it, 5 s to 10 min)."""
    with db.unit_of_work() as uow:
        notification = uow.session.get(Notification, notification_id, with_for_update=True)
        assert notification is not None
        now = utcnow()
        waited = (now - notification.created_at) / 4
        delay = min(max(waited, dt.timedelta(seconds=5)), dt.timedelta(minutes=10))
        notification.status = "queued"
        notification.error = f"waiting for its document: {reason}"[:2000]
        notification.next_attempt_at = now + delay
        uow.commit()


def withdraw(db: Database, notification_id: uuid.UUID, reason: str) -> None:
    """Not to be sent after all (a reminder of an invoice paid meanwhile): ``cancelled``,
    with the reason; the customer was told nothing, so nothing is reported."""
    with db.unit_of_work() as uow:
        notification = uow.session.get(Notification, notification_id, with_for_update=True)
        assert notification is not None
        notification.status, notification.error = "cancelled", f"not sent: {reason}"[:2000]
        uow.commit()


def patiently(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``work(*args, **kwargs)``, tried again for about half a minute while the database is
    away (a restart, a failover). While a claimed batch is being sent, giving up would leave
    the rest of it waiting for their leases, and an email that went out but is not recorded
    as sent would go out again when its lease ends. Raises the last error if the database
    stays away."""
    pauses = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    while True:
        try:
            return work(*args, **kwargs)
        except OperationalError:
            if not pauses:
                raise
            time.sleep(pauses.pop(0))


def record_outcome(
    db: Database, notification_id: uuid.UUID, error: str | None, *, final: bool = False
) -> None:
    with db.unit_of_work() as uow:
        notification = uow.session.get(Notification, notification_id, with_for_update=True)
        assert notification is not None
        notification.attempts += 1
        if error is None:
            notification.status, notification.sent_at, notification.error = "sent", utcnow(), None
            uow.emit("notifier.notification.sent", str(notification.id), notification.snapshot())
        elif final or notification.attempts >= MAX_ATTEMPTS:
            notification.status, notification.error = "failed", error[:2000]
            uow.emit("notifier.notification.failed", str(notification.id), notification.snapshot())
        else:
            notification.status, notification.error = "queued", error[:2000]
            notification.next_attempt_at = utcnow() + retry_delay(notification.attempts)
        uow.commit()
