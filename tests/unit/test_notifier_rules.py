"""Notifier's pure rules, without a database: the reminder policy and the spacing of its
levels, which events call for an email, the figures a notice states, and when a delivery
is tried again. (The first examples of reminder_due are in test_money_rules.py.)"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifier.domain import (
    DEFAULT_POLICY,
    MAX_ATTEMPTS,
    Level,
    check_policy,
    invoices_named,
    is_history,
    language_of,
    nothing_due,
    payment_calls_for_notice,
    payment_notice_kind,
    reminder_due,
    reminder_subject,
    retry_delay,
    reversal_took_back,
    status_after_attempt,
    waiting_delay,
    zero_like,
)

FAST = settings(max_examples=40, deadline=None)
DUE = dt.date(2026, 3, 1)
POLICY = [Level(*level) for level in DEFAULT_POLICY]
SECONDS = dt.timedelta(seconds=1)


def on(days_after_due: int) -> dt.date:
    return DUE + dt.timedelta(days=days_after_due)


# -- the policy and reminder_due ------------------------------------------------------------


def test_the_default_policy_passes_its_own_check():
    check_policy(POLICY)


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ([Level(2, 1, "first")], "numbered 1..n"),
        ([Level(1, 1, "first"), Level(3, 7, "second")], "numbered 1..n"),
        ([Level(1, 7, "first"), Level(2, 1, "second")], "rise with the level"),
        ([Level(1, 7, "first"), Level(2, 7, "second")], "rise with the level"),
    ],
)
def test_a_policy_out_of_order_is_refused(levels, message):
    with pytest.raises(ValueError, match=message):
        check_policy(levels)


def test_the_next_level_waits_for_the_policys_gap_after_the_last_one_went():
    # level 2 (day 1) went late, on day 10: level 3 (day 7) waits its 6-day gap, to day 16
    assert reminder_due(POLICY, DUE, on(15), highest_sent=2, last_sent_on=on(10)) is None
    assert reminder_due(POLICY, DUE, on(16), highest_sent=2, last_sent_on=on(10)) == POLICY[2]


def test_without_the_day_the_last_level_went_only_the_next_levels_own_day_counts():
    assert reminder_due(POLICY, DUE, on(7), highest_sent=2) == POLICY[2]
    assert reminder_due(POLICY, DUE, on(6), highest_sent=2) is None


@FAST
@given(entered=st.integers(-10, 60))
def test_daily_runs_send_every_level_once_in_order_spaced_as_the_policy_says(entered):
    """An invoice first seen on day ``entered`` and a run every day after: the levels go
    1, 2, ... each on or after its own day and never closer to the previous one than the
    policy's gap."""
    sent: list[tuple[Level, int]] = []
    for day in range(entered, 150):
        highest, last = (sent[-1][0].level, on(sent[-1][1])) if sent else (0, None)
        level = reminder_due(POLICY, DUE, on(day), highest, last)
        if level is not None:
            sent.append((level, day))

    assert [level for level, _ in sent] == POLICY
    for (previous, sent_on), (level, day) in pairwise(sent):
        assert day >= level.days_after_due
        assert day - sent_on >= level.days_after_due - previous.days_after_due


def test_a_reminder_of_an_invoice_that_asks_nothing_is_not_sent():
    assert nothing_due("open", "100.00") is False
    assert nothing_due("partially_paid", "0.01") is False
    assert nothing_due("open", "0.00") is True
    assert nothing_due("paid", "0.00") is True
    assert nothing_due("void", "100.00") is True


def test_a_reminders_subject_is_the_final_notice_upcoming_or_late():
    assert reminder_subject("final", -3) == "reminder_final"
    assert reminder_subject("upcoming", -3) == "reminder_upcoming"
    assert reminder_subject("first", 0) == "reminder_late"
    assert reminder_subject("second", 7) == "reminder_late"


# -- which events call for an email ---------------------------------------------------------


def test_only_notify_false_marks_history():
    assert is_history({"notify": False}) is True
    assert is_history({"notify": True}) is False
    assert is_history({}) is False  # events from before the flag


def test_a_payment_calls_for_a_notice_unless_credit_was_reused_or_it_is_history():
    assert payment_calls_for_notice({"allocations": []}) is True
    assert payment_calls_for_notice({"from_credit": True}) is False
    assert payment_calls_for_notice({"notify": False}) is False


def test_a_reversal_that_took_nothing_back_calls_for_nothing():
    paid = [{"invoice_id": "a", "amount": "80.00"}]
    assert reversal_took_back(paid, "0.00") is True
    assert reversal_took_back([], "20.00") is True  # only credit was removed
    assert reversal_took_back([{"invoice_id": "a", "amount": "0.00"}], None) is False
    assert reversal_took_back([], "0") is False


# -- the figures of a notice ----------------------------------------------------------------


def test_the_invoices_a_notice_states():
    facts = {
        "allocations": [{"invoice_id": "b", "amount": "1"}, {"invoice_id": "a", "amount": "2"}]
    }

    assert invoices_named("partial_payment", facts, "b") == ["b", "a"]
    assert invoices_named("payment_reversed", facts, None) == ["b", "a"]
    assert invoices_named("reminder", {"invoice_id": "c"}, "c") == ["c"]
    assert invoices_named("refund", facts, None) == []
    assert invoices_named("credit_note", facts, "b") == []


def test_a_receipt_only_when_every_invoice_touched_is_paid():
    assert payment_notice_kind(["0.00", "0"]) == "payment_receipt"
    assert payment_notice_kind(["0.00", "12.50"]) == "partial_payment"
    assert payment_notice_kind([]) == "payment_receipt"  # all of it left as credit


def test_zero_is_written_like_the_amount_beside_it():
    assert zero_like("12.50") == "0.00"
    assert zero_like("7") == "0"
    assert zero_like("1.000") == "0.000"


def test_a_customer_reads_english_unless_their_snapshot_names_greek():
    assert language_of({"language": "el"}) == "el"
    assert language_of({"language": "fr"}) == "en"
    assert language_of({}) == "en"
    assert language_of(None) == "en"


# -- delivery timing ------------------------------------------------------------------------


def test_retries_wait_five_seconds_doubling_up_to_ten_minutes():
    assert [retry_delay(n) // SECONDS for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 320, 600]


@FAST
@given(first=st.integers(0, 10**6), later=st.integers(0, 10**6))
def test_an_email_waiting_for_its_document_waits_longer_the_longer_it_waited(first, later):
    short, long = sorted((first, later))
    waits = waiting_delay(short * SECONDS), waiting_delay(long * SECONDS)

    assert waits[0] <= waits[1]
    assert all(5 * SECONDS <= wait <= 600 * SECONDS for wait in waits)
    assert waiting_delay(40 * SECONDS) == 10 * SECONDS  # a quarter of the time it waited


def test_an_email_fails_for_good_on_its_last_attempt_or_when_it_can_never_go():
    assert status_after_attempt(False, 3) == "sent"
    assert status_after_attempt(True, 1) == "queued"
    assert status_after_attempt(True, MAX_ATTEMPTS - 1) == "queued"
    assert status_after_attempt(True, MAX_ATTEMPTS) == "failed"
    assert status_after_attempt(True, 1, final=True) == "failed"
