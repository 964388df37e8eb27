"""Who is calling: roles, and the signed identity the gateway passes to services.

The gateway checks bearer tokens; services trust only the identity header it signs with
TAMEIO_INTERNAL_SECRET (subject, role, expiry), so a service port reached directly without
a valid signature answers 401.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import g
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.roles import ROLES
from shared.web.problems import Problem

IDENTITY_HEADER = "X-Tameio-Identity"
IDENTITY_TTL_SECONDS = 300

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Identity:
    subject: str
    role: str

    def has(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@functools.lru_cache(maxsize=8)
def _serializer(secret: str) -> URLSafeTimedSerializer:
    """One per secret: every request through the gateway signs once and is verified once."""
    return URLSafeTimedSerializer(
        secret, salt="tameio-identity", signer_kwargs={"digest_method": hashlib.sha256}
    )


def sign_identity(secret: str, identity: Identity) -> str:
    return _serializer(secret).dumps({"sub": identity.subject, "role": identity.role})


def verify_identity(
    secret: str, token: str, max_age: int = IDENTITY_TTL_SECONDS
) -> Identity | None:
    """The identity in a signed header, or None if forged, expired or malformed."""
    try:
        payload = _serializer(secret).loads(token, max_age=max_age)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("role") not in ROLES or not payload.get("sub"):
        return None
    return Identity(subject=str(payload["sub"]), role=str(payload["role"]))


def current_identity() -> Identity:
    identity: Identity | None = g.get("identity")
    if identity is None:
        raise Problem(401, "A valid token is required.", headers={"WWW-Authenticate": "Bearer"})
    return identity


def requires(role: str) -> Callable[[F], F]:
    """Route decorator: the caller needs at least ``role`` (viewer < clerk < admin)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = current_identity()
            if not identity.has(role):
                raise Problem(403, f"This needs the {role} role; you are {identity.role}.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
