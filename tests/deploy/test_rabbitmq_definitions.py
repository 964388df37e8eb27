"""deploy/rabbitmq/definitions.json is the topology the code declares, with least-privilege
users and no credentials; passwords become RabbitMQ hashes only at deploy time."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.registry import SERVICES, definitions, topology
from shared.config import ConfigError, load_settings
from shared.messaging.definitions import password_hash, password_variable, with_passwords
from tests.deploy.conftest import DEPLOY

SETTINGS = load_settings("gateway", {}, require_secret=False)
TOPOLOGY = topology(SETTINGS, on_rabbitmq=True)


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return json.loads((DEPLOY / "rabbitmq" / "definitions.json").read_text())


def permission(document: dict[str, Any], user: str) -> dict[str, str]:
    (found,) = [p for p in document["permissions"] if p["user"] == user]
    return found


def allows(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None  # RabbitMQ matches permissions unanchored


def test_the_committed_file_is_what_the_code_builds(committed) -> None:
    assert committed == definitions(SETTINGS), (
        "deploy/rabbitmq/definitions.json is stale: "
        "tameio broker definitions --output deploy/rabbitmq/definitions.json"
    )


def test_every_consuming_service_has_its_queues_bindings_and_policy(committed) -> None:
    queues = {q["name"]: q for q in committed["queues"]}
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in committed["bindings"]}
    policies = {p["name"]: p for p in committed["policies"]}
    consuming = [name for name, s in SERVICES.items() if s.handlers]
    assert sorted(consuming) == sorted(TOPOLOGY.queues)

    for service in consuming:
        own, parked = TOPOLOGY.queue_name(service), TOPOLOGY.parked_queue_name(service)
        for name in (own, parked):
            assert queues[name]["durable"] and queues[name]["arguments"] == {
                "x-queue-type": "quorum"
            }
        for key in SERVICES[service].queue.bindings:
            assert ("tameio.events.current", own, key) in bindings
            assert ("tameio.events", own, key) not in bindings
        assert ("tameio.events.dead-letter", parked, own) in bindings
    for policy in TOPOLOGY.policies():
        assert policies[policy["name"]] == {"vhost": "/", **policy}
        assert {"delivery-limit", "dead-letter-exchange"} <= set(policy["definition"])


def test_legacy_versions_are_sorted_away_from_the_suites_queues(committed) -> None:
    exchanges = {x["name"]: x for x in committed["exchanges"]}
    assert exchanges["tameio.events"]["type"] == "topic"  # where everything is published
    assert exchanges["tameio.events.versions"]["type"] == "headers"
    assert exchanges["tameio.events.versions"]["arguments"] == {
        "alternate-exchange": "tameio.events.current"
    }
    assert exchanges["tameio.events.current"]["type"] == "topic"
    exchange_bindings = [
        (b["source"], b["destination"], b["routing_key"], b["arguments"])
        for b in committed["bindings"]
        if b["destination_type"] == "exchange"
    ]
    assert sorted(exchange_bindings) == [
        ("tameio.events", "tameio.events.versions", "#", {}),
        (
            "tameio.events.versions",
            "tameio.events.legacy",
            "",
            {"x-match": "all", "tameio-legacy": "true"},
        ),
    ]
    # Nothing reads the legacy exchange: a legacy version reaches only outside subscribers.
    assert not [b for b in committed["bindings"] if b["source"] == "tameio.events.legacy"]


def test_no_credentials_are_committed(committed) -> None:
    text = json.dumps(committed)
    assert "password" not in text
    assert all(set(user) == {"name", "tags"} for user in committed["users"])


def test_each_service_user_reads_only_its_queues_and_configures_nothing(committed) -> None:
    names = [q["name"] for q in committed["queues"]]
    for service in TOPOLOGY.queues:
        granted = permission(committed, service)
        assert granted["configure"] == "^$"
        readable = [name for name in names if allows(granted["read"], name)]
        assert readable == [TOPOLOGY.queue_name(service), TOPOLOGY.parked_queue_name(service)]


def test_a_service_publishes_only_its_own_event_types(committed) -> None:
    topics = {t["user"]: t for t in committed["topic_permissions"]}
    assert allows(permission(committed, "billing")["write"], "tameio.events")
    assert allows(topics["billing"]["write"], "billing.invoice.issued")
    assert not allows(topics["billing"]["write"], "payments.payment.received")
    assert permission(committed, "reporting")["write"] == "^$"  # reporting publishes nothing


def test_the_subscriber_reads_its_own_queues_and_publishes_nothing(committed) -> None:
    granted = permission(committed, "subscriber")
    for action in ("configure", "write", "read"):
        assert allows(granted[action], "subscriber.crm.invoices")
        assert not allows(granted[action], "billing.events")
    assert allows(granted["read"], "tameio.events")  # to bind its queues
    for exchange in [x["name"] for x in committed["exchanges"]] + ["amq.default"]:
        assert not allows(granted["write"], exchange)
    for exchange in ("tameio.events.current", "tameio.events.legacy", "tameio.events.versions"):
        assert not allows(granted["read"], exchange)  # bound to tameio.events only
    (topic,) = [t for t in committed["topic_permissions"] if t["user"] == "subscriber"]
    assert topic["write"] == "^$"


def test_password_hash_is_rabbitmqs_salted_sha256() -> None:
    # RabbitMQ 3.10.8: base64:encode(rabbit_password:salted_hash(rabbit_password_hashing_sha256,
    # <<1,2,3,4>>, <<"s3cret-pass">>)) gave "Y8FDK3FCcgt3dWvS2t+22C77HeKkLCe+xfoNywICk+w=",
    # stored after the salt.
    assert password_hash("s3cret-pass", bytes([1, 2, 3, 4])) == (
        "AQIDBGPBQytxQnILd3Vr0trfttgu+x3ipCwnvsX6DcsCApPs"
    )
    assert password_hash("same") != password_hash("same")  # a fresh salt each time


def test_passwords_come_from_the_environment_at_deploy_time(committed) -> None:
    env = {
        password_variable(u["name"]): f"{u['name']}-password-0123456789" for u in committed["users"]
    }

    rendered = with_passwords(committed, env)

    assert all(
        u["hashing_algorithm"] == "rabbit_password_hashing_sha256" for u in rendered["users"]
    )
    assert all(len(u["password_hash"]) == 48 for u in rendered["users"])
    assert "password_hash" not in committed["users"][0]  # the original is left alone
    del env["TAMEIO_BROKER_PASSWORD_SUBSCRIBER"]
    with pytest.raises(ConfigError, match=r"^TAMEIO_BROKER_PASSWORD_SUBSCRIBER: "):
        with_passwords(committed, env)
