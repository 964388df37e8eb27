"""Amounts and dates as the reader's locale writes them, and amounts typed that way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal
from flask import Flask
from flask_babel import get_locale
from jinja2 import pass_context

from shared.money import exponent


def _locale() -> str:
    return str(get_locale() or "en")


def money(amount: Any, currency: str | None) -> str:
    """``"1234.5"``, ``EUR`` -> ``€1,234.50`` (en) or ``1.234,50 €`` (el); blank for None."""
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount))
    if not currency:
        return format_decimal(value, locale=_locale())
    return format_currency(value, currency, locale=_locale(), currency_digits=True)


def amount_input(amount: Any, currency: str | None) -> str:
    """An amount as the reader would type it (no symbol): ``1.234,50`` in Greek."""
    if amount is None or amount == "":
        return ""
    places = exponent(currency) if currency else 2
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(Decimal(str(amount)), format=pattern, locale=_locale())


def parse_amount(text: str) -> Decimal:
    """``1.234,56`` in Greek, ``1,234.56`` in English -> Decimal; ValueError otherwise."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    if not cleaned:
        raise ValueError("empty")
    try:
        value = parse_decimal(cleaned, locale=_locale(), strict=True)
    except NumberFormatError:
        raise ValueError(text) from None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError("") from None


def date(value: Any, style: str = "medium") -> str:
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10]) if len(value) <= 10 else _moment(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return format_datetime(value, "short" if style == "medium" else style, locale=_locale())
    return format_date(value, style, locale=_locale())


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def number(value: Any, places: int = 0) -> str:
    if value is None or value == "":
        return ""
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return format_decimal(Decimal(str(value)), format=pattern, locale=_locale())


def quantity(value: Any) -> str:
    """A quantity with only the decimals it has: ``10``, ``2,5`` (el), ``0.125`` (en)."""
    if value is None or value == "":
        return ""
    return format_decimal(Decimal(str(value)), format="#,##0.####", locale=_locale())


def _per_render(function: Callable[..., str]) -> Callable[..., str]:
    """The filter marked as needing the render's context, which keeps Jinja from working
    out ``1234.56|amount_input('EUR')`` once when it compiles the template: that would
    keep the locale of whoever saw the page first."""

    @pass_context
    def per_render(_context: Any, *args: Any, **kwargs: Any) -> str:
        return function(*args, **kwargs)

    return per_render


def install(app: Flask) -> None:
    app.jinja_env.filters.update(
        {
            name: _per_render(function)
            for name, function in (
                ("money", money),
                ("date", date),
                ("number", number),
                ("quantity", quantity),
                ("amount_input", amount_input),
            )
        }
    )
