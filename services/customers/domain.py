"""Customer rules with no I/O: numbers, payment terms, search normalization."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

TERMS_PATTERN = re.compile(r"(net|eom)_([0-9]{1,3})")
MAX_TERM_DAYS = 365


@dataclass(frozen=True)
class PaymentTerms:
    kind: str  # "net": N days after issue; "eom": N days after the end of the issue month
    days: int


def parse_terms(value: str) -> PaymentTerms:
    """``net_30`` -> PaymentTerms("net", 30); raises ValueError for anything else."""
    match = TERMS_PATTERN.fullmatch(value)
    if not match or int(match.group(2)) > MAX_TERM_DAYS:
        raise ValueError(
            f"{value!r} is not a payment term: use net_N or eom_N with N from 0 to {MAX_TERM_DAYS}"
        )
    return PaymentTerms(match.group(1), int(match.group(2)))


def customer_number(sequence: int) -> str:
    return f"C-{sequence:06d}"


def search_key(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` for any script ("ΑΘΗΝΆ" -> "αθηνα")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.casefold()).strip()


def search_text(name: str, email: str | None, number: str) -> str:
    """What a customer search matches against: name, email and number, normalized."""
    return " | ".join(search_key(part) for part in (name, email or "", number))
