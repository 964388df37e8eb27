"""The relay's batch of frames: written to the broker's socket once, at the batch's end."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shared.messaging.relay import _one_write


def broker_with(writes: list[bytes]) -> SimpleNamespace:
    transport = SimpleNamespace(_write=writes.append)
    return SimpleNamespace(connection=SimpleNamespace(transport=transport))


def test_the_frames_of_a_batch_go_out_in_one_write_in_order() -> None:
    writes: list[bytes] = []
    broker = broker_with(writes)
    frame = bytearray(b"ab")
    with _one_write(broker):  # type: ignore[arg-type]
        broker.connection.transport._write(memoryview(frame))
        frame[:] = b"xx"  # py-amqp reuses its buffer for the next frame
        broker.connection.transport._write(b"cd")
        assert writes == []
    assert writes == [b"abcd"]
    assert broker.connection.transport._write == writes.append


def test_a_failed_batch_writes_nothing_and_leaves_the_transport_as_it_was() -> None:
    writes: list[bytes] = []
    broker = broker_with(writes)
    with pytest.raises(ConnectionError), _one_write(broker):  # type: ignore[arg-type]
        broker.connection.transport._write(b"ab")
        raise ConnectionError("broker went away")
    assert writes == []
    assert broker.connection.transport._write == writes.append


def test_a_transport_without_a_socket_writer_is_left_alone() -> None:
    broker = SimpleNamespace(connection=SimpleNamespace())  # the memory transport
    with _one_write(broker):  # type: ignore[arg-type]
        pass
