"""An outside subscriber speaking plain AMQP with pika, as another company system would."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pika


@dataclass
class Received:
    routing_key: str
    properties: pika.BasicProperties
    body: dict[str, Any]


def pika_url(amqp_url: str) -> str:
    """kombu writes the default vhost as a trailing '//', pika as '/%2F'."""
    return amqp_url[:-2] + "/%2F" if amqp_url.endswith("//") else amqp_url


class PikaSubscriber:
    """Binds a private queue to the exchange and collects what arrives."""

    def __init__(self, amqp_url: str, exchange: str, binding_key: str = "#") -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(pika_url(amqp_url)))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        result = self.channel.queue_declare("", exclusive=True, auto_delete=True)
        self.queue = result.method.queue
        self.channel.queue_bind(self.queue, exchange, routing_key=binding_key)
        self.received: list[Received] = []

    def collect(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` messages arrived in total (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {count} messages, got {len(self.received)} in {timeout}s"
                )
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            self.received.append(Received(method.routing_key, properties, json.loads(body)))
        return self.received

    def drain(self, quiet: float = 1.0) -> list[Received]:
        """Collect until nothing arrives for ``quiet`` seconds."""
        last = time.monotonic()
        while time.monotonic() - last < quiet:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            self.received.append(Received(method.routing_key, properties, json.loads(body)))
            last = time.monotonic()
        return self.received

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()
