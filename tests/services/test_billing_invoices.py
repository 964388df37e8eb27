"""Billing invoices: auto-filled from the customer replica, dated by payment terms, priced by
the catalog and contract replicas, and validated."""

from __future__ import annotations

import datetime as dt

from tests.services.test_billing_support import DAY

ADDRESS = {
    "line1": "1 Harbour Road",
    "line2": None,
    "city": "Piraeus",
    "postal_code": "18531",
    "region": None,
    "country": "GR",
}


def test_bill_to_and_currency_come_from_the_customer(billing):
    billing.item("GADGET", "10.00", currency="USD")
    customer = billing.customer(
        name="Olympic Freight SA",
        email="ar@olympic.test",
        tax_id="EL123456789",
        billing_address=ADDRESS,
        currency="USD",
    )

    invoice = billing.invoice(customer, ("GADGET", "3"))

    assert invoice["bill_to"] == {
        "name": "Olympic Freight SA",
        "email": "ar@olympic.test",
        "tax_id": "EL123456789",
        "billing_address": ADDRESS,
    }
    assert invoice["currency"] == "USD"
    assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == (
        "30.00",
        "7.20",
        "37.20",
    )
    assert billing.account(customer)["currency"] == "USD"


def test_a_later_customer_update_leaves_an_issued_invoices_bill_to_alone(billing):
    customer = billing.customer(name="Old Name Ltd", billing_address=ADDRESS)
    issued = billing.invoice(customer)

    moved = {**ADDRESS, "line1": "99 New Street", "city": "Athens"}
    billing.customer_updated(customer, name="New Name Ltd", billing_address=moved, version=2)

    kept = billing.get_invoice(issued["id"])
    assert kept["bill_to"]["name"] == "Old Name Ltd"
    assert kept["bill_to"]["billing_address"] == ADDRESS
    assert billing.invoice(customer)["bill_to"]["name"] == "New Name Ltd", "new ones use it"


def test_due_date_follows_the_payment_terms_across_month_ends_and_leap_years(billing):
    cases = [
        ("net_30", dt.date(2026, 3, 2), dt.date(2026, 4, 1)),
        ("net_0", dt.date(2026, 3, 2), dt.date(2026, 3, 2)),
        ("eom_15", dt.date(2026, 1, 20), dt.date(2026, 2, 15)),
        ("eom_15", dt.date(2026, 12, 5), dt.date(2027, 1, 15)),
        ("eom_0", dt.date(2028, 2, 10), dt.date(2028, 2, 29)),
        ("eom_0", dt.date(2026, 2, 10), dt.date(2026, 2, 28)),
        ("eom_30", dt.date(2026, 1, 31), dt.date(2026, 3, 2)),
        ("eom_30", dt.date(2028, 1, 31), dt.date(2028, 3, 1)),
    ]
    for terms, issued_on, due_on in cases:
        customer = billing.customer(payment_terms=terms)
        invoice = billing.invoice(customer, issue_date=issued_on)
        assert (invoice["issue_date"], invoice["due_date"]) == (
            issued_on.isoformat(),
            due_on.isoformat(),
        ), terms


def test_an_explicit_due_date_wins_over_the_terms(billing):
    customer = billing.customer(payment_terms="net_30")

    invoice = billing.invoice(customer, due_date="2026-03-09")

    assert invoice["due_date"] == "2026-03-09"


def test_a_due_date_before_the_issue_date_is_422(billing):
    customer = billing.customer()
    lines = [{"sku": "WIDGET", "quantity": "1"}]

    explicit = billing.post_invoice(customer, lines, issue_date="2026-03-10", due_date="2026-03-09")
    before_today = billing.post_invoice(customer, lines, due_date="2000-01-01")

    for answer in (explicit, before_today):
        assert answer.status_code == 422
        assert "due_date" in answer.get_json()["errors"]
    assert billing.ledger(customer) == []


def test_lines_are_priced_from_the_catalog_replica_with_its_tax_code(billing):
    customer = billing.customer()

    invoice = billing.invoice(customer, ("WIDGET", "2"), ("BOOK", "3"))

    widget, book = invoice["lines"]
    assert (widget["unit_price"], widget["net_amount"], widget["tax_rate"]) == (
        "100.00",
        "200.00",
        "24.00",
    )
    assert (widget["tax_amount"], widget["description"]) == ("48.00", "Item WIDGET")
    assert (book["unit_price"], book["net_amount"], book["tax_rate"], book["tax_amount"]) == (
        "20.00",
        "60.00",
        "13.00",
        "7.80",
    )
    assert (invoice["subtotal"], invoice["tax_total"], invoice["total"]) == (
        "260.00",
        "55.80",
        "315.80",
    )
    assert invoice["contract_id"] is None
    assert invoice["amount_due"] == "315.80"


def test_a_manual_unit_price_overrides_and_rounds_half_up(billing):
    customer = billing.customer()

    answer = billing.post_invoice(
        customer,
        [{"sku": "WIDGET", "quantity": "3", "unit_price": "0.1250", "description": "Sample"}],
        issue_date=DAY.isoformat(),
    )

    assert answer.status_code == 201, answer.get_json()
    (line,) = answer.get_json()["lines"]
    assert (line["unit_price"], line["net_amount"], line["tax_amount"]) == ("0.125", "0.38", "0.09")
    assert line["description"] == "Sample"


def test_the_contract_in_force_gives_its_price_discount_and_exempt_note(billing):
    customer = billing.customer()
    contract_id = billing.contract(
        customer,
        valid_from=dt.date(2026, 3, 1),
        valid_to=dt.date(2026, 12, 31),
        discount_percent="10.00",
        tax_treatment={"type": "exempt", "rate": None, "note": "VAT exempt, art. 39"},
        prices={"WIDGET": "80.00"},
    )

    inside = billing.invoice(customer, ("WIDGET", "3"), ("BOOK", "1"), issue_date=DAY)
    before = billing.invoice(customer, ("WIDGET", "3"), issue_date=dt.date(2026, 2, 28))
    after = billing.invoice(customer, ("WIDGET", "3"), issue_date=dt.date(2027, 1, 1))

    widget, book = inside["lines"]
    assert inside["contract_id"] == contract_id
    assert (widget["unit_price"], widget["discount_percent"], widget["net_amount"]) == (
        "80.00",
        "10.00",
        "216.00",
    )
    assert (widget["tax_rate"], widget["tax_amount"], widget["tax_note"]) == (
        "0.00",
        "0.00",
        "VAT exempt, art. 39",
    )
    assert (book["unit_price"], book["net_amount"]) == ("20.00", "18.00"), "catalog, discounted"
    assert inside["total"] == "234.00"
    for outside in (before, after):
        (line,) = outside["lines"]
        assert outside["contract_id"] is None
        assert (line["unit_price"], line["tax_rate"], line["tax_note"]) == ("100.00", "24.00", None)
        assert outside["total"] == "372.00"


def test_a_custom_rate_contract_and_new_tax_rates_apply(billing):
    billing.tax_rates(standard="25.50", reduced="13.00", super_reduced="6.00", zero="0.00")
    plain = billing.customer()
    custom = billing.customer()
    billing.contract(
        custom,
        valid_from=dt.date(2026, 1, 1),
        tax_treatment={"type": "custom_rate", "rate": "5.00", "note": "Island rate"},
    )

    at_new_rate = billing.invoice(plain, ("WIDGET", "1"))
    at_custom_rate = billing.invoice(custom, ("WIDGET", "1"))

    assert at_new_rate["lines"][0]["tax_rate"] == "25.50"
    assert at_new_rate["total"] == "125.50"
    assert at_custom_rate["lines"][0]["tax_rate"] == "5.00"
    assert at_custom_rate["lines"][0]["tax_note"] == "Island rate"
    assert at_custom_rate["total"] == "105.00"


def test_an_item_in_another_currency_needs_a_price(billing):
    customer = billing.customer(currency="USD")

    answer = billing.post_invoice(customer, [{"sku": "WIDGET", "quantity": "1"}])

    assert answer.status_code == 422
    assert "lines.0.unit_price" in answer.get_json()["errors"]


def test_an_unknown_customer_is_422(billing):
    answer = billing.post_invoice(
        "6f1c9a53-2a55-4a4e-9b77-0e1c3c9d2f10", [{"sku": "WIDGET", "quantity": "1"}]
    )

    assert answer.status_code == 422
    assert "customer_id" in answer.get_json()["errors"]


def test_an_archived_customer_gets_no_invoice_409(billing):
    customer = billing.customer()
    draft = billing.invoice(customer, draft=True)
    billing.customer_archived(customer)

    created = billing.post_invoice(customer, [{"sku": "WIDGET", "quantity": "1"}])
    issued = billing.client().post(f"/invoices/{draft['id']}/issue")

    assert created.status_code == 409
    assert issued.status_code == 409
    assert billing.ledger(customer) == []


def test_empty_lines_bad_quantities_and_unknown_skus_are_422_and_post_nothing(billing):
    customer = billing.customer()
    widget = {"sku": "WIDGET", "quantity": "1"}
    cases = [
        ([], "lines"),
        ([{"sku": "WIDGET", "quantity": "0"}], "lines.0.quantity"),
        ([{"sku": "WIDGET", "quantity": "-1"}], "lines.0.quantity"),
        ([{"sku": "WIDGET", "quantity": "1.00001"}], "lines.0.quantity"),
        ([{"sku": "WIDGET"}], "lines.0.quantity"),
        ([{"sku": "NOPE", "quantity": "1"}], "lines.0.sku"),
        ([widget, {"sku": "NOPE", "quantity": "1"}], "lines.1.sku"),
        ([{**widget, "unit_price": "-5"}], "lines.0.unit_price"),
    ]
    for lines, field in cases:
        answer = billing.post_invoice(customer, lines)

        assert answer.status_code == 422, (lines, answer.get_json())
        assert answer.mimetype == "application/problem+json"
        assert field in answer.get_json()["errors"], (lines, answer.get_json())
    assert billing.ledger(customer) == []
    assert billing.events("billing.invoice.issued") == []
    assert billing.client("viewer").get("/invoices").get_json()["items"] == []


def test_unknown_or_malformed_invoice_ids_are_404(billing):
    viewer, clerk = billing.client("viewer"), billing.client("clerk")
    unknown = "0b0f4b0e-58a4-4b5e-9d0e-6a8f2b7b4c11"

    assert viewer.get(f"/invoices/{unknown}").status_code == 404
    assert viewer.get("/invoices/not-a-uuid").status_code == 404
    assert clerk.post(f"/invoices/{unknown}/issue").status_code == 404
    assert clerk.post("/invoices/12345/issue").status_code == 404
    assert billing.client("admin").post(f"/invoices/{unknown}/void", json={}).status_code == 404


def test_a_viewer_cannot_create_and_malformed_json_is_400(billing):
    customer = billing.customer()
    body = {"customer_id": customer, "lines": [{"sku": "WIDGET", "quantity": "1"}]}

    refused = billing.client("viewer").post("/invoices", json=body)
    malformed = billing.client().post(
        "/invoices", data="{not json", headers={"Content-Type": "application/json"}
    )

    assert refused.status_code == 403
    assert malformed.status_code == 400
    assert billing.ledger(customer) == []


def test_invoices_list_by_customer_status_and_overdue(billing):
    customer, other = billing.customer(), billing.customer()
    late = billing.invoice(customer, issue_date=dt.date(2020, 1, 1))
    billing.invoice(customer, draft=True)
    billing.invoice(other)
    viewer = billing.client("viewer")

    mine = viewer.get("/invoices", query_string={"customer_id": customer}).get_json()["items"]
    drafts = viewer.get(
        "/invoices", query_string={"customer_id": customer, "status": "draft"}
    ).get_json()["items"]
    overdue = viewer.get(
        "/invoices", query_string={"customer_id": customer, "overdue": "true"}
    ).get_json()["items"]

    assert len(mine) == 2
    assert [i["status"] for i in drafts] == ["draft"]
    assert [i["id"] for i in overdue] == [late["id"]]
    assert overdue[0]["overdue"] is True and overdue[0]["days_overdue"] > 0


def test_an_invoice_is_found_by_its_number_in_any_case(billing):
    customer = billing.customer()
    billing.invoice(customer)
    wanted = billing.invoice(customer)
    billing.invoice(customer, draft=True)
    viewer = billing.client("viewer")

    def found(number: str) -> list[str]:
        answer = viewer.get("/invoices", query_string={"number": number})
        assert answer.status_code == 200, answer.get_json()
        return [i["id"] for i in answer.get_json()["items"]]

    assert found(wanted["number"]) == [wanted["id"]]
    assert found(wanted["number"].lower()) == [wanted["id"]]
    assert found("INV-1999-000001") == []
