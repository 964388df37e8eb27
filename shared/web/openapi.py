"""The OpenAPI document as served and committed: what flask-smorest generates from the
schemas, finished so that it tells the truth about the errors, codes and formats we answer."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
WRITES = ("post", "put", "patch", "delete")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error (RFC 9457); `errors` names each invalid field.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
ERRORS: dict[int, tuple[str, str]] = {
    400: ("MalformedRequest", "The body is not valid JSON or nests too deeply."),
    401: ("Unauthenticated", "No valid bearer token."),
    403: ("Forbidden", "The token's role is too low."),
    404: ("NotFound", "No such record (the id in the path)."),
    409: ("Conflict", "State conflict, stale If-Match, or a reused Idempotency-Key."),
    413: ("TooLarge", "The body is over 1,048,576 bytes."),
    415: ("UnsupportedMediaType", "A body that is not application/json (or */*+json)."),
    422: ("InvalidInput", "Invalid fields or query parameters, each named in `errors`."),
    429: ("TooManyRequests", "Too many invalid credentials from this client (Retry-After)."),
    503: ("Unavailable", "A dependency is down or busy; try again (Retry-After when known)."),
    504: ("GatewayTimeout", "The service did not answer the gateway in time."),
}
# Where a money-moving create may also refuse for backpressure (shared/web/backpressure.py).
BACKPRESSURE_MARKER = "x-backpressure"
BACKPRESSURE = "Busy"
BACKPRESSURE_RESPONSE: dict[str, Any] = {
    "description": "A dependency is down or busy, or a consuming queue this request feeds is "
    "deeper than TAMEIO_BACKPRESSURE_DEPTH (backpressure): nothing was recorded; try again "
    "after Retry-After seconds with the same Idempotency-Key.",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
CSV_CONTENT = {
    "schema": {"type": "string", "description": "UTF-8 CSV; nested fields as dotted columns"}
}


def _number(value: object) -> object:
    """Decimals in generated schemas (limits of decimal fields) are JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
LIMITS = {"minimum", "maximum", "x-minimum", "x-maximum"}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


def _numeric_limits(node: Any) -> None:
    """Limits of decimal fields (apispec writes them as the field formats values, strings)
    become JSON numbers, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in LIMITS and isinstance(value, str):
                node[key] = _number(Decimal(value))
            else:
                _numeric_limits(value)
    elif isinstance(node, list):
        for item in node:
            _numeric_limits(item)


def error_codes(method: str, *, secured: bool, has_path_id: bool) -> list[int]:
    """The error statuses an operation can answer (through the gateway)."""
    codes = [400, 413, 415, 422, 503, 504]
    if secured:
        codes += [401, 403, 429]
    if has_path_id:
        codes.append(404)
    if method in WRITES:
        codes.append(409)
    return sorted(codes)


def _takes_csv(operation: dict[str, Any]) -> bool:
    return any(
        p.get("in") == "query" and p.get("name") == "format"
        for p in operation.get("parameters", [])
    )


def finish(spec: dict[str, Any]) -> dict[str, Any]:
    """A finished copy of flask-smorest's ``spec``: decimal limits as numbers, every error a
    problem+json with the statuses each operation can answer, CSV where ``format`` is taken."""
    document: dict[str, Any] = json.loads(json.dumps(spec, default=_number))
    _numeric_limits(document.get("components", {}).get("schemas", {}))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("Error", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    components["responses"] = {
        name: _problem_response(description) for name, description in ERRORS.values()
    }
    components["responses"]["Problem"] = _problem_response("Any other error.")
    default_security = document.get("security", [])
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = {
                code: answer
                for code, answer in operation.get("responses", {}).items()
                if code.startswith(("1", "2", "3"))
            }
            if _takes_csv(operation):
                for code, answer in responses.items():
                    if code.startswith("2") and "content" in answer:
                        answer["content"]["text/csv"] = CSV_CONTENT
            secured = bool(operation.get("security", default_security))
            for code in error_codes(method, secured=secured, has_path_id="{" in path):
                responses[str(code)] = {"$ref": f"#/components/responses/{ERRORS[code][0]}"}
            if operation.pop(BACKPRESSURE_MARKER, False):
                components["responses"][BACKPRESSURE] = BACKPRESSURE_RESPONSE
                responses["503"] = {"$ref": f"#/components/responses/{BACKPRESSURE}"}
            responses["default"] = {"$ref": "#/components/responses/Problem"}
            operation["responses"] = responses
    return document
