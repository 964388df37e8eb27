"""Request and response shapes of the customers API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pycountry
from marshmallow import ValidationError, fields, validate, validates, validates_schema

from shared.clock import utcnow
from shared.events.customers import CustomerSnapshot, InteractionLogged
from shared.events.fields import Currency, Timestamp
from shared.money import MoneyError, check_places
from shared.terms import parse_terms
from shared.web.lists import PageQuery
from shared.web.schemas import AmountInput, Name, RequestSchema

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
CHANNELS = ("email", "phone", "meeting", "letter", "sms", "note")
DIRECTIONS = ("inbound", "outbound", "internal")


def _optional_text(max_length: int) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_length))


def _country(code: str) -> None:
    if len(code) != 2 or not code.isupper() or pycountry.countries.get(alpha_2=code) is None:
        raise ValidationError(f"{code!r} is not an ISO 3166 alpha-2 country code (e.g. GR, DE).")


LANGUAGES = ("en", "el")


class AddressInputSchema(RequestSchema):
    line1 = _optional_text(200)
    line2 = _optional_text(200)
    city = _optional_text(100)
    postal_code = _optional_text(20)
    region = _optional_text(100)
    country = fields.String(required=True, validate=_country)


class CustomerFields(RequestSchema):
    """Every writable customer field, none required: the shape of PATCH."""

    name = Name()
    email = fields.Email(allow_none=True, validate=validate.Length(max=320))
    phone = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^\+?[0-9][0-9 ()./-]{2,48}$", error="Not a phone number."),
    )
    billing_address = fields.Nested(AddressInputSchema, allow_none=True)
    payment_terms = fields.String(metadata={"description": "net_N or eom_N"})
    currency = Currency()
    tax_id = _optional_text(50)
    credit_limit = AmountInput(allow_none=True)
    reminders_enabled = fields.Boolean()
    notes = _optional_text(5000)
    language = fields.String(
        validate=validate.OneOf(LANGUAGES),
        metadata={"description": "en or el; at creation: the company profile's language"},
    )

    @validates("payment_terms")
    def _terms(self, value: str, **_: Any) -> None:
        try:
            parse_terms(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    @validates_schema
    def _credit_limit_places(self, data: dict[str, Any], **_: Any) -> None:
        limit, currency = data.get("credit_limit"), data.get("currency")
        if limit is not None and currency is not None:
            try:
                check_places(limit, currency)
            except MoneyError as exc:
                raise ValidationError(str(exc), "credit_limit") from None


class CustomerCreateSchema(CustomerFields):
    name = Name(required=True)
    payment_terms = fields.String(load_default="net_30", metadata={"description": "net_N or eom_N"})
    currency = Currency(load_default="EUR")
    reminders_enabled = fields.Boolean(load_default=True)


class CustomerQuery(PageQuery):
    q = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "part of the name, email, number or tax id"},
    )
    number = fields.String(
        validate=validate.Length(min=1, max=20), metadata={"description": "exactly, e.g. C-000001"}
    )
    status = fields.String(validate=validate.OneOf(["active", "archived"]))


def _plausible_moment(value: dt.datetime) -> None:
    if not EARLIEST <= value <= utcnow() + dt.timedelta(days=366):
        raise ValidationError("Must be between 1900 and a year from now.")


class InteractionCreateSchema(RequestSchema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    direction = fields.String(required=True, validate=validate.OneOf(DIRECTIONS))
    subject = _optional_text(300)
    body = fields.String(allow_none=True, validate=validate.Length(max=20000))
    invoice_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    occurred_at = Timestamp(load_default=None, allow_none=True, validate=_plausible_moment)


CustomerSchema = CustomerSnapshot
InteractionSchema = InteractionLogged
