"""Staff sign-in rules: argon2 passwords and the throttle for repeated wrong passwords."""

from __future__ import annotations

import datetime as dt

from werkzeug.security import generate_password_hash

from services.gateway.domain import (
    hash_password,
    needs_rehash,
    password_matches,
    sign_in_throttle,
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
