"""Browser tests of the staff UI: Debian's Chromium driven by Playwright against an
embedded suite (what ``tameio up`` runs, in the test process), one suite per test module.

Screenshots of the pages go to ``test-artifacts/ui/`` (kept out of git) for a person to
look at.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import urllib3

from services.cli import EmbeddedSuite, embedded_server
from services.gateway.app import create_app as create_gateway
from services.gateway.routing import HttpBackend
from shared.config import BUSINESS_SERVICES
from shared.web.client import forget_local
from tests.support.realmode import free_port

CHROMIUM = os.environ.get("TAMEIO_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
ADMIN = ("admin@tameio.test", "admin-pass-1234")
CLERK = ("clerk@tameio.test", "clerk-pass-1234")
VIEWER = ("viewer@tameio.test", "viewer-pass-1234")
TOKEN = "ui-tests-bootstrap-token"


@dataclass
class Suite:
    base: str
    data_dir: Path
    billing: Switch

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """The public API as an admin (for setting up what a test starts from)."""
        answer = urllib3.request(
            method,
            f"{self.base}/api{path}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert answer.status < 300, (path, answer.status, answer.data[:500])
        return answer.json() if answer.data else None


def _tameio(data_dir: Path, *args: str) -> None:
    env = {**os.environ, "TAMEIO_DATA_DIR": str(data_dir), "TAMEIO_LOG_LEVEL": "WARNING"}
    subprocess.run(
        [sys.executable, "-m", "services.cli", *args], env=env, check=True, capture_output=True
    )


def add_user(data_dir: Path, email: str, password: str, role: str) -> None:
    """A staff user written straight to the gateway database (faster than the command)."""
    from services.gateway.commands import create_user
    from services.gateway.models import Base
    from shared.db import Database

    db = Database("gateway", f"sqlite:///{data_dir / 'gateway.db'}", Base.metadata)
    with db.unit_of_work() as uow:
        create_user(uow.session, email, role, password)
        uow.commit()
    db.dispose()


class Switch:
    """Billing as the UI suite's gateway reaches it: in process, or while ``down`` over HTTP
    at a port where nothing listens, as when its host is gone (the gateway answers 503)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.down = False
        self.unreachable = HttpBackend(
            "billing", f"http://127.0.0.1:{free_port()}", connect_timeout=0.5
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return (self.unreachable if self.down else self.app)(environ, start_response)


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """An embedded Tameio as ``tameio up`` runs it (every service and worker in one process,
    here this one, served by waitress), with an admin (from the environment), a clerk (made
    with ``tameio user create``), a viewer and a small catalog. Its billing service can be
    switched off: ``suite.billing.down = True``."""
    data_dir = tmp_path_factory.mktemp("ui") / "var"
    run = uuid.uuid4().hex[:8]
    embedded = EmbeddedSuite(
        {
            **os.environ,
            "TAMEIO_DATA_DIR": str(data_dir),
            "TAMEIO_LOG_LEVEL": "WARNING",
            "TAMEIO_BOOTSTRAP_TOKEN": TOKEN,
            "TAMEIO_ADMIN_EMAIL": ADMIN[0],
            "TAMEIO_ADMIN_PASSWORD": ADMIN[1],
            # Tests name their client in X-Forwarded-For, so throttling one spares the others.
            "TAMEIO_TRUSTED_PROXIES": "1",
            # The memory:// broker is one per process: a suite of its own names.
            "TAMEIO_EXCHANGE": f"tameio.ui.{run}",
            "TAMEIO_QUEUE_PREFIX": f"ui{run}-",
        }
    )
    billing = Switch(embedded.apps["billing"])
    gateway = create_gateway(
        embedded.gateway_settings, backends={**embedded.apps, "billing": billing}
    )
    embedded.start()
    server = embedded_server(gateway, "127.0.0.1", 0)
    threading.Thread(target=server.run, name="ui-suite-server", daemon=True).start()
    try:
        running = Suite(f"http://127.0.0.1:{server.effective_port}", data_dir, billing)
        _tameio(
            data_dir,
            "user",
            "create",
            "--email",
            CLERK[0],
            "--role",
            "clerk",
            "--password",
            CLERK[1],
        )
        add_user(data_dir, *VIEWER, "viewer")
        for sku, name, price, code in (
            ("CONSULT-H", "Consulting hour", "80.00", "standard"),
            ("LIC-Y", "Software licence, yearly", "1200.00", "standard"),
            ("BOOK", "Printed handbook", "25.00", "reduced"),
        ):
            running.api(
                "POST",
                "/contracts/items",
                {
                    "sku": sku,
                    "name": name,
                    "unit_price": price,
                    "currency": "EUR",
                    "tax_code": code,
                },
            )
        yield running
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        embedded.stop()
        for name in BUSINESS_SERVICES:
            forget_local(name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    # The machine is shared: give assertions on a busy suite room before they fail.
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any, suite: Suite) -> Iterator[Any]:
    """``new_page(locale="el", width=1366)``: a fresh browser context (no cookies)."""
    contexts: list[Any] = []

    def make(
        locale: str = "en-GB", width: int = 1366, height: int = 900, client: str | None = None
    ) -> Any:
        headers = {"Accept-Language": locale}
        if client:
            headers["X-Forwarded-For"] = client
        context = browser.new_context(
            base_url=suite.base,
            locale=locale,
            viewport={"width": width, "height": height},
            extra_http_headers=headers,
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.console_errors = []
        page.on(
            "console",
            lambda message: (
                page.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page: Any, who: tuple[str, str]) -> None:
    page.goto("/login")
    page.locator("#email").fill(who[0])
    page.locator("#password").fill(who[1])
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(re.compile(r"/(\?.*)?$"))


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map(el => el.name || el.id)"""


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot under test-artifacts/ui/, once every control on the page is
    known to have a label."""
    assert page.evaluate(UNLABELLED) == [], f"controls without a label on {page.url}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
