"""Write helpers: ``If-Match`` optimistic concurrency and ``Idempotency-Key`` replays."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Response, request
from flask import json as flask_json
from sqlalchemy import Table, bindparam, select

from shared.clock import utcnow
from shared.db import UnitOfWork, insert_for
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
    return _json_text_response(flask_json.dumps(body), status, headers)


def _json_text_response(text: str, status: int, headers: dict[str, str] | None) -> Response:
    response = Response(text, status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _request_fingerprint() -> str:
    body = json_body()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.cache
def _key_statements(table: Table, dialect: str) -> tuple[Any, Any]:
    """Finding a key's row and keeping a new one (or learning that another request kept it
    first), built once per table: every create with a key runs both."""
    find = select(
        table.c.request_hash, table.c.status_code, table.c.response_body, table.c.headers
    ).where(table.c.scope == bindparam("scope"), table.c.key == bindparam("key"))
    keep = insert_for(dialect)(table).on_conflict_do_nothing().returning(table.c.key)
    return find, keep


def _replay(uow: UnitOfWork, find: Any, scope: str, key: str, fingerprint: str) -> Response | None:
    """The first answer given under this key, again; None if the key is new; 409 if it came
    with another body."""
    row = uow.connection().execute(find, {"scope": scope, "key": key}).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Problem(409, "This Idempotency-Key was used with a different request body.")
    replayed = _json_text_response(row.response_body, row.status_code, row.headers)
    replayed.headers["Idempotent-Replayed"] = "true"
    return replayed


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
    find, keep = _key_statements(uow.tables.idempotency_keys, uow.db.dialect)
    scope = f"{current_identity().subject} {request.method} {request.path}"
    fingerprint = _request_fingerprint()
    earlier = _replay(uow, find, scope, key, fingerprint)
    if earlier is not None:
        return earlier
    body, status, headers = create()
    text = flask_json.dumps(body)
    row = {
        "scope": scope,
        "key": key,
        "request_hash": fingerprint,
        "status_code": status,
        "response_body": text,
        "headers": headers,
        "created_at": utcnow(),
    }
    if uow.connection().execute(keep, row).first() is None:
        # A concurrent duplicate kept the key first (this waited for it to commit): drop
        # this one's writes and answer what that one answered.
        uow.session.rollback()
        earlier = _replay(uow, find, scope, key, fingerprint)
        if earlier is None:
            raise Problem(409, "This Idempotency-Key is being used by another request.")
        return earlier
    uow.commit()
    return _json_text_response(text, status, headers)
