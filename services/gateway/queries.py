"""The gateway's reads: who a bearer token is, and the staff users and API tokens as the
admin pages list them."""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.gateway.domain import token_hash
from services.gateway.models import ApiToken, User
from shared.web.auth import Identity


def identify_token(session: Session, token: str, bootstrap_token: str | None) -> Identity | None:
    """The identity a bearer token stands for (the bootstrap token: admin), or None."""
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


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.email)).scalars())


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.created_at.desc())).scalars())
