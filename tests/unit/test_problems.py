"""Problem documents: marshmallow's nested errors flattened to dotted field names."""

from __future__ import annotations

import json

import pytest
from marshmallow import Schema, ValidationError, fields, validate

from shared.web.problems import Problem, flatten_messages, invalid, problem_response


def test_nested_error_dicts_become_dotted_keys() -> None:
    messages = {
        "name": ["Missing data for required field."],
        "billing_address": {"country": ["Not an ISO 3166 code."], "city": ["Too long."]},
    }

    assert flatten_messages(messages) == {
        "name": ["Missing data for required field."],
        "billing_address.country": ["Not an ISO 3166 code."],
        "billing_address.city": ["Too long."],
    }


def test_list_item_errors_are_named_by_index() -> None:
    messages = {"lines": {0: {"sku": ["Unknown sku."]}, 2: {"quantity": ["Must be positive."]}}}

    assert flatten_messages(messages) == {
        "lines.0.sku": ["Unknown sku."],
        "lines.2.quantity": ["Must be positive."],
    }


def test_whole_body_errors_are_under_schema() -> None:
    assert flatten_messages(["Invalid input type."]) == {"_schema": ["Invalid input type."]}
    assert flatten_messages("Invalid input type.") == {"_schema": ["Invalid input type."]}


def test_a_list_of_error_dicts_is_named_by_position() -> None:
    messages = {"allocations": [{"amount": ["Not a number."]}, {"invoice_id": ["Unknown."]}]}

    assert flatten_messages(messages) == {
        "allocations.0.amount": ["Not a number."],
        "allocations.1.invoice_id": ["Unknown."],
    }


class _Address(Schema):
    country = fields.String(validate=validate.Length(equal=2))


class _Line(Schema):
    sku = fields.String(required=True)


class _Invoice(Schema):
    customer_id = fields.String(required=True)
    billing_address = fields.Nested(_Address)
    lines = fields.List(fields.Nested(_Line))


def test_real_marshmallow_errors_flatten_to_the_fields_a_client_sent() -> None:
    with pytest.raises(ValidationError) as caught:
        _Invoice().load({"billing_address": {"country": "GRC"}, "lines": [{"sku": "A"}, {}]})

    flat = flatten_messages(caught.value.messages)

    assert set(flat) == {"customer_id", "billing_address.country", "lines.1.sku"}
    assert all(isinstance(m, str) for messages in flat.values() for m in messages)


def test_invalid_is_a_422_naming_the_field() -> None:
    problem = invalid("cursor", "Not a cursor from this list.")

    assert isinstance(problem, Problem)
    assert problem.status == 422
    assert problem.errors == {"cursor": ["Not a cursor from this list."]}
    assert "cursor" in problem.detail


def test_problem_response_is_problem_json_with_errors() -> None:
    response = problem_response(422, "name: Too long.", errors={"name": ["Too long."]})

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_data(as_text=True))
    assert body == {
        "type": "https://tameio.dev/problems/validation-error",
        "title": "Invalid input",
        "status": 422,
        "detail": "name: Too long.",
        "errors": {"name": ["Too long."]},
    }
