import uuid, json
import pytest
from shared.messaging.consumer import EventProcessor
from services.reporting.handlers import HANDLERS
from tests.services.test_messaging import envelope, body_of

@pytest.mark.parametrize("embedded", [False, True])
def test_probe(service_factory, embedded):
    reporting = service_factory("reporting", embedded=embedded)
    p = EventProcessor(reporting.db, HANDLERS)
    long_type = "x" * 119 + ".thing.happened"
    ev = envelope(long_type, "s1", 1, {"a": 1})
    try:
        print("outcome", p.process(body_of(ev)))
    except Exception as exc:
        print("RAISED", type(exc).__name__, str(exc)[:200])
    ev2 = envelope("customers.customer.created", "s1", 1, {}, source="s" * 60)
    from tests.services.test_messaging import customer_data
    ev2 = envelope("customers.customer.created", "s2", 1, customer_data(), source="s" * 60)
    try:
        print("outcome2", p.process(body_of(ev2)))
    except Exception as exc:
        print("RAISED2", type(exc).__name__, str(exc)[:200])
    print(reporting.rows(reporting.db.tables.retries))
