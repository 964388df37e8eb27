"""Tokens and users: creating them and checking a presented bearer token."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from services.gateway.models import ApiToken, User
from shared.clock import utcnow
from shared.web.auth import ROLES, Identity

TOKEN_PREFIX = "tmo_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str) -> str:
    """Store a new token for ``role`` and return it (the only time it is visible)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            id=uuid.uuid4(),
            name=name.strip(),
            role=role,
            token_hash=token_hash(token),
            created_at=utcnow(),
        )
    )
    return token


_hasher = PasswordHasher()
# Checked when the email is unknown, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` fits ``stored_hash`` (argon2, or a Werkzeug hash made before
    argon2); with no hash it still spends the time of one check and answers False."""
    if stored_hash is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return False
    if not stored_hash.startswith("$argon2"):
        return check_password_hash(stored_hash, password)
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return not stored_hash.startswith("$argon2") or _hasher.check_needs_rehash(stored_hash)


def check_new_user(email: str, role: str, password: str) -> str:
    """The normalized email of a user about to be created; ValueError saying what is wrong."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise ValueError(f"{email!r} is not an email address")
    check_password(password)
    return email.strip().lower()


def check_password(password: str) -> None:
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")


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


class TokenCache:
    """Recently checked tokens (valid or not) for a few seconds: one lookup per token per
    TTL instead of one per request. A revoked token stops working within the TTL."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Identity | None]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> tuple[bool, Identity | None]:
        key = token_hash(token)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, token: str, identity: Identity | None) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token_hash(token)] = (time.monotonic() + self.ttl, identity)

    def forget(self, hashed: str) -> None:
        """Drop a token (by its SHA-256) at once, e.g. when it was revoked here."""
        with self._lock:
            self._entries.pop(hashed, None)


def identify_token(session: Session, token: str, bootstrap_token: str | None) -> Identity | None:
    """The identity a bearer token stands for, or None."""
    if bootstrap_token and hmac.compare_digest(token.encode(), bootstrap_token.encode()):
        return Identity(subject="bootstrap", role="admin")
    row = session.execute(
        select(ApiToken).where(
            ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return Identity(subject=f"token:{row.name}", role=row.role)


# -- sign-in throttling -------------------------------------------------------------------

ACCOUNT_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_SLOW_AFTER = 3  # failures before each further try must wait
ACCOUNT_LOCK_AFTER = 10  # failures in the window before the account is refused for a while
CLIENT_WINDOW = dt.timedelta(seconds=60)
CLIENT_LIMIT = 10  # the 11th failure from one client within a minute is refused (CONTRACT)


@dataclass(frozen=True)
class Throttle:
    """Whether a sign-in may be tried now; when not, how long to wait and why."""

    allowed: bool
    retry_after: int = 0
    reason: str = ""  # "account" or "client"


def sign_in_throttle(
    account_failures: list[dt.datetime], client_failures: list[dt.datetime], now: dt.datetime
) -> Throttle:
    """The rule for repeated wrong passwords, from the recent failures of this account (any
    client) and of this client (any account): a client with CLIENT_LIMIT failures in the
    last minute waits until the oldest leaves the minute; an account with
    ACCOUNT_LOCK_AFTER failures in 15 minutes is refused until the oldest leaves them;
    past ACCOUNT_SLOW_AFTER failures each try waits 2, 4, 8… (at most 60) seconds after
    the last one."""
    client = sorted(t for t in client_failures if t > now - CLIENT_WINDOW)
    if len(client) >= CLIENT_LIMIT:
        wait = client[-CLIENT_LIMIT] + CLIENT_WINDOW - now
        return Throttle(False, _seconds(wait), "client")
    account = sorted(t for t in account_failures if t > now - ACCOUNT_WINDOW)
    if len(account) >= ACCOUNT_LOCK_AFTER:
        wait = account[-ACCOUNT_LOCK_AFTER] + ACCOUNT_WINDOW - now
        return Throttle(False, _seconds(wait), "account")
    if len(account) >= ACCOUNT_SLOW_AFTER:
        pause = dt.timedelta(seconds=min(60, 2 ** (len(account) - ACCOUNT_SLOW_AFTER + 1)))
        if account[-1] + pause > now:
            return Throttle(False, _seconds(account[-1] + pause - now), "account")
    return Throttle(True)


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))
