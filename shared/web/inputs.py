"""The request gate every API answer passes: body size and type, safe JSON, known query
parameters. Whatever a client sends, it gets a 4xx naming the problem, never a 500."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app, g, request
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser

from shared.clock import today
from shared.web.problems import Problem, invalid

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
# Longer numbers are never a receivable; stdlib int() refuses 4,300 digits with an error.
MAX_NUMBER_CHARS = 100
MAX_EXPONENT = 100
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
NO_BODY = object()


class LongNumber(str):
    """A JSON number too long or too large to be anything we store (kept as its text)."""


def _number(text: str) -> Decimal | LongNumber:
    if len(text) > MAX_NUMBER_CHARS:
        return LongNumber(text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        return LongNumber(text)
    return value if abs(value.adjusted()) <= MAX_EXPONENT else LongNumber(text)


def _integer(text: str) -> int | LongNumber:
    return int(text) if len(text) <= MAX_NUMBER_CHARS else LongNumber(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def depth(text: str) -> int:
    """How deep arrays and objects nest in JSON ``text`` (strings skipped), without recursion."""
    deepest = level = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        level += 1 if bracket in "[{" else -1
        deepest = max(deepest, level)
    return deepest


def loads(text: str | bytes) -> Any:
    """JSON as the API reads it: numbers as Decimal or int (never float), nesting bounded.

    Raises ValueError (malformed, NaN, deeper than MAX_DEPTH)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if depth(text) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return json.loads(text, parse_float=_number, parse_int=_integer, parse_constant=_no_constants)


def _bad_values(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, message) for every string that is not Unicode text and every number
    too long to be anything; safe because loads() bounded the depth."""
    if isinstance(value, LongNumber):
        yield path or "_body", f"At most {MAX_NUMBER_CHARS} characters and 10^{MAX_EXPONENT}."
    elif isinstance(value, str):
        if not _is_text(value):
            yield path or "_body", "Not valid Unicode text (a lone surrogate)."
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else key
            if not _is_text(key):
                yield "_body", "A field name is not valid Unicode text."
            else:
                yield from _bad_values(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_values(item, f"{path}.{index}" if path else str(index))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_json_type(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def has_body() -> bool:
    if request.content_length:
        return True
    return request.headers.get("Transfer-Encoding", "").lower() == "chunked"


def check_body_size() -> None:
    """413 for a declared body over the limit (call before authentication)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise Problem(413, f"The request body is over {MAX_BODY_BYTES:,} bytes.")


def read_json_body() -> None:
    """Parse a present body into ``g.json_body`` once: 415 if it is not JSON, 400 if it is
    malformed or too deep, 422 naming the field for strings that are not text or numbers
    that are not numbers we could hold."""
    g.json_body = NO_BODY
    if not has_body():
        return
    if not is_json_type(request.mimetype):
        raise Problem(
            415,
            "Send the body as application/json (or a */*+json type).",
            headers={"Accept-Post": "application/json"},
        )
    raw = request.get_data(cache=True)
    if request.content_length is None and len(raw) >= MAX_BODY_BYTES:
        # werkzeug stops reading a chunked body at MAX_CONTENT_LENGTH: what came is cut off
        raise Problem(413, f"The request body reaches {MAX_BODY_BYTES:,} bytes.")
    if not raw:
        return
    try:
        body = loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, f"The request body is not valid JSON: {exc}") from None
    errors: dict[str, list[str]] = {}
    for field, message in _bad_values(body):
        errors.setdefault(field, []).append(message)
    if errors:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        raise Problem(422, detail, errors=errors)
    g.json_body = body


def json_body() -> Any:
    """The request's JSON body as the gate parsed it (None without one)."""
    body = g.get("json_body", NO_BODY)
    return None if body is NO_BODY else body


def job_day(as_of: dt.date | None, dry_run: bool) -> dt.date:
    """The day a job runs as of: ``as_of`` or today. A day after today would act on the
    future for good (every invoice overdue, every final notice sent), so only a dry run
    may look ahead; otherwise 422 on ``as_of``."""
    day = as_of or today()
    if day > today() and not dry_run:
        raise invalid("as_of", f"{day} is after today; only a dry run may look ahead")
    return day


# -- query parameters -------------------------------------------------------------------------


def _query_names(schema: Schema | type[Schema]) -> set[str]:
    instance = schema() if isinstance(schema, type) else schema
    return {field.data_key or name for name, field in instance.fields.items()}


@functools.cache
def _allowed_for(view: Callable[..., Any]) -> frozenset[str]:
    parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    names: set[str] = set()
    for parameter in parameters:
        if parameter.get("in") in ("query", "querystring"):
            names |= _query_names(parameter["schema"])
    return frozenset(names)


def check_query_parameters() -> None:
    """422 naming every query parameter the endpoint does not declare (in its query schema),
    so a misspelt option is never silently ignored."""
    if request.endpoint is None or not request.args:
        return
    view = current_app.view_functions[request.endpoint]
    unknown = sorted(set(request.args) - _allowed_for(view))
    if unknown:
        errors = {name: ["Unknown query parameter."] for name in unknown}
        raise Problem(422, f"Unknown query parameter: {', '.join(unknown)}", errors=errors)


class GateParser(FlaskParser):
    """webargs reading the body the gate already parsed (Decimal numbers, bounded depth)."""

    def _raw_load_json(self, req: Any) -> Any:
        body = g.get("json_body", NO_BODY)
        return core.missing if body is NO_BODY else body
