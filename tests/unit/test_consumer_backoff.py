"""Retry backoff of the consumer runner: the delay grows, then stays at the cap."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.db import Database, new_metadata
from shared.messaging.consumer import EventProcessor


@pytest.fixture
def processor(customers_db: Database) -> EventProcessor:
    return EventProcessor(customers_db, {}, base_delay=1.0, max_delay=120.0)


def test_delay_doubles_from_the_base_delay(processor: EventProcessor) -> None:
    assert [processor.delay_for(attempts) for attempts in range(1, 8)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
    ]


def test_delay_before_any_attempt_is_the_base_delay(processor: EventProcessor) -> None:
    assert processor.delay_for(0) == 1.0


def test_delay_stops_growing_at_the_cap(processor: EventProcessor) -> None:
    assert processor.delay_for(8) == 120.0
    assert processor.delay_for(30) == 120.0


def test_delay_scales_with_the_configured_base_and_cap(customers_db: Database) -> None:
    processor = EventProcessor(customers_db, {}, base_delay=0.5, max_delay=3.0)

    assert [processor.delay_for(attempts) for attempts in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_delay_stays_at_the_cap_however_many_attempts(processor: EventProcessor) -> None:
    # A retry window of a couple of days at a 120 s cap passes attempt 1024.
    assert processor.delay_for(1025) == 120.0
    assert processor.delay_for(5000) == 120.0


@pytest.fixture(scope="module")
def shared_processor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventProcessor]:
    url = f"sqlite:///{tmp_path_factory.mktemp('backoff') / 'customers.db'}"
    db = Database("customers", url, new_metadata())
    yield EventProcessor(db, {}, base_delay=1.0, max_delay=120.0)
    db.dispose()


@given(attempts=st.integers(min_value=0, max_value=1000))
def test_delay_never_shrinks_and_never_exceeds_the_cap(
    shared_processor: EventProcessor, attempts: int
) -> None:
    processor = shared_processor
    delay = processor.delay_for(attempts)

    assert 1.0 <= delay <= 120.0
    assert processor.delay_for(attempts + 1) >= delay
