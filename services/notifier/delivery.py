"""Delivering queued notifications: the sending loop, SMTP or .eml files.

A notification is recorded before anything is sent (commands.queue: one row per cause, so a
duplicated trigger changes nothing), claimed here and marked ``sending`` in its own
transaction before it is handed to SMTP, and marked ``sent`` (emitting
notifier.notification.sent) after. A crash between the two leaves it ``sending``: it is sent
again with the same Message-ID, the only window in which a duplicate email is possible.
Failures are retried with growing delay, then marked ``failed`` (emitting
notifier.notification.failed). Just before it is sent an email is written anew from
billing's figures of that moment (documents.py), and what it said is recorded with the
outcome; while billing cannot answer it waits (postponed), and one that should not go after
all is withdrawn (``cancelled``). The emails of a round share one SMTP session.
"""

from __future__ import annotations

import datetime as dt
import functools
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import OperationalError

from services.notifier import events, queries
from services.notifier.commands import NO_ADDRESS
from services.notifier.documents import NO_ACCOUNTS, Accounts, DocumentAway, accounts_for, fetch_for
from services.notifier.domain import retry_delay, status_after_attempt, waiting_delay
from services.notifier.mail import Outgoing, Part, address_header, encoded, outgoing
from services.notifier.models import Notification
from services.notifier.wording import NothingToSay, Reader, Written
from shared.clock import utcnow
from shared.config import Settings
from shared.db import Database, UnitOfWork

T = TypeVar("T")
LEASE = dt.timedelta(minutes=2)  # longer than any SMTP exchange (10 s timeout)
SENDER = ("Tameio Receivables", "receivables@tameio.invalid")


# -- the mailers ----------------------------------------------------------------------------


class Mailer(Protocol):
    def send(self, message: Outgoing) -> None: ...

    def close(self) -> None: ...


class SmtpMailer:
    """smtp://user:pass@host:587?starttls=1, or smtps://host:465. One SMTP session serves
    every message until :meth:`close` (a round of the sending loop), so each message costs
    its own commands only, not a connection, a greeting and a login."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.parts = urlsplit(url)
        self.starttls = parse_qs(self.parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.timeout = timeout
        self.client: smtplib.SMTP | None = None

    def send(self, message: Outgoing) -> None:
        if self.client is not None:
            try:
                self._send(self.client, message)
                return
            except smtplib.SMTPServerDisconnected:
                self.close()  # the server ended the session meanwhile: a new one below
            except BaseException:
                self.close()
                raise
        self.client = self._connect()
        try:
            self._send(self.client, message)
        except BaseException:
            self.close()  # whatever state the session is in, the next message starts anew
            raise

    @staticmethod
    def _send(client: smtplib.SMTP, message: Outgoing) -> None:
        """MAIL, RCPT and DATA of one message (SMTPUTF8 when an address is not ASCII: raises
        SMTPNotSupportedError if the server lacks it, as ``send_message`` did)."""
        options = ["SMTPUTF8", "BODY=8BITMIME"] if message.international else []
        client.sendmail(message.sender, message.recipients, message.data, options)

    def _connect(self) -> smtplib.SMTP:
        host, port = self.parts.hostname or "127.0.0.1", self.parts.port
        if self.parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port or 465, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port or 25, timeout=self.timeout)
        try:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.parts.username:
                client.login(unquote(self.parts.username), unquote(self.parts.password or ""))
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        """End the session (QUIT), if one is open."""
        client, self.client = self.client, None
        if client is None:
            return
        with suppress(OSError, smtplib.SMTPException):
            client.quit()
        client.close()


class FileMailer:
    """Embedded mode: every message as a real .eml file in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: Outgoing) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        name = message.message_id.strip("<>").split("@")[0]
        (self.folder / f"{stamp}-{name}.eml").write_bytes(message.data)

    def close(self) -> None:
        pass


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url)
    return FileMailer(settings.data_dir / "mail")


# -- the message ----------------------------------------------------------------------------


def sender(company: dict[str, Any] | None) -> tuple[str, str]:
    """(name, address) the emails come from: the company profile's name and email, the
    placeholder before one is set."""
    if not company or not company.get("email"):
        return SENDER
    return str(company.get("name") or ""), str(company["email"])


def compose(
    notification: Notification,
    attachment: bytes | None = None,
    company: dict[str, Any] | None = None,
) -> Outgoing:
    """The message as sent: from the company, Reply-To when it has one, dated now, the
    text and HTML parts, and the PDF if any."""
    name, address = sender(company)
    headers = [("From", address_header(name, address))]
    if company and company.get("reply_to"):
        headers.append(("Reply-To", str(company["reply_to"])))
    headers += [
        ("To", notification.to or ""),
        ("Subject", encoded(notification.subject, "Subject")),
        ("Date", format_datetime(utcnow())),
        ("Message-ID", str(notification.message_id)),
    ]
    parts = [Part("text/plain", notification.body), Part("text/html", notification.body_html)]
    if attachment is not None:
        parts.append(Part("application/pdf", attachment, f"{attachment_name(notification)}.pdf"))
    return outgoing(headers, parts, address)


def attachment_name(notification: Notification) -> str:
    """The document number the subject starts with ("Invoice INV-2026-000001: ...")."""
    return notification.subject.split(":")[0].split(" ")[-1]


def message_id_for(company: dict[str, Any] | None, settings: Settings) -> str:
    """A new Message-ID under the sender's domain: the company profile's email, else the
    host of TAMEIO_PUBLIC_URL, else this machine's name."""
    email = str((company or {}).get("email") or "")
    if "@" in email:
        return make_msgid(domain=email.rpartition("@")[2])
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return make_msgid(domain=host)


# -- the sending loop -----------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """What the emails claimed together share while they are sent: the settings, the mailer
    (one SMTP session), the seller they go from and each customer as a reader, read once
    for them all, and the accounts they state, read together from billing."""

    settings: Settings
    mailer: Mailer
    company: dict[str, Any] | None
    readers: dict[str, Reader]
    accounts: Accounts = NO_ACCOUNTS

    def reader(self, customer_id: str) -> Reader:
        """Who reads an email to ``customer_id``: nameless and in English if not known."""
        return self.readers.get(customer_id) or Reader("", "en", self.company)


def deliver_due(
    db: Database,
    settings: Settings,
    mailer: Mailer | None = None,
    limit: int = 20,
    only: Sequence[uuid.UUID] | None = None,
) -> int:
    """Send what is due (queued, or left ``sending`` by a crash), or just ``only``; returns how
    many were tried. Claiming a row leases it: nobody else sends it until the lease ends."""
    with db.unit_of_work() as uow:
        due, company = claim(uow, settings, limit, only)
        readers = queries.readers(uow, {n.customer_id for n in due}, company) if due else {}
        uow.commit()
    if not due:
        return 0
    mailer = mailer or mailer_for(settings)
    this = Round(settings, mailer, company, readers, accounts_for(settings, due))
    try:
        for notification in due:
            send(db, this, notification)
    finally:
        mailer.close()
    return len(due)


def deliver_now(db: Database, settings: Settings, ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """Send the notifications ``ids`` at once; answers each as it stands after its try."""
    deliver_due(db, settings, limit=max(len(ids), 1), only=ids)
    with db.unit_of_work() as uow:
        return events.notifications(queries.notifications(uow, ids))


def claim(
    uow: UnitOfWork, settings: Settings, limit: int, only: Sequence[uuid.UUID] | None
) -> tuple[list[Notification], dict[str, Any] | None]:
    """Up to ``limit`` notifications due (or just ``only``), leased to this loop: marked
    ``sending`` and given their Message-ID under the sender's domain; with the sender (the
    company profile) they go from."""
    now = utcnow()
    stmt = (
        select(Notification)
        .where(Notification.status.in_(("queued", "sending")), Notification.next_attempt_at <= now)
        .order_by(Notification.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if only is not None:
        stmt = stmt.where(Notification.id.in_(list(only)))
    due = list(uow.session.execute(stmt).scalars())
    if not due:
        return due, None
    company = queries.company(uow)
    for notification in due:
        notification.status = "sending"
        notification.next_attempt_at = now + LEASE
        notification.message_id = notification.message_id or message_id_for(company, settings)
    return due, company


def send(db: Database, this: Round, notification: Notification) -> None:
    """One claimed email: written anew from billing's figures, handed to the mailer, its
    outcome recorded (with what it now says); postponed while billing cannot answer,
    withdrawn when it should not go."""
    error = None
    try:
        written, attachment = write_at_sending(this, notification)
    except DocumentAway as exc:
        patiently(postpone, db, notification.id, str(exc))
        return
    except NothingToSay as exc:
        patiently(withdraw, db, notification.id, str(exc))
        return
    if not notification.to:
        error = NO_ADDRESS
    else:
        try:
            this.mailer.send(compose(notification, attachment, this.company))
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
    outcome = Outcome(error, final=not notification.to, written=written)
    patiently(record_outcome, db, notification.id, outcome)


def write_at_sending(
    this: Round, notification: Notification
) -> tuple[Written | None, bytes | None]:
    """Fetch what ``notification`` states from billing (one request) and write it anew for
    its reader (their name and language, the seller as replicated now) in ``notification``
    (what is sent); returns what it now says, for its row (what the history logs), and the
    PDF it attaches (None if it has none). Raises DocumentAway while billing cannot answer,
    NothingToSay when it should not go at all. One queued without facts is sent as written
    (None)."""
    if not notification.to:
        return None, None
    fetched = fetch_for(this.settings, notification, this.accounts)
    if fetched is None:
        return None, None
    written = fetched.written_for(this.reader(notification.customer_id))
    notification.kind, notification.subject = written.kind, written.subject
    notification.body, notification.body_html = written.text, written.html
    return written, fetched.pdf


def postpone(db: Database, notification_id: uuid.UUID, reason: str) -> None:
    """Wait for the document an email needs (billing is down): queued again, the reason
    kept as its error, no attempt charged, so it is never sent without its document and
    never given up while the document may come back (domain.waiting_delay)."""
    with db.unit_of_work() as uow:
        notification = uow.session.get(Notification, notification_id, with_for_update=True)
        assert notification is not None
        now = utcnow()
        notification.status = "queued"
        notification.error = f"waiting for its document: {reason}"[:2000]
        notification.next_attempt_at = now + waiting_delay(now - notification.created_at)
        uow.commit()


def withdraw(db: Database, notification_id: uuid.UUID, reason: str) -> None:
    """Not to be sent after all (a reminder of an invoice paid meanwhile): ``cancelled``,
    with the reason; the customer was told nothing, so nothing is reported."""
    with db.unit_of_work() as uow:
        notification = uow.session.get(Notification, notification_id, with_for_update=True)
        assert notification is not None
        notification.status, notification.error = "cancelled", f"not sent: {reason}"[:2000]
        uow.commit()


class Outcome(NamedTuple):
    """One try of an email: the error (None: SMTP took it), whether it can never go
    (``final``), and what it said when it was written anew for the try (None: as queued)."""

    error: str | None
    final: bool = False
    written: Written | None = None


NOTIFICATIONS = cast(Table, Notification.__table__)
# What notifier.notification.* says of a notification (events.notification).
REPORTED = [
    NOTIFICATIONS.c[name]
    for name in (
        "id", "kind", "level", "channel", "to", "subject", "body", "status", "invoice_id",
        "customer_id", "payment_id", "created_at", "sent_at", "error", "attempts",
    )
]  # fmt: skip


@functools.cache
def _mark_sent(rewritten: bool) -> Any:
    """UPDATE ... RETURNING what the event reports: an email SMTP took, and (``rewritten``)
    what it said; built once."""
    values: dict[str, Any] = {
        "attempts": NOTIFICATIONS.c.attempts + 1,
        "status": "sent",
        "sent_at": bindparam("now", type_=NOTIFICATIONS.c.sent_at.type),
        "error": None,
    }
    if rewritten:
        for name in ("kind", "subject", "body", "body_html"):
            values[name] = bindparam(f"new_{name}", type_=NOTIFICATIONS.c[name].type)
    return (
        update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == bindparam("notification_id", type_=NOTIFICATIONS.c.id.type))
        .values(values)
        .returning(*REPORTED)
    )


def record_outcome(db: Database, notification_id: uuid.UUID, outcome: Outcome) -> None:
    """One try's outcome, with what the email said: ``sent`` (notifier.notification.sent),
    ``failed`` for good (notifier.notification.failed), or queued to be tried again later
    (domain.retry_delay)."""
    with db.unit_of_work() as uow:
        if outcome.error is None:
            _record_sent(uow, notification_id, outcome.written)
        else:
            _record_failure(uow, notification_id, outcome)
        uow.commit()


def _record_sent(uow: UnitOfWork, notification_id: uuid.UUID, written: Written | None) -> None:
    """Sent: one statement, whose answer is what notifier.notification.sent reports."""
    params: dict[str, Any] = {"notification_id": notification_id, "now": utcnow()}
    if written is not None:
        params.update(
            new_kind=written.kind,
            new_subject=written.subject,
            new_body=written.text,
            new_body_html=written.html,
        )
    row = uow.session.execute(_mark_sent(written is not None), params).first()
    assert row is not None
    uow.emit("notifier.notification.sent", str(row.id), events.notification(row))


def _record_failure(uow: UnitOfWork, notification_id: uuid.UUID, outcome: Outcome) -> None:
    """Failed: queued to be tried again, or failed for good and reported."""
    notification = uow.session.get(Notification, notification_id, with_for_update=True)
    assert notification is not None and outcome.error is not None
    if outcome.written is not None:
        written = outcome.written
        notification.kind, notification.subject = written.kind, written.subject
        notification.body, notification.body_html = written.text, written.html
    notification.attempts += 1
    status = status_after_attempt(True, notification.attempts, final=outcome.final)
    notification.status = status
    notification.error = outcome.error[:2000]
    if status == "queued":
        notification.next_attempt_at = utcnow() + retry_delay(notification.attempts)
    else:
        uow.emit(
            f"notifier.notification.{status}",
            str(notification.id),
            events.notification(notification),
        )


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
