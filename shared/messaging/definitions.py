"""RabbitMQ definitions (the file a broker loads at boot) built from the topology the code
declares, with one least-privilege user per service and a read-only ``subscriber``.

``deploy/rabbitmq/definitions.json`` is this document for the default names and carries no
credentials; at deploy time ``tameio broker definitions --with-passwords`` adds a salted hash
per user from ``TAMEIO_BROKER_PASSWORD_<USER>`` (the broker never sees a password in a file).
A test keeps the committed file equal to what this module builds, so they cannot drift.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kombu import Exchange

from shared.config import ConfigError
from shared.messaging.topology import Topology

VHOST = "/"
ADMIN = "admin"
SUBSCRIBER = "subscriber"
# Queues an outside subscriber may declare, bind and read: subscriber.<system>.<purpose>.
SUBSCRIBER_QUEUES = r"subscriber\..+"
NOTHING = "^$"


def _exact(name: str) -> str:
    return "^" + re.escape(name) + "$"


def _user(name: str, tags: list[str]) -> dict[str, Any]:
    return {"name": name, "tags": tags}


def _permission(user: str, configure: str, write: str, read: str) -> dict[str, str]:
    return {"user": user, "vhost": VHOST, "configure": configure, "write": write, "read": read}


def broker_definitions(
    topology: Topology, publishers: Iterable[str], delivery_limit: int = 20
) -> dict[str, Any]:
    """The whole definitions document: exchanges, queues, bindings, policies, users and
    their permissions. ``publishers`` are the services that publish events; each service
    user reads only its own two queues, publishes (if it does) only its own event types,
    and may configure nothing (workers run with ``TAMEIO_DECLARE_TOPOLOGY=false``)."""
    publishing = sorted(set(publishers))
    services = sorted(set(topology.queues) | set(publishing))
    queues, bindings = _queues_and_bindings(topology)
    permissions, topic_permissions = _permissions(topology, services, publishing)
    return {
        "users": [_user(ADMIN, ["administrator"])]
        + [_user(service, []) for service in services]
        + [_user(SUBSCRIBER, [])],
        "vhosts": [{"name": VHOST}],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "parameters": [],
        "global_parameters": [],
        "policies": [{"vhost": VHOST, **policy} for policy in topology.policies(delivery_limit)],
        "queues": queues,
        "exchanges": [_exchange(x) for x in topology.exchanges],
        "bindings": [
            _binding(source, destination, "exchange", key, arguments)
            for source, destination, key, arguments in topology.exchange_bindings()
        ]
        + bindings,
    }


def _exchange(exchange: Exchange) -> dict[str, Any]:
    return {
        "name": exchange.name,
        "vhost": VHOST,
        "type": exchange.type,
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": exchange.arguments or {},  # type: ignore[attr-defined]  # kombu sets it
    }


def _binding(
    source: str, destination: str, kind: str, key: str, arguments: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "source": source,
        "vhost": VHOST,
        "destination": destination,
        "destination_type": kind,
        "routing_key": key,
        "arguments": arguments or {},
    }


def _queues_and_bindings(topology: Topology) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each service's queue and parked queue (quorum), bound to the exchange of the suite's
    queues by its routing keys and to the dead-letter exchange by its queue's name."""
    exchange = topology.queues_exchange.name
    dead = topology.dead_letter_exchange.name
    queues: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []
    for service in sorted(topology.queues):
        own, parked = topology.queue_name(service), topology.parked_queue_name(service)
        for name in (own, parked):
            queues.append(
                {
                    "name": name,
                    "vhost": VHOST,
                    "durable": True,
                    "auto_delete": False,
                    "arguments": {"x-queue-type": "quorum"},
                }
            )
        routes = [(exchange, own, key) for key in topology.queues[service].bindings]
        routes.append((dead, parked, own))
        bindings += [
            _binding(source, destination, "queue", key) for source, destination, key in routes
        ]
    return queues, bindings


def _permissions(
    topology: Topology, services: list[str], publishing: list[str]
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Permissions and topic permissions of the admin, every service and the subscriber."""
    exchange = topology.exchange.name
    permissions = [_permission(ADMIN, ".*", ".*", ".*")]
    topic_permissions = []
    for service in services:
        own, parked = topology.queue_name(service), topology.parked_queue_name(service)
        reads = (
            f"^({re.escape(own)}|{re.escape(parked)})$" if service in topology.queues else NOTHING
        )
        writes = _exact(exchange) if service in publishing else NOTHING
        permissions.append(_permission(service, NOTHING, writes, reads))
        if service in publishing:
            topic_permissions.append(
                {
                    "user": service,
                    "vhost": VHOST,
                    "exchange": exchange,
                    "write": "^" + re.escape(f"{service}."),
                    "read": ".*",
                }
            )
    # Its own queues only; the events exchange only to bind them; nothing to publish to.
    permissions.append(
        _permission(
            SUBSCRIBER,
            f"^{SUBSCRIBER_QUEUES}$",
            f"^{SUBSCRIBER_QUEUES}$",
            f"^({re.escape(exchange)}|{SUBSCRIBER_QUEUES})$",
        )
    )
    topic_permissions.append(
        {"user": SUBSCRIBER, "vhost": VHOST, "exchange": exchange, "write": NOTHING, "read": ".*"}
    )
    return permissions, topic_permissions


def password_variable(user: str) -> str:
    return f"TAMEIO_BROKER_PASSWORD_{user.upper()}"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def with_passwords(definitions: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """A copy whose users carry a password hash from TAMEIO_BROKER_PASSWORD_<USER>.

    Raises ConfigError naming the variable of a user without a password (16+ characters).
    """
    users = []
    for user in definitions["users"]:
        variable = password_variable(user["name"])
        password = env.get(variable) or ""
        if len(password) < 16:
            raise ConfigError(f"{variable}: missing or shorter than 16 characters")
        users.append(
            {
                **user,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
            }
        )
    return {**definitions, "users": users}
