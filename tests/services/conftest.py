"""Fixtures shared by the service tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.web.client import forget_local
from tests.services.test_billing_support import Billing, owners_know_nothing, standard_catalog


@pytest.fixture(autouse=True)
def _no_billing_left_mounted() -> Iterator[None]:
    """A stand-in billing a test mounted in-process (notifier_support) ends with the test."""
    yield
    forget_local("billing")


@pytest.fixture
def billing(service_factory) -> Iterator[Billing]:
    """Billing on PostgreSQL with the standard catalog, its owners answering nothing."""
    with owners_know_nothing():
        billing = Billing(service_factory("billing", broker="memory://"))
        standard_catalog(billing)
        yield billing
