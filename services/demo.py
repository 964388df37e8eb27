"""``tameio demo``: realistic demo data for a running suite, through the public API only.

A year of business for a few dozen customers with Greek and Latin names: a catalog,
contracts with discounts and tax treatments, invoices, payments (some partial, some late),
credit notes, a refund and logged calls. Running it twice adds nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import urllib3

MARKER_DOMAIN = "demo.tameio.test"  # every demo customer's email is at this domain

ITEMS = [
    ("CONSULT-H", "Consulting hour", "80.00", "standard"),
    ("SUPPORT-M", "Support plan, monthly", "250.00", "standard"),
    ("LIC-Y", "Software licence, yearly", "1200.00", "standard"),
    ("TRAIN-D", "Training day", "600.00", "standard"),
    ("BOOK", "Printed handbook", "25.00", "reduced"),
    ("HOST-M", "Hosting, monthly", "45.00", "standard"),
]
CUSTOMERS = [
    ("Ακρόπολις Εμπορική Α.Ε.", "GR", "Αθήνα", "net_30"),
    ("Ολυμπιακή Τροφίμων Α.Ε.", "GR", "Πειραιάς", "net_30"),
    ("Αιγαίο Logistics Ε.Π.Ε.", "GR", "Σύρος", "net_45"),
    ("Κρήτη Ελαιόλαδα Ο.Ε.", "GR", "Ηράκλειο", "net_14"),
    ("Παπαδόπουλος & Υιοί Ο.Ε.", "GR", "Θεσσαλονίκη", "eom_30"),
    ("Θεσσαλική Βιομηχανία Α.Β.Ε.Ε.", "GR", "Λάρισα", "net_60"),
    ("Μακεδονικά Γαλακτοκομικά Α.Ε.", "GR", "Κοζάνη", "net_30"),
    ("Ιόνιο Ναυτιλιακή Α.Ε.", "GR", "Πάτρα", "net_30"),
    ("Δελφοί Σύμβουλοι Ι.Κ.Ε.", "GR", "Αθήνα", "net_14"),
    ("Πήγασος Εκδόσεις", "GR", "Αθήνα", "net_30"),
    ("Ερμής Ταχυμεταφορές Α.Ε.", "GR", "Βόλος", "net_30"),
    ("Αθηνά Λογιστικά Γραφεία", "GR", "Χαλκίδα", "net_7"),
    ("Ζαγόρι Ξενοδοχεία Α.Ε.", "GR", "Ιωάννινα", "eom_30"),
    ("Νάξος Αγροτικός Συνεταιρισμός", "GR", "Νάξος", "net_30"),
    ("Κυκλάδες Κατασκευαστική Α.Τ.Ε.", "GR", "Μύκονος", "net_45"),
    ("Northwind Traders Ltd", "GB", "London", "net_30"),
    ("Contoso GmbH", "DE", "München", "net_30"),
    ("Fabrikam S.A.", "FR", "Lyon", "net_45"),
    ("Adventure Works B.V.", "NL", "Utrecht", "net_30"),
    ("Tailspin Toys S.r.l.", "IT", "Milano", "eom_30"),
    ("Wingtip Toys Ltd", "IE", "Dublin", "net_14"),
    ("Litware Inc.", "US", "Boston", "net_30"),
    ("Proseware AB", "SE", "Göteborg", "net_30"),
    ("Lucerne Publishing AG", "CH", "Luzern", "net_60"),
    ("Coho Winery", "CY", "Λεμεσός", "net_30"),
    ("Alpine Ski House GmbH", "AT", "Innsbruck", "net_14"),
    ("Blue Yonder Airlines", "CY", "Λάρνακα", "net_30"),
    ("Trey Research Ltd", "GB", "Cambridge", "net_30"),
    ("Margie's Travel", "MT", "Valletta", "net_7"),
    ("Humongous Insurance S.A.", "LU", "Luxembourg", "net_30"),
]
CALLS = [
    ("phone", "outbound", "Reminder by phone", "Promised to pay the open invoice this week."),
    ("phone", "inbound", "Question about an invoice", "Asked for a copy of the PDF; sent."),
    ("email", "outbound", "Statement sent", "Sent the account statement at their request."),
    ("meeting", "outbound", "Yearly review", "Agreed to renew the licence in spring."),
    ("note", "internal", "Payment pattern", "Usually pays two weeks late; do not escalate."),
]


class DemoError(Exception):
    """The suite refused something the demo needs (wrong URL or token, a service down)."""


@dataclass
class PublicApi:
    base_url: str
    token: str

    def call(
        self, method: str, path: str, body: Any = None, tries: int = 60, wait_for: int = 0
    ) -> Any:
        """One API call; a reference another service has not heard of yet (422), a busy
        service (503) or ``wait_for`` (a status that means "not yet") is tried again for a
        while, as the events travel."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if method == "POST" and path.split("?")[0].rstrip("/").split("/")[-1] in {
            "invoices",
            "payments",
            "credit-notes",
            "refunds",
        }:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        for attempt in range(tries):
            try:
                answer = urllib3.request(
                    method, f"{self.base_url}/api{path}", json=body, headers=headers, timeout=30
                )
            except urllib3.exceptions.HTTPError as exc:
                raise DemoError(f"cannot reach {self.base_url}: {exc}") from None
            if answer.status < 300:
                return answer.json() if answer.data else None
            if answer.status in (401, 403):
                raise DemoError("the token is not an admin token of this suite")
            if answer.status in (422, 503, wait_for) and attempt < tries - 1:
                time.sleep(min(0.1 * (attempt + 1), 2.0))  # about a minute in all
                continue
            raise DemoError(f"{method} {path}: {answer.status} {answer.data[:300]!r}")
        raise DemoError(f"{method} {path}: gave up")


def already_there(api: PublicApi) -> bool:
    found = api.call("GET", f"/customers/customers?q={MARKER_DOMAIN}&limit=1")
    return bool(found["items"])


def steps(api: PublicApi, today: dt.date, customers: int = len(CUSTOMERS)) -> Iterator[str]:
    """Fill the suite, yielding after each record (for a progress bar)."""
    rng = random.Random(14)
    known = {i["sku"] for i in api.call("GET", "/contracts/items?limit=500")["items"]}
    for sku, name, price, code in ITEMS:
        if sku not in known:
            body = {"sku": sku, "name": name, "unit_price": price, "tax_code": code}
            api.call("POST", "/contracts/items", {**body, "currency": "EUR"})
        yield f"item {sku}"
    made: list[dict[str, Any]] = []
    for n, (name, country, city, terms) in enumerate(CUSTOMERS[:customers]):
        slug = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())[:12]
        made.append(
            api.call(
                "POST",
                "/customers/customers",
                {
                    "name": name,
                    "email": f"ap.{slug or 'customer'}{n}@{MARKER_DOMAIN}",
                    "phone": f"+30 210 {5550000 + n * 37:07d}",
                    "tax_id": f"{'EL' if country == 'GR' else country}{800000000 + n * 7919}",
                    "payment_terms": terms,
                    "billing_address": {
                        "line1": f"{rng.choice(['Ερμού', 'Main Street', 'Σταδίου'])} {n + 1}",
                        "city": city,
                        "postal_code": f"{10000 + n * 131}",
                        "country": country,
                    },
                },
            )
        )
        yield f"customer {name}"
    yield from _contracts(api, made, today)
    for customer in made:
        yield from _a_year_of(api, rng, customer, today)
    yield from _calls(api, rng, made, today)


def _contracts(api: PublicApi, made: list[dict[str, Any]], today: dt.date) -> Iterator[str]:
    treatments = [
        ({"type": "standard"}, "10"),
        ({"type": "standard"}, "5"),
        ({"type": "reverse_charge", "note": "Reverse charge, Art. 196 Directive 2006/112/EC"}, "0"),
        ({"type": "exempt", "note": "Exempt under Art. 22 of the VAT code"}, "0"),
        ({"type": "custom_rate", "rate": "13", "note": "Island rate"}, "7.5"),
    ]
    start = (today - dt.timedelta(days=400)).isoformat()
    for customer, (treatment, discount) in zip(made[::5], treatments, strict=False):
        contract = api.call(
            "POST",
            "/contracts/contracts",
            {
                "customer_id": customer["id"],
                "name": f"Framework agreement {today.year - 1}",
                "valid_from": start,
                "discount_percent": discount,
                "tax_treatment": treatment,
                "prices": [{"sku": "CONSULT-H", "unit_price": "72.00"}],
            },
        )
        api.call("POST", f"/contracts/contracts/{contract['id']}/activate")
        yield f"contract for {customer['name']}"


def _a_year_of(
    api: PublicApi, rng: random.Random, customer: dict[str, Any], today: dt.date
) -> Iterator[str]:
    """Invoices over the last year, paid on time, late, partly or not at all."""
    invoices = []
    for _ in range(rng.randint(3, 7)):
        issued = today - dt.timedelta(days=rng.randint(5, 360))
        lines = [
            {"sku": sku, "quantity": str(rng.choice([1, 1, 2, 3, 5, 10]))}
            for sku in rng.sample([i[0] for i in ITEMS], rng.randint(1, 3))
        ]
        body = {"customer_id": customer["id"], "lines": lines, "issue_date": issued.isoformat()}
        invoices.append(api.call("POST", "/billing/invoices", body))
        yield f"invoice for {customer['name']}"
    for invoice in sorted(invoices, key=lambda i: i["due_date"]):
        habit = rng.random()
        due = dt.date.fromisoformat(invoice["due_date"])
        if habit < 0.15:
            continue  # not paid: overdue or open
        paid_on = min(today, due + dt.timedelta(days=rng.randint(-10, 5 if habit < 0.6 else 60)))
        amount = Decimal(invoice["total"])
        if habit > 0.85:
            amount = (amount * Decimal("0.4")).quantize(Decimal("0.01"))  # a partial payment
        api.call(
            "POST",
            "/payments/payments",
            {
                "customer_id": customer["id"],
                "amount": str(amount),
                "currency": customer["currency"],
                "method": rng.choice(["bank_transfer", "bank_transfer", "card", "check"]),
                "reference": f"RF{rng.randint(10, 99)} {invoice['number'][-6:]}",
                "received_on": max(
                    paid_on, dt.date.fromisoformat(invoice["issue_date"])
                ).isoformat(),
            },
        )
        yield f"payment from {customer['name']}"
    if invoices and rng.random() < 0.12:
        invoice = invoices[0]
        api.call(
            "POST",
            "/billing/credit-notes",
            {
                "customer_id": customer["id"],
                "invoice_id": invoice["id"],
                "amount": str((Decimal(invoice["total"]) / 10).quantize(Decimal("0.01"))),
                "reason": "Goodwill: delivery was late",
            },
        )
        yield f"credit note for {customer['name']}"


def _calls(
    api: PublicApi, rng: random.Random, made: list[dict[str, Any]], today: dt.date
) -> Iterator[str]:
    for customer in rng.sample(made, min(10, len(made))):
        channel, direction, subject, body = rng.choice(CALLS)
        moment = dt.datetime.combine(today - dt.timedelta(days=rng.randint(1, 90)), dt.time(10))
        api.call(
            "POST",
            f"/customers/customers/{customer['id']}/interactions",
            {
                "channel": channel,
                "direction": direction,
                "subject": subject,
                "body": body,
                "occurred_at": moment.replace(tzinfo=dt.UTC).isoformat(),
            },
        )
        yield f"call with {customer['name']}"
    yield _refund(api, made[-1], today)


def _settled(api: PublicApi, customer_id: str) -> bool:
    waiting = api.call("GET", f"/payments/payments?customer_id={customer_id}&status=received")
    return not waiting["items"]


def _refund(api: PublicApi, customer: dict[str, Any], today: dt.date) -> str:
    """The customer pays everything they owe and 150.00 more; once billing has turned the
    rest into credit, 50.00 of it goes back to them."""
    _wait(lambda: _settled(api, customer["id"]))
    account = api.call("GET", f"/billing/accounts/{customer['id']}")
    owed = max(Decimal(account["balance"]), Decimal(0))
    api.call(
        "POST",
        "/payments/payments",
        {
            "customer_id": customer["id"],
            "amount": str(owed + Decimal("150.00")),
            "currency": customer["currency"],
            "method": "bank_transfer",
            "reference": "Settlement and advance",
            "received_on": today.isoformat(),
        },
    )

    def credit() -> bool:
        account = api.call("GET", f"/billing/accounts/{customer['id']}")
        return Decimal(account["unapplied_credit"]) >= Decimal("50.00")

    if not _wait(credit):
        return "refund skipped: billing has not applied the advance yet"
    api.call(
        "POST",
        "/payments/refunds",
        {
            "customer_id": customer["id"],
            "amount": "50.00",
            "currency": customer["currency"],
            "method": "bank_transfer",
            "reference": "Refund of advance",
            "date": today.isoformat(),
        },
        wait_for=409,  # payments learns the credit from billing's event a moment later
    )
    return f"refund to {customer['name']}"


def _wait(done: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def estimated_steps(customers: int) -> int:
    return len(ITEMS) + customers * 11 + 12


def run(
    api: PublicApi,
    today: dt.date,
    customers: int,
    progress: Callable[[Iterator[str]], Iterator[str]],
) -> bool:
    """Fill the suite unless the demo data is already there; False if it was."""
    if already_there(api):
        return False
    for _ in progress(steps(api, today, customers)):
        pass
    return True
