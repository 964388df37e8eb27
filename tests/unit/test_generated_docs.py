"""The OpenAPI and AsyncAPI documents in docs/ are the ones the code generates today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import render_docs

ROOT = Path(__file__).resolve().parents[2]
GENERATED = render_docs()


@pytest.mark.parametrize("path", sorted(GENERATED, key=str), ids=str)
def test_committed_document_is_current(path: Path) -> None:
    committed = ROOT / path
    assert committed.exists(), f"{path} is missing: run `make docs`"
    assert json.loads(committed.read_text()) == json.loads(GENERATED[path]), (
        f"{path} is stale: run `make docs` and commit the result"
    )


def test_asyncapi_documents_every_catalog_event() -> None:
    from shared.events import CATALOG

    document = json.loads(GENERATED[Path("docs/events/asyncapi.json")])
    assert set(document["channels"]) == {event_type for event_type, _ in CATALOG}
    for message in document["components"]["messages"].values():
        ref = message["payload"]["properties"]["data"]["$ref"]
        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"]
