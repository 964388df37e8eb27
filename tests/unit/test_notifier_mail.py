"""The email's bytes (services/notifier/mail.py) read back by the standard library's parser:
every header, text and attachment as it was given, no defects, no line over 78 characters
in an ASCII email."""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.notifier.mail import Outgoing, Part, address_header, encoded, outgoing

GREEK_TEXT = "Αγαπητέ πελάτη,\n\nλάβαμε την πληρωμή σας.\n" + "Υπόλοιπο " * 20 + "\n"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 20


def sent(
    subject: str,
    text: str,
    html: str,
    *,
    name: str = "Tameio Demo ΑΕ",
    to: str = "ap@acme.test",
    attachment: bytes | None = None,
) -> Outgoing:
    headers = [
        ("From", address_header(name, "accounts@demo.test")),
        ("Reply-To", "help@demo.test"),
        ("To", to),
        ("Subject", encoded(subject, "Subject")),
        ("Date", "Thu, 05 Mar 2026 10:00:00 +0000"),
        ("Message-ID", "<1.2.3@demo.test>"),
    ]
    parts = [Part("text/plain", text), Part("text/html", html)]
    if attachment is not None:
        parts.append(Part("application/pdf", attachment, "INV-2026-000001.pdf"))
    return outgoing(headers, parts, "accounts@demo.test")


def read(message: Outgoing) -> EmailMessage:
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert [d for part in parsed.walk() for d in part.defects] == []
    return parsed


def content(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("subject", "text", "html"),
    [
        ("Payment received: 1.00 EUR, a balance remains", "Dear Acme,\n\nthanks.\n", "<p>x</p>"),
        ("Λάβαμε την πληρωμή σας: 1.00 EUR, απομένει υπόλοιπο", GREEK_TEXT, f"<p>{GREEK_TEXT}</p>"),
        ("Invoice " + "INV-2026-000001 " * 12, "a" * 300 + "\n.\nFrom here\n", "<p>" + "b" * 900),
        ("Ä" * 120, "tab\t \ntrailing \n" + "é" * 200, ""),
        ("", "", ""),
    ],
    ids=["english", "greek", "long-ascii", "long-non-ascii", "empty"],
)
def test_what_is_written_reads_back_as_it_was_given(subject, text, html):
    message = sent(subject, text, html)

    parsed = read(message)

    assert parsed["Subject"] == subject
    assert content(parsed, "plain") == (text if text.endswith("\n") else text + "\n")
    assert content(parsed, "html").rstrip("\n") == html.rstrip("\n")
    assert parsed.get_content_type() == "multipart/alternative"
    (sender,) = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Tameio Demo ΑΕ", "accounts@demo.test")
    assert (parsed["To"], parsed["Reply-To"]) == ("ap@acme.test", "help@demo.test")
    assert parsed["Message-ID"] == message.message_id == "<1.2.3@demo.test>"
    assert (message.sender, message.recipients, message.international) == (
        "accounts@demo.test",
        ["ap@acme.test"],
        False,
    )
    assert message.data.isascii()
    assert max(len(line) for line in message.data.split(b"\r\n")) <= 78


def test_a_pdf_goes_after_the_text_and_html_in_a_mixed_email():
    parsed = read(sent("Invoice INV-2026-000001", "text\n", "<p>html</p>", attachment=PDF))

    assert parsed.get_content_type() == "multipart/mixed"
    (pdf,) = parsed.iter_attachments()
    assert (pdf.get_content_type(), pdf.get_filename()) == (
        "application/pdf",
        "INV-2026-000001.pdf",
    )
    assert pdf.get_content() == PDF
    assert content(parsed, "plain") == "text\n"


@pytest.mark.parametrize("filename", ["ΤΙΜ-2026-000001.pdf", 'INV "7".pdf', "INV\\7.pdf"])
def test_an_attachment_name_that_is_not_plain_ascii_reads_back(filename):
    parts = [Part("text/plain", "text\n"), Part("application/pdf", PDF, filename)]
    headers = [("To", "ap@acme.test"), ("Message-ID", "<1.2.3@demo.test>")]

    message = outgoing(headers, parts, "accounts@demo.test")

    (pdf,) = read(message).iter_attachments()
    assert (pdf.get_filename(), pdf.get_content()) == (filename, PDF)
    assert message.data.isascii()


def test_a_sender_name_with_specials_is_quoted():
    (sender,) = read(sent("Hello", "text\n", "<p>html</p>", name='Smith, "Jr" & Co.'))[
        "From"
    ].addresses

    assert (sender.display_name, sender.addr_spec) == ('Smith, "Jr" & Co.', "accounts@demo.test")


def test_a_long_greek_sender_name_is_encoded():
    name = "Ελληνική Εταιρεία Μεγάλη Ονομασία Ανώνυμη Εμπορίου και Υπηρεσιών"
    message = sent("Hello", "text\n", "<p>html</p>", name=name)

    raw = email.message_from_bytes(message.data)["From"]  # compat32: the header as written
    # RFC 2047 decoding; the default policy's address parser puts a space between adjacent
    # encoded words of a long name (a standard-library quirk, the same before this module).
    assert str(make_header(decode_header(raw))) == f"{name} <accounts@demo.test>"
    assert read(message)["From"].addresses[0].addr_spec == "accounts@demo.test"


def test_an_address_that_is_not_ascii_makes_the_email_international():
    message = sent("Hello", "text\n", "<p>html</p>", to="μαρία@acme.test")

    parsed = read(message)

    assert message.international
    assert message.recipients == ["μαρία@acme.test"]
    assert parsed["To"] == "μαρία@acme.test"


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=300))
def test_a_subject_that_is_not_ascii_reads_back_within_78_characters_a_line(subject):
    assume(not subject.isascii())
    header = f"Subject: {encoded(subject, 'Subject')}"

    parsed = email.message_from_bytes(f"{header}\r\n\r\n".encode(), policy=email.policy.default)

    assert parsed["Subject"] == subject
    assert max(len(line) for line in header.split("\r\n")) <= 78


@pytest.mark.parametrize("name", ["Acme\r\nBcc: everyone@example.test", "Acme\nX: y"])
def test_a_line_break_in_a_header_value_is_refused(name):
    with pytest.raises(ValueError, match="From"):
        sent("Hello", "text\n", "<p>html</p>", name=name)
