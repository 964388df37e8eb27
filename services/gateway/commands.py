"""The gateway's use cases: signing in and out, sessions, making and changing staff users,
making and revoking API tokens, and the first start. Each works in the caller's session,
which commits."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from services.gateway.domain import (
    ACCOUNT_WINDOW,
    CLIENT_WINDOW,
    Throttle,
    check_new_token,
    check_new_user,
    check_password,
    check_role,
    hash_password,
    needs_rehash,
    new_token,
    password_matches,
    sign_in_throttle,
    token_hash,
)
from services.gateway.models import ApiToken, LoginFailure, UiSession, User
from shared.clock import utcnow
from shared.roles import ROLES

SESSION_IDLE = dt.timedelta(hours=12)
SESSION_TOUCH_EVERY = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class StaffUser:
    """The signed-in user as pages see them."""

    id: uuid.UUID
    email: str
    role: str
    language: str | None

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: a session token, or why not (wrong, or throttled)."""

    token: str | None = None
    user: StaffUser | None = None
    throttle: Throttle | None = None


def _staff(user: User) -> StaffUser:
    return StaffUser(id=user.id, email=user.email, role=user.role, language=user.language)


def sign_in(session: Session, email: str, password: str, client: str, now: dt.datetime) -> SignIn:
    """Check the password and start a session; a wrong email or password is recorded as a
    failure of that account and client, and throttled (see domain.sign_in_throttle)."""
    email = email.strip().lower()[:320]
    client = client[:64]
    throttle = _throttle(session, email, client, now)
    if not throttle.allowed:
        return SignIn(throttle=throttle)
    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    stored = user.password_hash if user is not None and user.disabled_at is None else None
    if not password_matches(stored, password) or user is None:
        session.add(LoginFailure(email=email, client=client, failed_at=now))
        return SignIn()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    forget_old_records(session, now)
    token = secrets.token_urlsafe(32)
    session.add(
        UiSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_IDLE,
        )
    )
    return SignIn(token=token, user=_staff(user))


def _throttle(session: Session, email: str, client: str, now: dt.datetime) -> Throttle:
    def failures(column: Any, value: str, window: dt.timedelta) -> list[dt.datetime]:
        rows = session.execute(
            select(LoginFailure.failed_at).where(
                column == value, LoginFailure.failed_at > now - window
            )
        )
        return [row[0] for row in rows]

    return sign_in_throttle(
        failures(LoginFailure.email, email, ACCOUNT_WINDOW),
        failures(LoginFailure.client, client, CLIENT_WINDOW),
        now,
    )


def session_user(session: Session, token: str, now: dt.datetime) -> StaffUser | None:
    """The user of a live session (not expired, user not disabled); extends its idle time."""
    row = session.execute(
        select(UiSession, User)
        .join(User, User.id == UiSession.user_id)
        .where(UiSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    ui_session, user = row
    if ui_session.expires_at <= now or user.disabled_at is not None:
        return None
    if now - ui_session.last_seen_at >= SESSION_TOUCH_EVERY:
        ui_session.last_seen_at = now
        ui_session.expires_at = now + SESSION_IDLE
    return _staff(user)


def sign_out(session: Session, token: str) -> None:
    session.execute(delete(UiSession).where(UiSession.token_hash == token_hash(token)))


def forget_old_records(session: Session, now: dt.datetime) -> None:
    """Expired sessions and failures older than any throttle window go."""
    session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - ACCOUNT_WINDOW))


def set_language(session: Session, user_id: uuid.UUID, language: str | None) -> None:
    session.execute(update(User).where(User.id == user_id).values(language=language))


# -- administration -----------------------------------------------------------------------


def create_user(session: Session, email: str, role: str, password: str) -> User:
    """Store a staff user with an argon2 hash; ValueError if the input or email is taken."""
    email = check_new_user(email, role, password)
    if session.execute(select(User).where(User.email == email)).first():
        raise ValueError(f"a user {email} exists already")
    user = User(
        id=uuid.uuid4(),
        email=email,
        role=role,
        password_hash=hash_password(password),
        created_at=utcnow(),
    )
    session.add(user)
    return user


def change_user(
    session: Session,
    user_id: uuid.UUID,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
    now: dt.datetime,
) -> User:
    """Change a user's role, disable or enable them, or set a new password; ValueError
    for a bad role or password, LookupError for an unknown user. Disabling (or a new
    password) ends the user's sessions."""
    user = session.get(User, user_id)
    if user is None:
        raise LookupError(str(user_id))
    if role is not None:
        check_role(role)
        user.role = role
    if disabled is not None:
        user.disabled_at = now if disabled else None
    if password is not None:
        check_password(password)
        user.password_hash = hash_password(password)
    if disabled or password is not None:
        session.execute(delete(UiSession).where(UiSession.user_id == user.id))
    return user


def create_token(session: Session, name: str, role: str) -> str:
    """Store a new token for ``role`` and return it (the only time it is visible);
    ValueError for a bad role or an empty name."""
    name = check_new_token(name, role)
    token = new_token()
    session.add(
        ApiToken(
            id=uuid.uuid4(),
            name=name,
            role=role,
            token_hash=token_hash(token),
            created_at=utcnow(),
        )
    )
    return token


def revoke_token(session: Session, token_id: uuid.UUID, now: dt.datetime) -> str:
    """Revoke a token; answers its SHA-256, for the caller to drop it from a cache."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise LookupError(str(token_id))
    if token.revoked_at is None:
        token.revoked_at = now
    return str(token.token_hash)


# -- first start --------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstStart:
    """What the first start made: an admin user from the settings, a first admin token."""

    nobody_can_sign_in: bool
    token: str | None = None


def first_start(
    session: Session, admin_email: str | None, admin_password: str | None, *, first_token: bool
) -> FirstStart:
    """Create the admin user from ``admin_email``/``admin_password`` if there is no user
    yet, and, with ``first_token``, a first admin token if there is no token yet."""
    no_users = not session.execute(select(func.count()).select_from(User)).scalar_one()
    made_admin = bool(admin_email and admin_password and no_users)
    if made_admin:
        create_user(session, str(admin_email), "admin", str(admin_password))
    no_tokens = not session.execute(select(func.count()).select_from(ApiToken)).scalar_one()
    token = create_token(session, "first-start", "admin") if first_token and no_tokens else None
    return FirstStart(nobody_can_sign_in=no_users and not made_admin, token=token)
