"""The company profile: the seller every document and email names, kept by billing and
published whole as ``billing.company.updated`` so the services that render documents keep
a replica of it."""

from __future__ import annotations

from typing import Any

from services.billing.models import CompanyProfile
from shared.clock import isoformat, utcnow
from shared.db import UnitOfWork
from shared.replicas import COMPANY

ADDRESS_FIELDS = ("line1", "line2", "city", "postal_code", "region", "country")
TEXT_FIELDS = ("tax_id", "reply_to", "phone", "iban", "bic", "payment_instructions")
DEFAULT_LANGUAGE = "en"


def empty_profile() -> dict[str, Any]:
    """What ``GET /company`` answers before an admin has set the profile (version 0)."""
    return {
        "name": None,
        "address": dict.fromkeys(ADDRESS_FIELDS),
        "email": None,
        **dict.fromkeys(TEXT_FIELDS),
        "language": DEFAULT_LANGUAGE,
        "version": 0,
        "updated_at": None,
    }


def current_profile(uow: UnitOfWork) -> dict[str, Any]:
    """The company profile, or the empty one if none was set."""
    row = uow.session.get(CompanyProfile, COMPANY)
    return dict(row.profile) if row is not None else empty_profile()


def company_or_none(uow: UnitOfWork) -> dict[str, Any] | None:
    """The company profile if an admin has set it (documents leave the seller out before)."""
    row = uow.session.get(CompanyProfile, COMPANY)
    return dict(row.profile) if row is not None else None


def update_profile(uow: UnitOfWork, changes: dict[str, Any]) -> dict[str, Any]:
    """Replace the profile with ``changes`` (a whole profile, validated by the API), raise
    its version and emit ``billing.company.updated``; answers the new profile."""
    row = uow.session.get(CompanyProfile, COMPANY, with_for_update=True)
    version = (row.version if row is not None else 0) + 1
    now = utcnow()
    address = changes.get("address") or {}
    profile = {
        "name": changes["name"],
        "address": {name: address.get(name) for name in ADDRESS_FIELDS},
        "email": changes["email"],
        **{name: changes.get(name) for name in TEXT_FIELDS},
        "language": changes.get("language") or DEFAULT_LANGUAGE,
        "version": version,
        "updated_at": isoformat(now),
    }
    if row is None:
        row = CompanyProfile(id=COMPANY, profile=profile, version=version, updated_at=now)
        uow.session.add(row)
    else:
        row.profile, row.version, row.updated_at = profile, version, now
    uow.session.flush()
    uow.emit("billing.company.updated", COMPANY, {**profile, "updated_at": now})
    return profile
