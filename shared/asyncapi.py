"""The AsyncAPI document, generated from the event catalog (never written by hand)."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from shared.events import CATALOG, EventSpec
from shared.events.catalog import is_legacy
from shared.messaging.envelope import EnvelopeSchema
from shared.messaging.topology import LEGACY_HEADER

ENVELOPE_FIELDS = (
    "id",
    "type",
    "version",
    "occurred_at",
    "source",
    "subject",
    "sequence",
    "correlation_id",
    "causation_id",
)


def _schema_name(schema: type) -> str:
    return schema.__name__.removesuffix("Schema")


def asyncapi_document(exchange: str = "tameio.events") -> dict[str, Any]:
    """AsyncAPI 2.6 for every event type and version in the catalog."""
    schemas = _schemas()
    envelope_props = {
        k: v for k, v in schemas["Envelope"]["properties"].items() if k in ENVELOPE_FIELDS
    }
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_spec in sorted(CATALOG.values(), key=lambda s: (s.type, s.version)):
        message_name = f"{event_spec.type}.v{event_spec.version}"
        messages[message_name] = _message(event_spec, envelope_props)
        channel = channels.setdefault(event_spec.type, _channel(event_spec, exchange))
        channel["subscribe"]["message"]["oneOf"].append(
            {"$ref": f"#/components/messages/{message_name}"}
        )
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "Tameio events",
            "version": "1",
            "description": (
                "Every business event of the Tameio suite, on one durable topic exchange. "
                "Messages are persistent JSON; AMQP properties: message_id = event id, "
                "type = event type, content_type = application/json, app_id = source service. "
                "Delivery is at least once: de-duplicate by id. Within a subject, sequence rises "
                "by one per event. Consumers must ignore fields they do not know."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def _schemas() -> dict[str, Any]:
    """JSON schemas of the envelope and of every event's data, by name."""
    spec = APISpec("tameio-events", "1", "3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.schema("Envelope", schema=EnvelopeSchema)
    for event_spec in sorted(CATALOG.values(), key=lambda s: (s.type, s.version)):
        name = _schema_name(event_spec.schema)
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=event_spec.schema)
    schemas: dict[str, Any] = spec.to_dict()["components"]["schemas"]
    return schemas


def _legacy_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "required": [LEGACY_HEADER],
        "properties": {
            LEGACY_HEADER: {
                "type": "string",
                "const": "true",
                "description": "A legacy version, published side by side with a newer "
                "version of the same type for a stated period; the current versions carry "
                "no such header.",
            }
        },
    }


def _message(event_spec: EventSpec, envelope_props: dict[str, Any]) -> dict[str, Any]:
    """One version of one event type as an AsyncAPI message."""
    legacy = is_legacy(event_spec.type, event_spec.version)
    return {
        **({"headers": _legacy_headers()} if legacy else {}),
        "name": event_spec.type,
        "title": f"{event_spec.type} (version {event_spec.version})",
        "summary": event_spec.summary,
        "contentType": "application/json",
        "payload": {
            "type": "object",
            "required": [*ENVELOPE_FIELDS[:7], "data"],
            "properties": {
                **envelope_props,
                "type": {"type": "string", "const": event_spec.type},
                "version": {"type": "integer", "const": event_spec.version},
                "data": {"$ref": f"#/components/schemas/{_schema_name(event_spec.schema)}"},
            },
        },
        "bindings": {
            "amqp": {
                "contentEncoding": "utf-8",
                "messageType": event_spec.type,
                "bindingVersion": "0.2.0",
            }
        },
    }


def _channel(event_spec: EventSpec, exchange: str) -> dict[str, Any]:
    """The channel of an event type (its routing key), without its messages yet."""
    return {
        "description": f"Routing key {event_spec.type} on exchange {exchange}; "
        f"published by the {event_spec.service} service.",
        "subscribe": {
            "operationId": "on_" + event_spec.type.replace(".", "_"),
            "summary": event_spec.summary,
            "message": {"oneOf": []},
        },
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": "0.2.0",
            }
        },
    }
