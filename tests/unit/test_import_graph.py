"""The house has no arrow back up: cli.py and registry.py import the services, a service
imports only itself and shared/, shared/ imports no service, and no two project modules
import each other even through a chain (imports inside functions count too, so hiding a
cycle in a function body does not pass). A service's domain.py reaches no database, web,
broker or network module, even through the modules it imports."""

from __future__ import annotations

import ast

from tests.support.codebase import PACKAGES, Module, cycles, import_graph, project_modules

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


def test_no_project_module_is_imported_inside_a_function():
    inside = sorted(
        f"{module.relative}:{node.lineno}"
        for module in project_modules().values()
        for function in ast.walk(module.tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and (
            getattr(node, "level", 0)
            or (getattr(node, "module", None) or node.names[0].name).split(".")[0] in PACKAGES
        )
    )
    assert inside == []


def test_cli_reaches_the_services_only_through_the_registry():
    services = {t for t in import_graph()["services.cli"] if service_of(t) is not None}
    assert services == {"services.registry", "services.welcome", "services.demo"}


# What a domain.py may not reach, directly or through the project modules it imports: the
# database, the web, the broker, the network.
IMPURE = ("sqlalchemy", "flask", "flask_smorest", "kombu", "urllib3", "requests", "smtplib")
IMPURE_PROJECT = ("shared.db", "shared.web", "shared.messaging", "shared.replicas")


def reached_from(module: str) -> set[str]:
    graph, seen, todo = import_graph(), set(), [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def outside_imports(module: Module) -> set[str]:
    names = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names - set(PACKAGES)


def test_every_domain_module_is_pure():
    modules = project_modules()
    domains = [name for name in modules if name.endswith(".domain")]
    assert {"services.gateway.domain", "services.billing.domain"} <= set(domains)
    impure = {
        domain: sorted(
            {m for m in reached if m.startswith(IMPURE_PROJECT) or m.endswith(".models")}
            | {i for m in reached for i in outside_imports(modules[m]) if i in IMPURE}
        )
        for domain in domains
        for reached in [reached_from(domain)]
    }
    assert {d: found for d, found in impure.items() if found} == {}
