"""A service that is down costs the pages that need it a banner, never the whole UI."""

from __future__ import annotations

import re

from services.gateway.app import create_app as create_gateway
from services.gateway.domain import create_user
from services.gateway.routing import HttpBackend
from tests.support.realmode import free_port


def signed_in(client, email: str, password: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def test_pages_keep_working_with_a_banner_when_billing_and_reporting_are_down(service_factory):
    customers = service_factory("customers", embedded=True)
    gateway = service_factory("gateway", embedded=True)
    dead = f"http://127.0.0.1:{free_port()}"
    backends = {
        name: HttpBackend(name, dead, connect_timeout=0.5)
        for name in ("contracts", "billing", "payments", "notifier", "reporting")
    }
    backends["customers"] = customers.app.wsgi_app
    app = create_gateway(gateway.settings, gateway.db, backends=backends)
    with gateway.db.unit_of_work() as uow:
        create_user(uow.session, "clerk@tameio.test", "clerk", "clerk-pass-1234")
        uow.commit()
    client = app.test_client()
    signed_in(client, "clerk@tameio.test", "clerk-pass-1234")

    created = client.post(
        "/customers/new",
        data={"name": "Still Here Ltd", "csrf_token": csrf(client), "currency": "EUR"},
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    page = client.get(created.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Still Here Ltd" in text
    assert "The billing service is not answering right now" in text
    assert "Traceback" not in text

    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "The reporting service is not answering right now" in dashboard.get_data(as_text=True)

    invoices = client.get("/invoices/")
    assert invoices.status_code == 503
    assert "The billing service is not answering right now" in invoices.get_data(as_text=True)


def csrf(client) -> str:
    page = client.get("/customers/new").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
