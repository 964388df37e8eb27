"""Contract lifecycle rules without a database: which transitions a status allows and
which termination dates a contract's period admits."""

from __future__ import annotations

import datetime as dt

import pytest

from services.contracts.domain import LifecycleError, check_termination, check_transition
from shared.pricing import Contract

START = dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("action", "status", "allowed"),
    [
        ("activate", "draft", True),
        ("activate", "active", False),
        ("activate", "terminated", False),
        ("terminate", "active", True),
        ("terminate", "draft", False),
        ("terminate", "terminated", False),
    ],
)
def test_a_contract_moves_draft_to_active_to_terminated_only(action, status, allowed):
    if allowed:
        check_transition(action, status)
    else:
        with pytest.raises(LifecycleError, match=f"a {status} contract cannot be {action}d"):
            check_transition(action, status)


def test_termination_lies_within_the_contract_period():
    bounded = Contract(id="c", valid_from=START, valid_to=dt.date(2026, 12, 31))
    check_termination(bounded, START)
    check_termination(bounded, dt.date(2026, 12, 31))
    with pytest.raises(ValueError, match="on or after valid_from"):
        check_termination(bounded, START - dt.timedelta(days=1))
    with pytest.raises(ValueError, match="on or before valid_to"):
        check_termination(bounded, dt.date(2027, 1, 1))
    check_termination(Contract(id="o", valid_from=START), dt.date(2099, 1, 1))  # open-ended
