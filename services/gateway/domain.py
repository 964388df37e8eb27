"""Tokens and users: creating them and checking a presented bearer token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

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


def create_user(session: Session, email: str, role: str, password: str) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise ValueError(f"{email!r} is not an email address")
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")
    email = email.strip().lower()
    if session.execute(select(User).where(User.email == email)).first():
        raise ValueError(f"a user {email} exists already")
    user = User(
        id=uuid.uuid4(),
        email=email,
        role=role,
        password_hash=generate_password_hash(password),
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
