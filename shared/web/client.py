"""Calling another service's API (only as a fallback when a replica misses something).

Over HTTP at ``TAMEIO_<SERVICE>_URL`` with the caller's identity signed like the gateway
does; in embedded mode the services are mounted in this process and called directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import urllib3
from werkzeug.test import Client

from shared.config import Settings
from shared.web.auth import IDENTITY_HEADER, Identity, sign_identity

_local_apps: dict[str, Any] = {}


class ServiceUnavailable(Exception):
    """The other service did not answer (down, or too slow)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


def register_local(service: str, wsgi_app: Any) -> None:
    """Embedded mode: ``service`` is mounted in this process."""
    _local_apps[service] = wsgi_app


class ServiceClient:
    def __init__(self, settings: Settings, timeout: float = 5.0) -> None:
        self.settings = settings
        self.identity = Identity(subject=f"service:{settings.service}", role="viewer")
        self.timeout = urllib3.Timeout(connect=1.0, read=timeout)
        self.pool = urllib3.PoolManager(maxsize=4, retries=False)

    def get_bytes(self, service: str, path: str) -> tuple[int, bytes]:
        """GET raw bytes (a PDF, say); raises ServiceUnavailable if the service cannot answer."""
        headers = {IDENTITY_HEADER: sign_identity(self.settings.internal_secret, self.identity)}
        local = _local_apps.get(service)
        if local is not None:
            local_answer = Client(local).get(path, headers=headers)
            return local_answer.status_code, local_answer.get_data()
        try:
            url = f"{self.settings.service_urls[service]}{path}"
            response = self.pool.request("GET", url, headers=headers, timeout=self.timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise ServiceUnavailable(
                f"the {service} service did not answer ({type(exc).__name__})"
            ) from None
        return response.status, bytes(response.data)

    def get(self, service: str, path: str) -> Answer:
        """GET ``path`` of ``service``; raises ServiceUnavailable if it cannot answer."""
        headers = {IDENTITY_HEADER: sign_identity(self.settings.internal_secret, self.identity)}
        local = _local_apps.get(service)
        if local is not None:
            local_answer = Client(local).get(path, headers=headers)
            return Answer(local_answer.status_code, local_answer.get_json(silent=True))
        try:
            response = self.pool.request(
                "GET",
                f"{self.settings.service_urls[service]}{path}",
                headers=headers,
                timeout=self.timeout,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ServiceUnavailable(
                f"the {service} service did not answer: {type(exc).__name__}"
            ) from None
        if response.status >= 500:
            raise ServiceUnavailable(f"the {service} service answered {response.status}")
        try:
            body = json.loads(response.data) if response.data else None
        except ValueError:
            body = None
        return Answer(response.status, body)


def forget_local(service: str) -> None:
    _local_apps.pop(service, None)
