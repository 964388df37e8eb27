"""The signed caller identity between gateway and services, and role ordering."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner

from shared.web.auth import (
    IDENTITY_TTL_SECONDS,
    ROLES,
    Identity,
    _serializer,
    sign_identity,
    verify_identity,
)

SECRET = "gateway-and-services-share-this"


@pytest.mark.parametrize("role", ROLES)
def test_a_signed_identity_verifies_to_the_same_subject_and_role(role: str) -> None:
    identity = Identity(subject="token:ops", role=role)

    assert verify_identity(SECRET, sign_identity(SECRET, identity)) == identity


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = sign_identity("some-other-secret-value", Identity("token:ops", "admin"))

    assert verify_identity(SECRET, token) is None


def test_a_tampered_signature_is_refused() -> None:
    token = sign_identity(SECRET, Identity("token:ops", "viewer"))
    # Not the last character: base64 may spend its low bits on padding, so changing it can
    # leave the decoded signature as it was.
    index = len(token) - 8
    changed = "A" if token[index] != "A" else "B"

    assert verify_identity(SECRET, token[:index] + changed + token[index + 1 :]) is None


def test_a_payload_swapped_into_a_valid_signature_is_refused() -> None:
    viewer = sign_identity(SECRET, Identity("token:ops", "viewer"))
    admin = sign_identity("attacker-secret-0000", Identity("token:ops", "admin"))
    forged = admin.split(".")[0] + "." + ".".join(viewer.split(".")[1:])

    assert verify_identity(SECRET, forged) is None


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "....."])
def test_a_malformed_token_is_refused(token: str) -> None:
    assert verify_identity(SECRET, token) is None


def _signed_seconds_ago(monkeypatch: pytest.MonkeyPatch, seconds: int) -> str:
    signed_at = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda _self: signed_at)
        return sign_identity(SECRET, Identity("token:ops", "clerk"))


def test_an_identity_older_than_its_lifetime_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _signed_seconds_ago(monkeypatch, IDENTITY_TTL_SECONDS + 5)

    assert verify_identity(SECRET, token) is None


def test_an_identity_within_its_lifetime_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _signed_seconds_ago(monkeypatch, IDENTITY_TTL_SECONDS - 5)

    assert verify_identity(SECRET, token) == Identity("token:ops", "clerk")


def test_a_shorter_max_age_refuses_an_older_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _signed_seconds_ago(monkeypatch, 2)

    assert verify_identity(SECRET, token, max_age=0) is None


def _signed_payload(payload: object) -> str:
    """Any payload, signed exactly as the gateway signs an identity."""
    return str(_serializer(SECRET).dumps(payload))


def test_a_payload_signed_like_the_gateway_does_verifies() -> None:
    token = _signed_payload({"sub": "token:ops", "role": "admin"})

    assert verify_identity(SECRET, token) == Identity("token:ops", "admin")


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": "token:ops", "role": "root"},
        {"sub": "token:ops"},
        {"sub": "", "role": "admin"},
        {"role": "admin"},
        ["token:ops", "admin"],
        "admin",
    ],
)
def test_a_correctly_signed_but_malformed_payload_is_refused(payload: object) -> None:
    token = _signed_payload(payload)

    assert verify_identity(SECRET, token) is None


@pytest.mark.parametrize(
    ("held", "needed", "allowed"),
    [
        ("viewer", "viewer", True),
        ("viewer", "clerk", False),
        ("viewer", "admin", False),
        ("clerk", "viewer", True),
        ("clerk", "clerk", True),
        ("clerk", "admin", False),
        ("admin", "viewer", True),
        ("admin", "clerk", True),
        ("admin", "admin", True),
    ],
)
def test_roles_are_ordered_viewer_clerk_admin(held: str, needed: str, allowed: bool) -> None:
    assert Identity("someone", held).has(needed) is allowed
