"""A service that is down costs the pages that need it a clear message, never the whole UI,
and they come back with it: in the browser, on an embedded suite whose billing service the
test switches off (the gateway then meets a port nobody answers on) and on again."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from services.cli import EmbeddedSuite
from services.gateway.app import create_app as create_gateway
from services.gateway.routing import HttpBackend
from shared.config import BUSINESS_SERVICES
from shared.web.client import forget_local
from tests.support.realmode import free_port
from tests.ui.conftest import CLERK, TOKEN, Suite, add_user, shot, sign_in


class Switch:
    """Billing as the gateway reaches it: in process, or while ``down`` over HTTP at a port
    where nothing listens, as when its host is gone."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.down = False
        self.unreachable = HttpBackend(
            "billing", f"http://127.0.0.1:{free_port()}", connect_timeout=0.5
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return (self.unreachable if self.down else self.app)(environ, start_response)


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Suite, Switch]]:
    run = uuid.uuid4().hex[:8]
    data_dir = tmp_path_factory.mktemp("down")
    embedded = EmbeddedSuite(
        {
            "TAMEIO_DATA_DIR": str(data_dir),
            "TAMEIO_BOOTSTRAP_TOKEN": TOKEN,
            "TAMEIO_EXCHANGE": f"tameio.uidown.{run}",
            "TAMEIO_QUEUE_PREFIX": f"d{run}-",
            "TAMEIO_LOG_LEVEL": "WARNING",
        }
    )
    embedded.start()
    billing = Switch(embedded.apps["billing"])
    gateway = create_gateway(
        embedded.gateway_settings, backends={**embedded.apps, "billing": billing}
    )
    add_user(data_dir, *CLERK, "clerk")
    server = make_server("127.0.0.1", 0, gateway, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Suite(f"http://127.0.0.1:{server.server_port}", data_dir), billing
    finally:
        server.shutdown()
        embedded.stop()
        for name in BUSINESS_SERVICES:
            forget_local(name)


@pytest.fixture(scope="module")
def suite(outage: tuple[Suite, Switch]) -> Suite:
    """The browser fixtures' suite is this one."""
    return outage[0]


def test_pages_that_need_a_service_that_is_down_say_so_and_come_back_with_it(outage, new_page):
    suite, billing = outage
    customer = suite.api("POST", "/customers/customers", {"name": "Still Here Ltd"})
    page = new_page()
    sign_in(page, CLERK)
    page.goto("/invoices/")
    expect(page.locator("h1")).to_have_text("Invoices")

    billing.down = True
    answer = page.goto("/invoices/")
    assert answer is not None and answer.status == 503
    expect(page.locator("h1")).to_have_text("Service unavailable")
    expect(page.locator(".banner.down")).to_have_text(
        re.compile(r"The billing service is not answering right now\..*Try again in a moment\.")
    )
    expect(page.locator("#try-again")).to_be_visible()
    assert "Traceback" not in page.content()
    shot(page, "en-20-billing-down")

    # The customer page shows what does not need billing, and says what is missing.
    page.goto(f"/customers/{customer['id']}")
    expect(page.locator("h1")).to_have_text("Still Here Ltd")
    expect(page.locator(".banner.down")).to_contain_text("billing")
    expect(page.locator("#transactions")).to_contain_text("Not available right now.")
    shot(page, "en-21-customer-billing-down")

    # The rest of the UI keeps working, without a banner: customers can still be added.
    page.goto("/customers/new")
    expect(page.locator(".banner.down")).to_have_count(0)
    page.locator("#f-name").fill("Added Meanwhile Ltd")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("Added Meanwhile Ltd")
    page.goto("/customers/")
    expect(page.locator("table")).to_contain_text("Still Here Ltd")
    expect(page.locator(".banner.down")).to_have_count(0)

    greek = new_page(locale="el-GR")
    sign_in(greek, CLERK)  # the dashboard needs no billing
    expect(greek.locator(".banner.down")).to_have_count(0)
    greek.goto("/invoices/")
    expect(greek.locator("h1")).to_have_text("Η υπηρεσία δεν είναι διαθέσιμη")
    expect(greek.locator(".banner.down")).to_contain_text("τιμολόγησης")
    shot(greek, "el-20-billing-down")

    # Back: "Try again" brings the page, with nothing stale on it.
    page.goto("/invoices/")
    billing.down = False
    page.locator("#try-again").click()
    expect(page.locator("h1")).to_have_text("Invoices")
    expect(page.locator(".banner.down")).to_have_count(0)
    page.goto(f"/customers/{customer['id']}")
    expect(page.locator(".banner.down")).to_have_count(0)
    expect(page.locator("#transactions")).not_to_contain_text("Not available right now.")
    # The browser noted the 503 answers, and nothing else went wrong on the pages.
    assert [e for e in page.console_errors if "status of 503" not in e] == []
