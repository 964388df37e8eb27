"""What ``tameio up`` says once the suite is running: the next steps, in plain words."""

from __future__ import annotations

from pathlib import Path


def next_steps(
    url: str,
    *,
    token: str | None,
    bootstrap_token: bool,
    mail_folder: Path | None,
) -> str:
    """The closing lines of the start-up output: where the UI and API are, the token and how
    to use it, where the emails go, what to do first and how to stop.

    ``token`` is a token made at this start (shown once); ``bootstrap_token`` says that
    TAMEIO_BOOTSTRAP_TOKEN is set instead; ``mail_folder`` is where emails are written when
    there is no SMTP server (None: they are sent over TAMEIO_SMTP_URL)."""
    lines = [
        "",
        "Tameio is ready.",
        f"  Open {url}/ in a browser for the staff UI; the API is under {url}/api/.",
    ]
    if token:
        lines += [
            f"  Your admin API token, shown only this once: {token}",
            "  Keep it; use it like this:",
            f"    export TOKEN={token}",
        ]
    elif bootstrap_token:
        lines += ["  Use the token you set in TAMEIO_BOOTSTRAP_TOKEN:", "    export TOKEN=..."]
    else:
        lines += [
            "  Use the admin token printed at the first start, or make one now:",
            "    export TOKEN=$(tameio token create --role admin --name me)",
        ]
    lines += [
        f'    curl -s {url}/api/customers/customers -H "Authorization: Bearer $TOKEN"',
        "  First, tell Tameio who you are (printed on every invoice and email):",
        f'    curl -s -X PUT {url}/api/billing/company -H "Authorization: Bearer $TOKEN" \\',
        "      -H 'Content-Type: application/json' \\",
        '      -d \'{"name": "Your Company", "email": "accounts@example.com"}\'',
    ]
    if mail_folder is not None:
        lines += [
            f"  Emails are not sent: each one is written as a .eml file to {mail_folder}",
            "  (set TAMEIO_SMTP_URL to send them).",
        ]
    else:
        lines.append("  Emails are sent through the SMTP server in TAMEIO_SMTP_URL.")
    lines += ["  Press Ctrl-C to stop.", ""]
    return "\n".join(lines)
