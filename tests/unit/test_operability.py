"""Operability from the first minute (issue 17): `tameio up` ends with the next steps in
plain words, libraries' INFO chatter stays out of the console unless the level is DEBUG,
and every HTTP request is logged once in one line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from services.welcome import next_steps
from shared.logs import configure_logging


def test_the_next_steps_name_the_url_the_token_how_to_use_it_and_where_mail_goes():
    text = next_steps(
        "http://127.0.0.1:8000",
        token="tok-123",
        bootstrap_token=False,
        mail_folder=Path("/srv/tameio/var/mail"),
    )

    for expected in (
        "http://127.0.0.1:8000/",
        "tok-123",
        "export TOKEN=tok-123",
        'curl -s http://127.0.0.1:8000/api/customers/customers -H "Authorization: Bearer $TOKEN"',
        "/api/billing/company",
        ".eml file to /srv/tameio/var/mail",
        "TAMEIO_SMTP_URL",
        "Ctrl-C",
    ):
        assert expected in text, expected


def test_without_a_new_token_the_next_steps_say_where_to_get_one():
    text = next_steps("http://h:1", token=None, bootstrap_token=False, mail_folder=None)

    assert "tameio token create --role admin" in text
    assert "sent through the SMTP server" in text
    assert "TAMEIO_BOOTSTRAP_TOKEN" in next_steps(
        "http://h:1", token=None, bootstrap_token=True, mail_folder=None
    )


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:], root.level = handlers, level
    for name in ("fontTools", "weasyprint", "alembic"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.parametrize("library", ["fontTools.subset", "weasyprint", "alembic.runtime.migration"])
def test_library_info_stays_out_of_the_console_unless_debug(restore_logging, library):
    configure_logging("INFO")
    assert not logging.getLogger(library).isEnabledFor(logging.INFO)
    assert logging.getLogger(library).isEnabledFor(logging.WARNING)
    assert logging.getLogger("services.billing").isEnabledFor(logging.INFO)

    configure_logging("DEBUG")
    assert logging.getLogger(library).isEnabledFor(logging.DEBUG)
