"""billing.invoice.updated in two versions: version 2 without the payments (its size does
not grow with the invoice's history), version 1 beside it while legacy versions are on."""

from __future__ import annotations

import json

from tests.services.test_billing_support import Billing


def updates_after(billing: Billing, mark: int) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for event in billing.events("billing.invoice.updated", after=mark):
        found.setdefault(event["version"], []).append(event["data"])
    return found


def test_an_update_goes_out_in_both_versions_the_second_without_payments(billing):
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "1"))
    mark = billing.mark()

    billing.pay(customer, "50.00", invoice_id=invoice["id"])

    updates = updates_after(billing, mark)
    (first,), (second,) = updates[1], updates[2]
    assert [p["amount"] for p in first["payments"]] == ["50.00"]
    assert "payments" not in second
    assert {k: v for k, v in first.items() if k != "payments"} == second
    assert billing.get_invoice(invoice["id"])["payments"][0]["amount"] == "50.00"  # API keeps it


def test_without_legacy_versions_only_version_2_and_it_stays_the_same_size(billing):
    billing.sut.db.legacy_event_versions = False
    customer = billing.customer()
    invoice = billing.invoice(customer, ("WIDGET", "10"))  # 1,240.00
    sizes = []
    for _ in range(5):
        mark = billing.mark()
        billing.pay(customer, "10.00", invoice_id=invoice["id"])
        updates = updates_after(billing, mark)
        assert list(updates) == [2]
        sizes.append(len(json.dumps(updates[2][0], sort_keys=True)))

    assert max(sizes) - min(sizes) <= 2  # only the amounts' digits may differ
