"""Write helpers: ``If-Match`` optimistic concurrency and ``Idempotency-Key`` replays."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Response, request
from flask import json as flask_json
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.web.auth import current_identity
from shared.web.inputs import json_body
from shared.web.problems import Problem, invalid


def check_if_match(current_version: int) -> None:
    """409 if the request carries ``If-Match`` naming another version than ``current_version``."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    wanted = [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")]
    if "*" in wanted or str(current_version) in wanted:
        return
    raise Problem(
        409,
        f"The resource is at version {current_version}, not {header.strip()}: "
        "reload it and apply your change again.",
        title="Stale version",
    )


def with_etag(response: Response, version: int) -> Response:
    response.headers["ETag"] = f'"{version}"'
    return response


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    response = Response(flask_json.dumps(body), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _request_fingerprint() -> str:
    body = json_body()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_create(
    uow: UnitOfWork, create: Callable[[], tuple[Any, int, dict[str, str]]]
) -> Response:
    """Run ``create`` once per ``Idempotency-Key`` and commit ``uow``.

    ``create`` does its writes in ``uow`` and returns (JSON body, status, headers). With a key
    seen before (same caller, method and path) the first answer is returned again and nothing
    is written; a different body under the same key is 409. The key row is written in the
    same transaction as the record, so a retried request can never record twice; a
    concurrent duplicate waits on the key's primary key until the first commits.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        body, status, headers = create()
        uow.commit()
        return json_response(body, status, headers)
    if not 1 <= len(key) <= 200:
        raise invalid("Idempotency-Key", "Must be 1 to 200 characters.")
    table = uow.tables.idempotency_keys
    scope = f"{current_identity().subject} {request.method} {request.path}"
    fingerprint = _request_fingerprint()

    def replay() -> Response | None:
        row = uow.session.execute(
            select(table).where(table.c.scope == scope, table.c.key == key)
        ).first()
        if row is None:
            return None
        if row.request_hash != fingerprint:
            raise Problem(409, "This Idempotency-Key was used with a different request body.")
        replayed = Response(row.response_body, status=row.status_code, mimetype="application/json")
        for name, value in (row.headers or {}).items():
            replayed.headers[name] = value
        replayed.headers["Idempotent-Replayed"] = "true"
        return replayed

    earlier = replay()
    if earlier is not None:
        return earlier
    body, status, headers = create()
    try:
        uow.session.execute(
            table.insert().values(
                scope=scope,
                key=key,
                request_hash=fingerprint,
                status_code=status,
                response_body=flask_json.dumps(body),
                headers=headers,
                created_at=utcnow(),
            )
        )
        uow.commit()
    except IntegrityError:
        uow.session.rollback()
        earlier = replay()
        if earlier is None:
            raise
        return earlier
    return json_response(body, status, headers)
