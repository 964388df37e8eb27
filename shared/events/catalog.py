"""Registry of event types: (type, version) -> schema of ``data``."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema

from shared.events.dumping import SchemaDumper
from shared.events.loading import SchemaLoader


class UnknownEvent(LookupError):
    """No schema is registered for this event type and version."""


@dataclass(frozen=True)
class EventSpec:
    type: str
    version: int
    schema: builtins.type[Schema]
    summary: str

    @functools.cached_property
    def instance(self) -> Schema:
        """One schema object per event type, reused (marshmallow schemas hold no state)."""
        return self.schema()

    @functools.cached_property
    def loader(self) -> SchemaLoader:
        """Loads incoming data as :attr:`instance` does, compiled once (the consume path)."""
        return SchemaLoader(self.instance)

    @functools.cached_property
    def dumper(self) -> SchemaDumper:
        """Dumps emitted data to its wire form as :attr:`instance` does and checks it as
        :attr:`loader` does, compiled once (the emit path)."""
        return SchemaDumper(self.instance, self.loader)

    @property
    def service(self) -> str:
        return self.type.split(".", 1)[0]


CATALOG: dict[tuple[str, int], EventSpec] = {}


class EventData(Schema):
    """Base of every event's ``data`` schema: consumers ignore fields they do not know."""

    class Meta:
        unknown = EXCLUDE


def event(*types: str, version: int = 1, summary: str) -> Callable[[type[Schema]], type[Schema]]:
    """Register a data schema for one or more event types (same shape, e.g. created/updated)."""

    def register(schema: type[Schema]) -> type[Schema]:
        for event_type in types:
            key = (event_type, version)
            if key in CATALOG:
                raise ValueError(f"event {event_type} v{version} registered twice")
            CATALOG[key] = EventSpec(event_type, version, schema, summary)
        return schema

    return register


def spec_for(event_type: str, version: int) -> EventSpec:
    try:
        return CATALOG[(event_type, version)]
    except KeyError:
        raise UnknownEvent(f"no schema for event {event_type} version {version}") from None


def is_known_type(event_type: str) -> bool:
    """Whether the catalog has the event type in any version."""
    return any(known == event_type for known, _ in CATALOG)


@functools.cache
def is_legacy(event_type: str, version: int) -> bool:
    """Whether ``version`` is an older version of a type the catalog has in a newer one:
    published side by side with it for outside subscribers, read by no consumer of the
    suite (cached: the relay asks for every event it publishes)."""
    return any(known == event_type and newer > version for known, newer in CATALOG)


def load_data(event_type: str, version: int, data: Any) -> dict[str, Any]:
    """Validate and deserialize ``data`` of an incoming event (raises ValidationError)."""
    return spec_for(event_type, version).loader.load(data)
