"""The gateway's rules: argon2 passwords, the throttle for repeated wrong passwords, and
what makes a valid role, token and new user."""

from __future__ import annotations

import datetime as dt

import pytest
from werkzeug.security import generate_password_hash

from services.gateway.domain import (
    TOKEN_PREFIX,
    check_new_token,
    check_new_user,
    check_role,
    hash_password,
    needs_rehash,
    new_token,
    password_matches,
    sign_in_throttle,
    token_hash,
)

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


def test_passwords_are_argon2_and_old_werkzeug_hashes_still_verify_then_rehash():
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert password_matches(stored, "correct horse")
    assert not password_matches(stored, "correct horsf")
    legacy = generate_password_hash("correct horse")
    assert password_matches(legacy, "correct horse") and needs_rehash(legacy)
    assert not needs_rehash(stored)
    assert not password_matches(None, "anything")  # unknown email: same answer, same work


def test_a_few_failures_are_free_then_each_try_waits_longer():
    assert sign_in_throttle([ago(5), ago(4)], [], NOW).allowed
    three = [ago(30), ago(20), ago(1)]
    verdict = sign_in_throttle(three, [], NOW)
    assert not verdict.allowed and verdict.reason == "account" and verdict.retry_after == 1
    assert sign_in_throttle([*three[:2], ago(3)], [], NOW).allowed
    five = [ago(60), ago(50), ago(40), ago(30), ago(5)]
    assert sign_in_throttle(five, [], NOW).retry_after == 3  # 8 s after the last


def test_ten_failures_lock_the_account_for_the_rest_of_fifteen_minutes():
    ten = [ago(600 - i) for i in range(10)]
    verdict = sign_in_throttle(ten, [], NOW)
    assert not verdict.allowed and verdict.reason == "account"
    assert 290 <= verdict.retry_after <= 300
    assert sign_in_throttle([ago(901)] * 10, [], NOW).allowed


def test_the_eleventh_failure_from_one_client_within_a_minute_is_refused():
    assert sign_in_throttle([], [ago(i) for i in range(9)], NOW).allowed
    verdict = sign_in_throttle([], [ago(50 - i) for i in range(10)], NOW)
    assert not verdict.allowed and verdict.reason == "client"
    assert 1 <= verdict.retry_after <= 60
    assert sign_in_throttle([], [ago(61)] * 10, NOW).allowed


def test_only_the_three_roles_exist():
    for role in ("viewer", "clerk", "admin"):
        check_role(role)
    with pytest.raises(ValueError, match="role must be one of viewer, clerk, admin"):
        check_role("owner")


def test_a_token_needs_a_name_and_a_role():
    assert check_new_token("  accounting ", "clerk") == "accounting"
    with pytest.raises(ValueError, match="a token needs a name"):
        check_new_token("   ", "clerk")
    with pytest.raises(ValueError, match="role must be one of"):
        check_new_token("accounting", "root")


def test_new_tokens_carry_the_prefix_and_differ_and_are_stored_as_sha256():
    first, second = new_token(), new_token()
    assert first.startswith(TOKEN_PREFIX) and len(first) == len(TOKEN_PREFIX) + 43
    assert first != second
    assert token_hash(first) != token_hash(second) and len(token_hash(first)) == 64


def test_a_new_user_needs_an_email_a_role_and_eight_characters():
    assert check_new_user(" Ana@Example.COM ", "admin", "12345678") == "ana@example.com"
    with pytest.raises(ValueError, match="is not an email address"):
        check_new_user("ana", "admin", "12345678")
    with pytest.raises(ValueError, match="at least 8 characters"):
        check_new_user("ana@example.com", "admin", "1234567")
    with pytest.raises(ValueError, match="role must be one of"):
        check_new_user("ana@example.com", "boss", "12345678")
