"""The house has no arrow back up: cli.py and registry.py import the services, a service
imports only itself and shared/, shared/ imports no service, and no two project modules
import each other even through a chain (imports inside functions count too, so hiding a
cycle in a function body does not pass)."""

from __future__ import annotations

from tests.support.codebase import cycles, import_graph

# The modules that assemble the suite: they may import every service.
ASSEMBLERS = {"services", "services.cli", "services.registry", "services.demo", "services.welcome"}


def service_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def test_the_graph_sees_imports_at_top_and_inside_functions():
    graph = import_graph()
    assert {"shared.messaging.outbox", "shared.tables"} <= graph["shared.db"]
    assert "shared.db" not in graph["shared.messaging.outbox"]
    assert "services.billing.app" in graph["services.registry"]


def test_no_import_cycle_among_project_modules():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle_through_a_chain():
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a"}),
        "d": frozenset({"a"}),
    }
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_service_imports_another_service():
    crossing = {
        module: sorted(t for t in targets if service_of(t) not in (None, service_of(module)))
        for module, targets in import_graph().items()
        if module not in ASSEMBLERS and service_of(module) is not None
    }
    assert {m: t for m, t in crossing.items() if t} == {}


def test_shared_imports_no_service():
    reaching = {
        module: sorted(t for t in targets if t.startswith("services"))
        for module, targets in import_graph().items()
        if module.startswith("shared")
    }
    assert {m: t for m, t in reaching.items() if t} == {}
