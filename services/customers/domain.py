"""Customer rules with no I/O: numbers and search normalization (terms: shared.terms)."""

from __future__ import annotations

import unicodedata


def customer_number(sequence: int) -> str:
    return f"C-{sequence:06d}"


def search_key(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` for any script ("ΑΘΗΝΆ" -> "αθηνα")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.casefold()).strip()


def search_text(name: str, email: str | None, number: str, tax_id: str | None = None) -> str:
    """What a customer search matches against: name, email, number and tax id, normalized."""
    return " | ".join(search_key(part) for part in (name, email or "", number, tax_id or ""))
