"""An email as the bytes SMTP takes: headers and MIME parts written directly, not through
``email.message.EmailMessage``, whose header registry parsed and refolded every header it
was given and cost more CPU than writing the rest of the email (issue 19).

The shape is the one EmailMessage gave: ``multipart/alternative`` (text, then HTML), inside
``multipart/mixed`` with a PDF after it when one is attached. Every part is 7-bit clean
(7bit when it is short-lined ASCII, else quoted-printable or base64, whichever is
shorter), non-ASCII header text is RFC 2047 encoded words, and an address that is not ASCII
makes the email international (RFC 6532: UTF-8 headers, sent with SMTPUTF8)."""

from __future__ import annotations

import binascii
import email.policy
import functools
import secrets
from collections.abc import Sequence
from email.header import Header
from email.utils import encode_rfc2231, formataddr, getaddresses
from typing import NamedTuple

CRLF = "\r\n"
MAX_LINE = 78


class Part(NamedTuple):
    """One leaf of the email: its content type, the text or bytes, and a file name when it
    is an attachment."""

    content_type: str
    content: str | bytes
    filename: str | None = None


class Outgoing(NamedTuple):
    """What the mailer sends: its Message-ID, the envelope (sender, recipients), whether it
    needs SMTPUTF8, and the email's bytes with CRLF line ends."""

    message_id: str
    sender: str
    recipients: list[str]
    international: bool
    data: bytes


@functools.lru_cache(maxsize=64)
def address_header(name: str, address: str) -> str:
    """``Name <address>`` for a From or Reply-To header, the name quoted when it needs it
    and encoded (word by word, as the standard library folds it) when it is not ASCII.
    Every email of a round comes from the same sender: written once."""
    if not name or name.isascii():
        return formataddr((name, address))
    folded = email.policy.SMTP.fold("From", formataddr((name, address)))
    return folded.removeprefix("From: ").removesuffix(CRLF)


def encoded(value: str, name: str) -> str:
    """An unstructured header value as it is written: as it is when it is short ASCII,
    otherwise folded and, if not ASCII, in RFC 2047 encoded words."""
    if value.isascii() and len(name) + len(value) + 2 <= MAX_LINE and "\n" not in value:
        return value
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name=name).encode(linesep=CRLF)


def email_bytes(
    headers: Sequence[tuple[str, str]], parts: Sequence[Part], *, international: bool = False
) -> bytes:
    """The email: ``headers`` (already encoded, see :func:`encoded`), MIME-Version, then
    the text parts as alternatives and any attachment after them. Raises ValueError for a
    header value with a line break that is not folding (it would start a header of its
    own), as EmailMessage did."""
    for name, value in headers:
        unfolded = value.replace(CRLF + " ", "")
        if "\r" in unfolded or "\n" in unfolded:
            raise ValueError(f"the {name} header may not contain a line break")
    lines = [f"{name}: {value}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    alternatives = [part for part in parts if part.filename is None]
    attachments = [part for part in parts if part.filename is not None]
    body = _multipart("alternative", alternatives)
    if attachments:
        body = _multipart("mixed", [body, *(_leaf(part) for part in attachments)])
    head = CRLF.join(lines) + CRLF
    return head.encode("utf-8" if international else "ascii") + body


def outgoing(headers: Sequence[tuple[str, str]], parts: Sequence[Part], sender: str) -> Outgoing:
    """The email with ``headers`` (To and Message-ID among them) and ``parts`` as sent: from
    the address ``sender`` to each address in To."""
    named = dict(headers)
    recipients = [address for _, address in getaddresses([named["To"]]) if address]
    international = not all(value.isascii() for _, value in headers)
    data = email_bytes(headers, parts, international=international)
    return Outgoing(named["Message-ID"], sender, recipients, international, data)


def _multipart(subtype: str, parts: Sequence[Part | bytes]) -> bytes:
    """A multipart entity: its own headers, then each part between boundaries."""
    boundary = f"=_{secrets.token_hex(16)}"
    chunks = [f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n\r\n'.encode()]
    for part in parts:
        chunks.append(f"--{boundary}\r\n".encode())
        chunks.append(part if isinstance(part, bytes) else _leaf(part))
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def _leaf(part: Part) -> bytes:
    """One part with its Content-Type and Content-Transfer-Encoding (and Disposition)."""
    if isinstance(part.content, str):
        content_type = f'{part.content_type}; charset="utf-8"'
        encoding, body = text_body(part.content)
    else:
        content_type, encoding, body = part.content_type, "base64", base64_lines(part.content)
    head = [f"Content-Type: {content_type}", f"Content-Transfer-Encoding: {encoding}"]
    if part.filename is not None:
        head.append(f"Content-Disposition: attachment; {_filename_parameter(part.filename)}")
    return (CRLF.join(head) + CRLF + CRLF).encode("ascii") + body


def _filename_parameter(name: str) -> str:
    """``filename="..."`` for a plain ASCII name, else RFC 2231's ``filename*=utf-8''...``
    (a document number in another script, or one with a quote, must not break the header)."""
    if name.isascii() and name.isprintable() and not set(name) & set('"\\'):
        return f'filename="{name}"'
    return f"filename*={encode_rfc2231(name, 'utf-8')}"


def text_body(text: str) -> tuple[str, bytes]:
    """(the transfer encoding, the encoded body) of a text part: 7bit when it is ASCII with
    short lines, else the shorter of quoted-printable and base64 (as EmailMessage chose)."""
    lines = text.encode("utf-8").splitlines()
    if all(len(line) <= MAX_LINE and line.isascii() for line in lines):
        return "7bit", b"\r\n".join(lines) + b"\r\n"
    data = b"\n".join(lines) + b"\n"
    quoted = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    base64 = base64_lines(data)
    return ("quoted-printable", quoted) if len(quoted) <= len(base64) else ("base64", base64)


def base64_lines(data: bytes) -> bytes:
    """``data`` in base64, 76 characters a line."""
    return b"".join(
        binascii.b2a_base64(data[start : start + 57]).replace(b"\n", b"\r\n")
        for start in range(0, len(data), 57)
    )
