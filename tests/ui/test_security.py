"""What a finance UI must withstand: script in customer data, forged forms, roles, password
guessing, a service that is down; and the cookies it sets."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.ui.conftest import ADMIN, CLERK, VIEWER, add_user, shot, sign_in

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def test_a_customer_named_like_a_script_is_shown_as_text_and_nothing_runs(new_page, suite):
    created = suite.api("POST", "/customers/customers", {"name": XSS, "notes": XSS})
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    sign_in(page, CLERK)
    answer = page.goto(f"/customers/{created['id']}")
    expect(page.locator("h1")).to_have_text(XSS)
    page.goto(f"/search?q={created['number']}&go=0")
    expect(page.get_by_role("link", name=XSS)).to_be_visible()
    page.goto("/customers/")
    expect(page.get_by_role("link", name=XSS)).to_be_visible()
    assert dialogs == []
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    shot(page, "en-10-xss-as-text")


def test_a_form_without_this_browser_token_changes_nothing(new_page, suite):
    page = new_page()
    sign_in(page, CLERK)
    before = suite.api("GET", "/customers/customers?q=Forged")["items"]
    forged = page.request.post("/customers/new", form={"name": "Forged Ltd"})
    other = page.request.post("/customers/new", form={"name": "Forged Ltd", "csrf_token": "0" * 64})
    assert forged.status == 400 and other.status == 400
    assert "expired" in forged.text()
    assert suite.api("GET", "/customers/customers?q=Forged")["items"] == before


def test_session_cookie_is_httponly_and_lax(new_page, suite):
    page = new_page()
    sign_in(page, CLERK)
    cookie = next(c for c in page.context.cookies() if c["name"] == "tameio_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http here; TAMEIO_PUBLIC_URL=https turns it on
    page.locator("header form button[type=submit]").last.click()  # sign out
    expect(page).to_have_url(re.compile(r"/login$"))
    assert page.goto("/customers/").url.endswith("/login?next=/customers/")


def test_a_viewer_sees_no_buttons_they_cannot_use_and_is_refused_anyway(new_page, suite):
    customer = suite.api("POST", "/customers/customers", {"name": "Viewer Check Ltd"})
    invoice = suite.api(
        "POST",
        "/billing/invoices",
        {"customer_id": customer["id"], "lines": [{"sku": "BOOK", "quantity": "2"}]},
    )
    page = new_page()
    sign_in(page, VIEWER)
    page.goto(f"/customers/{customer['id']}")
    expect(page.locator(".page-head .actions a")).to_have_count(0)
    expect(page.locator("#communication form")).to_have_count(0)
    page.goto(f"/invoices/{invoice['id']}")
    expect(page.locator("#record-payment")).to_have_count(0)
    expect(page.locator("#credit-note")).to_have_count(0)
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)
    shot(page, "en-11-viewer-invoice")

    token = page.locator("header input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post("/customers/new", form={"name": "Nope", "csrf_token": token})
    assert refused.status == 403
    assert "Your role does not allow this" in refused.text()
    assert page.goto("/admin/users").status == 403
    expect(page.locator("main")).to_contain_text("Your role does not allow this")

    clerk = new_page()
    sign_in(clerk, CLERK)
    clerk.goto(f"/invoices/{invoice['id']}")
    expect(clerk.locator("#record-payment")).to_have_count(1)
    expect(clerk.get_by_role("button", name="Void invoice")).to_have_count(0)
    token = clerk.locator("header input[name=csrf_token]").first.get_attribute("value")
    void = clerk.request.post(f"/invoices/{invoice['id']}/void", form={"csrf_token": token})
    assert void.status == 403
    assert suite.api("GET", f"/billing/invoices/{invoice['id']}")["status"] == "open"


def test_a_wrong_password_does_not_say_which_half_was_wrong(new_page, suite):
    page = new_page(client="203.0.113.7")
    messages = []
    for email, password in ((CLERK[0], "wrong-password"), ("nobody@tameio.test", CLERK[1])):
        page.goto("/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(password)
        page.locator("form.stack button[type=submit]").click()
        messages.append(page.locator(".banner.error").inner_text())
    assert messages[0] == messages[1] == "The email or password is not right."


def test_guessing_one_account_is_slowed_then_refused_and_so_is_one_client(new_page, suite):
    page = new_page(client="198.51.100.1")

    def attempt(email: str, password: str) -> int:
        response = page.request.post(
            "/login",
            form={"email": email, "password": password, "csrf_token": csrf(page)},
            max_redirects=0,
        )
        return response.status

    # Per account: three failures are free, the fourth straight away must wait, even with
    # the right password, and the wait is said in words.
    statuses = [attempt(ADMIN[0], f"guess-{n}") for n in range(3)]
    assert statuses == [401, 401, 401]
    assert attempt(ADMIN[0], ADMIN[1]) == 429
    page.goto("/login")
    page.locator("#email").fill(ADMIN[0])
    page.locator("#password").fill(ADMIN[1])
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator(".banner.error")).to_contain_text("Too many failed sign-ins")
    shot(page, "en-12-throttled")

    # Per client: ten failures on ten accounts within a minute, and the eleventh is refused.
    other = new_page(client="198.51.100.2")
    page = other
    assert {attempt(f"user{n}@nowhere.test", "x" * 10) for n in range(10)} == {401}
    assert attempt(CLERK[0], CLERK[1]) == 429
    # Another client is not affected.
    fresh = new_page(client="198.51.100.3")
    sign_in(fresh, CLERK)


def csrf(page) -> str:
    if "/login" not in page.url:
        page.goto("/login")
    return page.locator("input[name=csrf_token]").first.get_attribute("value")


def test_the_language_a_user_chooses_beats_the_browsers_and_stays_with_them(new_page, suite):
    add_user(suite.data_dir, "greek@tameio.test", "greek-pass-1234", "clerk")
    page = new_page(locale="en-GB")
    sign_in(page, ("greek@tameio.test", "greek-pass-1234"))
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.locator("#language-choice").select_option("el")  # submits itself
    expect(page.locator("h1")).to_have_text("Αρχική")
    expect(page.locator("html")).to_have_attribute("lang", "el")

    later = new_page(locale="en-US")  # another English browser, no cookies
    sign_in(later, ("greek@tameio.test", "greek-pass-1234"))
    expect(later.locator("h1")).to_have_text("Αρχική")
    shot(later, "el-18-chosen-language")


def test_pages_that_need_a_service_that_is_down_say_so_and_come_back_with_it(new_page, suite):
    """Billing switched off: the gateway meets a port where nothing listens."""
    customer = suite.api("POST", "/customers/customers", {"name": "Still Here Ltd"})
    page = new_page()
    sign_in(page, CLERK)
    page.goto("/invoices/")
    expect(page.locator("h1")).to_have_text("Invoices")

    suite.billing.down = True
    try:
        answer = page.goto("/invoices/")
        assert answer is not None and answer.status == 503
        expect(page.locator("h1")).to_have_text("Service unavailable")
        expect(page.locator(".banner.down")).to_have_text(
            re.compile(r"The billing service is not answering right now\..*Try again in a moment\.")
        )
        # Nothing is below it: the banner says the page needs the service.
        expect(page.locator(".banner.down")).to_contain_text("This page cannot be shown without it")
        expect(page.locator(".banner.down")).not_to_contain_text("missing below")
        expect(page.locator("#try-again")).to_be_visible()
        assert "Traceback" not in page.content()
        shot(page, "en-21-billing-down")

        # The customer page shows what does not need billing, and says what is missing.
        page.goto(f"/customers/{customer['id']}")
        expect(page.locator("h1")).to_have_text("Still Here Ltd")
        expect(page.locator(".banner.down")).to_contain_text("billing")
        expect(page.locator(".banner.down")).to_contain_text("What depends on it is missing below")
        expect(page.locator("#transactions")).to_contain_text("Not available right now.")
        shot(page, "en-22-customer-billing-down")

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
        expect(greek.locator(".banner.down")).to_contain_text("δεν μπορεί να εμφανιστεί")
        shot(greek, "el-21-billing-down")

        # Back: "Try again" brings the page, with nothing stale on it.
        page.goto("/invoices/")
    finally:
        suite.billing.down = False
    page.locator("#try-again").click()
    expect(page.locator("h1")).to_have_text("Invoices")
    expect(page.locator(".banner.down")).to_have_count(0)
    page.goto(f"/customers/{customer['id']}")
    expect(page.locator(".banner.down")).to_have_count(0)
    expect(page.locator("#transactions")).not_to_contain_text("Not available right now.")
    # The browser noted the 503 answers, and nothing else went wrong on the pages.
    assert [e for e in page.console_errors if "status of 503" not in e] == []
