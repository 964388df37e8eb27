"""The gateway's rules with no I/O: what makes a valid token, user and password, how
passwords and tokens are hashed, and the throttle for repeated wrong passwords."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

from shared.roles import ROLES

TOKEN_PREFIX = "tmo_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role: str) -> None:
    """ValueError unless ``role`` is one of the roles (viewer, clerk, admin)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")


def check_new_token(name: str, role: str) -> str:
    """The name of a token about to be made, trimmed; ValueError saying what is wrong."""
    check_role(role)
    if not name.strip():
        raise ValueError("a token needs a name")
    return name.strip()


def new_token() -> str:
    """A new API token: the prefix and 32 random bytes (stored only as its hash)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


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
    check_role(role)
    if "@" not in email:
        raise ValueError(f"{email!r} is not an email address")
    check_password(password)
    return email.strip().lower()


def check_password(password: str) -> None:
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")


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
