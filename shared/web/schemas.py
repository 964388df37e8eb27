"""Base of every request schema: input rules that hold for every field of every service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, pre_load

NUL_MESSAGE = "Must not contain NUL characters."


def _nul_errors(value: Any) -> Any:
    """Nested error messages for every string holding a NUL character (none: None)."""
    if isinstance(value, str):
        return [NUL_MESSAGE] if "\x00" in value else None
    if isinstance(value, Mapping):
        errors = {key: found for key, item in value.items() if (found := _nul_errors(item))}
        return errors or None
    if isinstance(value, list):
        errors = {index: found for index, item in enumerate(value) if (found := _nul_errors(item))}
        return errors or None
    return None


class RequestSchema(Schema):
    """Rejects NUL characters anywhere (PostgreSQL text cannot hold them) with a 422."""

    @pre_load
    def _reject_nul(self, data: Any, **_: Any) -> Any:
        errors = _nul_errors(data)
        if errors:
            raise ValidationError(errors)
        return data
