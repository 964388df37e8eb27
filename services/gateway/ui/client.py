"""The UI's way to the services: the public ``/api/<service>/...`` routes, called as the
signed-in user (the gateway signs their identity as it does for a bearer token).

Nothing in the UI reads a service database; every figure on a page came through here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.test import Client

from services.gateway.routing import WSGIApp
from shared.web.auth import Identity


class ServiceDown(Exception):
    """The service did not answer (503/504, or unreachable); pages show a banner for it."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(detail or f"the {service} service is unavailable")
        self.service = service


@dataclass
class ApiError(Exception):
    """A 4xx answer: ``detail`` for the page and ``errors`` per field for the form."""

    status: int
    detail: str
    errors: dict[str, list[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]
    data: bytes


class PublicApi:
    """Calls ``/api/<service><path>`` as ``identity`` through the gateway's router."""

    def __init__(self, routes_for: Callable[[Identity], WSGIApp], identity: Identity) -> None:
        self._client = Client(routes_for(identity))

    def request(
        self,
        method: str,
        service: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
    ) -> Answer:
        """The answer of a 2xx; ApiError for a 4xx, ServiceDown for a 5xx or no answer."""
        params = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        response = self._client.open(
            f"/api/{service}{path}",
            method=method,
            query_string=params,
            json=json,
            headers={"X-Request-ID": str(uuid.uuid4()), **(headers or {})},
        )
        data = response.get_data()
        body = None if raw else response.get_json(silent=True)
        if response.status_code >= 500:
            detail = body.get("detail", "") if isinstance(body, dict) else ""
            raise ServiceDown(service, detail)
        if response.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            errors = body.get("errors") or {}
            raise ApiError(
                response.status_code,
                str(body.get("detail") or body.get("title") or response.status),
                {str(k): _messages(v) for k, v in errors.items()},
            )
        return Answer(response.status_code, body, dict(response.headers), data)

    def get(self, service: str, path: str, **query: Any) -> Any:
        return self.request("GET", service, path, query=query).body

    def post(self, service: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", service, path, json=body if body is not None else {}, **kw).body

    def patch(self, service: str, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PATCH", service, path, json=body, **kw).body

    def put(self, service: str, path: str, body: Any, **kw: Any) -> Any:
        return self.request("PUT", service, path, json=body, **kw).body


def _messages(value: Any) -> list[str]:
    """Field errors as flat strings (nested schemas answer dicts of lists)."""
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_messages(item))
        return out
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _messages(v)]
    return [str(value)]
