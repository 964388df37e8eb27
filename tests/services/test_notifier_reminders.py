"""The reminder policy and reminder runs over simulated dates: for one open invoice due
2026-03-01, each level at most once, only the highest come due, never a lower one after a
higher, nothing for paid or void invoices or customers who opted out; every reminder really
arrives at the SMTP server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from shared.clock import today
from tests.services.notifier_support import (
    DUE_DAY,
    Notifier,
    SmtpServer,
    smtp_server,
)

DEFAULT_LEVELS = [
    {"level": 1, "days_after_due": -3, "template": "upcoming"},
    {"level": 2, "days_after_due": 1, "template": "first"},
    {"level": 3, "days_after_due": 7, "template": "second"},
    {"level": 4, "days_after_due": 14, "template": "third"},
    {"level": 5, "days_after_due": 30, "template": "final"},
]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def notifier(service_factory, smtp: SmtpServer) -> Notifier:
    return Notifier(service_factory("notifier", TAMEIO_SMTP_URL=smtp.url))


@pytest.fixture
def invoice(notifier: Notifier, smtp: SmtpServer) -> dict[str, Any]:
    """One open invoice of 100.00 EUR due 2026-03-01, its invoice email already delivered."""
    customer = notifier.customer(email="ap@acme.test")
    data = notifier.invoice(customer, "100.00", due_date=DUE_DAY)
    notifier.deliver()
    smtp.wait_for(1)
    smtp.received.clear()
    return data


def levels_sent(answer: dict[str, Any]) -> list[int]:
    return [notification["level"] for notification in answer["sent"]]


def day(month: int, day_of_month: int) -> dt.date:
    return dt.date(2026, month, day_of_month)


# -- the policy ----------------------------------------------------------------------------------


def test_the_default_policy_is_five_levels_from_three_days_before_to_thirty_after(notifier):
    answer = notifier.client("viewer").get("/policy")

    assert answer.status_code == 200
    assert answer.get_json() == {"levels": DEFAULT_LEVELS}


def test_an_admin_replaces_the_policy_and_runs_follow_it(notifier, invoice, smtp):
    answer = notifier.put_policy([(1, 5, "first"), (2, 20, "final")])

    assert answer.status_code == 200, answer.get_json()
    expected = [
        {"level": 1, "days_after_due": 5, "template": "first"},
        {"level": 2, "days_after_due": 20, "template": "final"},
    ]
    assert answer.get_json() == {"levels": expected}
    assert notifier.client("viewer").get("/policy").get_json() == {"levels": expected}
    assert levels_sent(notifier.run(day(2, 26))) == []
    assert levels_sent(notifier.run(day(3, 6))) == [1]
    assert levels_sent(notifier.run(day(3, 20))) == []
    assert levels_sent(notifier.run(day(3, 21))) == [2]


def test_a_clerk_may_not_change_the_policy(notifier):
    answer = notifier.put_policy([(1, 10, "final")], role="clerk")

    assert answer.status_code == 403
    assert notifier.client("viewer").get("/policy").get_json() == {"levels": DEFAULT_LEVELS}


@pytest.mark.parametrize(
    "levels",
    [
        pytest.param([(2, 1, "first"), (3, 7, "second")], id="levels-not-starting-at-1"),
        pytest.param([(1, 1, "first"), (3, 7, "second")], id="levels-with-a-gap"),
        pytest.param([(2, 7, "second"), (1, 1, "first")], id="levels-out-of-order"),
        pytest.param([(1, 1, "first"), (1, 7, "second")], id="level-twice"),
        pytest.param([(1, 7, "first"), (2, 1, "second")], id="days-falling"),
        pytest.param([(1, 7, "first"), (2, 7, "second")], id="days-equal"),
        pytest.param([(1, 7, "angry")], id="unknown-template"),
        pytest.param([], id="no-levels"),
    ],
)
def test_an_invalid_policy_is_refused_and_the_old_one_stays(notifier, levels):
    answer = notifier.put_policy(levels)

    assert answer.status_code == 422, answer.get_json()
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["errors"]
    assert notifier.client("viewer").get("/policy").get_json() == {"levels": DEFAULT_LEVELS}


def test_only_an_admin_runs_reminders(notifier, invoice):
    answer = notifier.client("clerk").post("/reminders/run", json={"as_of": "2026-03-02"})

    assert answer.status_code == 403
    assert notifier.notifications(kind="reminder") == []


def test_a_run_without_a_date_is_for_today(notifier):
    answer = notifier.client().post("/reminders/run", json={})

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["as_of"] == today().isoformat()


def test_a_run_for_an_impossible_date_is_422(notifier):
    answer = notifier.client().post("/reminders/run", json={"as_of": "2026-02-30"})

    assert answer.status_code == 422
    assert "as_of" in answer.get_json()["errors"]


# -- runs over simulated dates -------------------------------------------------------------------


def test_nothing_is_sent_four_days_before_the_due_date(notifier, invoice, smtp):
    answer = notifier.run(day(2, 25))

    assert answer == {"as_of": "2026-02-25", "dry_run": False, "sent": []}
    assert smtp.received == []


def test_level_one_is_sent_three_days_before_the_due_date(notifier, invoice, smtp):
    answer = notifier.run(day(2, 26))

    (sent,) = answer["sent"]
    assert answer["as_of"] == "2026-02-26"
    assert sent["kind"] == "reminder"
    assert sent["level"] == 1
    assert sent["status"] == "sent"
    assert sent["invoice_id"] == invoice["id"]
    assert sent["to"] == "ap@acme.test"
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ["ap@acme.test"]
    assert mail.message["Subject"] == sent["subject"]
    assert invoice["number"] in mail.message["Subject"]
    assert "due on 2026-03-01" in mail.message["Subject"]
    assert "in 3 days" in mail.text
    assert invoice["number"] in mail.html


def test_the_due_day_sends_nothing_new_after_level_one(notifier, invoice, smtp):
    notifier.run(day(2, 26))

    assert levels_sent(notifier.run(DUE_DAY)) == []
    assert len(smtp.received) == 1


def test_one_day_late_sends_level_two_naming_the_days_late(notifier, invoice, smtp):
    notifier.run(day(2, 26))

    assert levels_sent(notifier.run(day(3, 2))) == [2]

    mail = smtp.wait_for(2)[-1]
    assert "1 day late" in mail.message["Subject"]
    assert "1 day late" in mail.text
    assert "100.00 EUR" in mail.text


def test_a_second_run_the_same_day_sends_nothing(notifier, invoice, smtp):
    assert levels_sent(notifier.run(day(3, 2))) == [1]

    assert levels_sent(notifier.run(day(3, 2))) == []
    assert len(smtp.received) == 1
    assert len(notifier.notifications(kind="reminder")) == 1


def test_levels_are_sent_in_order_one_per_run_spaced_as_the_policy_says(notifier, invoice, smtp):
    """Due 1 March; levels at -3, 1, 7, 14, 30 days: level n+1 waits (its days - level n's
    days) after level n was sent, however late the invoice already is."""
    assert levels_sent(notifier.run(day(3, 2))) == [1]  # the first run: level 1 first
    assert levels_sent(notifier.run(day(3, 5))) == []  # level 2 waits 1 - (-3) = 4 days
    assert levels_sent(notifier.run(day(3, 20))) == [2]  # one level per run
    assert levels_sent(notifier.run(day(3, 25))) == []  # level 3 waits 7 - 1 = 6 days
    assert levels_sent(notifier.run(day(3, 26))) == [3]

    assert sorted(n["level"] for n in notifier.notifications(kind="reminder")) == [1, 2, 3]
    mail = smtp.wait_for(3)[-1]
    assert "25 days late" in mail.message["Subject"]


def test_an_invoice_entered_long_overdue_starts_at_level_one_never_a_final_notice(
    notifier, invoice, smtp
):
    assert levels_sent(notifier.run(day(6, 1))) == [1]
    assert levels_sent(notifier.run(day(6, 4))) == []
    assert levels_sent(notifier.run(day(6, 5))) == [2]
    assert levels_sent(notifier.run(day(6, 11))) == [3]
    assert levels_sent(notifier.run(day(6, 18))) == [4]
    assert levels_sent(notifier.run(day(7, 3))) == []  # the final notice waits 16 days
    assert levels_sent(notifier.run(day(7, 4))) == [5]
    assert levels_sent(notifier.run(day(9, 1))) == []

    final = smtp.wait_for(5)[-1]
    assert final.message["Subject"].startswith("Final notice")
    first = smtp.received[0]
    assert not first.message["Subject"].startswith("Final notice")


def test_every_reminder_of_the_policy_arrives_with_its_days_late(notifier, invoice, smtp):
    calendar = [
        (day(2, 26), 1, "in 3 days"),
        (day(3, 2), 2, "1 day late"),
        (day(3, 8), 3, "7 days late"),
        (day(3, 15), 4, "14 days late"),
        (day(3, 31), 5, "30 days overdue"),
    ]
    for as_of, level, wording in calendar:
        assert levels_sent(notifier.run(as_of)) == [level], as_of
        mail = smtp.wait_for(level)[-1]
        assert wording in mail.text, (as_of, mail.text)
        assert invoice["number"] in mail.message["Subject"]

    assert [n["status"] for n in notifier.notifications(kind="reminder")] == ["sent"] * 5


def test_a_partly_paid_invoice_is_reminded_of_what_remains(notifier, invoice, smtp):
    notifier.invoice_updated(
        invoice, status="partially_paid", amount_paid="40.00", amount_due="60.00"
    )

    (sent,) = notifier.run(day(3, 2))["sent"]

    assert "60.00 EUR" in sent["subject"]
    assert "60.00 EUR" in smtp.wait_for(1)[-1].text


def test_a_paid_invoice_gets_no_reminder(notifier, invoice, smtp):
    notifier.invoice_updated(invoice, status="paid", amount_paid="100.00", amount_due="0.00")

    assert notifier.run(day(3, 2))["sent"] == []
    assert notifier.run(day(4, 30))["sent"] == []
    assert smtp.received == []


def test_a_void_invoice_gets_no_reminder(notifier, invoice, smtp):
    notifier.invoice_updated(invoice, status="void", amount_due="0.00", void_reason="duplicate")

    assert notifier.run(day(3, 2))["sent"] == []
    assert smtp.received == []


def test_a_customer_with_reminders_disabled_gets_none(notifier, smtp):
    quiet = notifier.customer(reminders_enabled=False)
    notifier.invoice(quiet)
    opted_out = notifier.customer()
    notifier.invoice(opted_out)
    notifier.customer_updated(opted_out, reminders_enabled=False)
    notifier.deliver()
    smtp.wait_for(2)

    assert notifier.run(day(3, 2))["sent"] == []
    assert notifier.notifications(kind="reminder") == []
    assert len(smtp.received) == 2  # only the two invoice emails


def test_a_run_reminds_every_open_invoice_and_lists_each(notifier, invoice, smtp):
    other = notifier.customer(email="ap@globex.test", name="Globex")
    later = notifier.invoice(other, "80.00", due_date=day(3, 10))
    notifier.deliver()
    smtp.received.clear()

    answer = notifier.run(day(3, 11))

    assert {(n["invoice_id"], n["level"]) for n in answer["sent"]} == {
        (invoice["id"], 1),  # levels start at 1, however late (CONTRACT round 2)
        (later["id"], 1),
    }
    assert all(n["status"] == "sent" for n in answer["sent"])
    assert sorted(m.rcpt_tos[0] for m in smtp.wait_for(2)) == ["ap@acme.test", "ap@globex.test"]


def test_a_runs_answer_shows_its_reminders_sent_even_when_older_mail_was_waiting(notifier, smtp):
    customer = notifier.customer()
    notifier.invoice(customer, due_date=DUE_DAY)  # its invoice email is still queued

    (sent,) = notifier.run(day(3, 2))["sent"]

    assert sent["status"] == "sent", "the run delivered older mail instead of its reminder"
    assert len(smtp.wait_for(1)) == 1
    assert notifier.deliver() == 1, "the older invoice email is left to the delivery loop"
    assert len(smtp.wait_for(2)) == 2
