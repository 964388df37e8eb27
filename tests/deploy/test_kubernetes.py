"""deploy/k8s: every overlay builds with kustomize and its built-in objects pass
kubernetes-validate --strict (offline: the schemas ship with it). RabbitmqCluster and
CloudNativePG Cluster are operator CRDs whose schemas are not shipped here: they are
skipped by kind, named below, and checked by hand-written assertions instead. Every
service has its objects, and the network policies follow the HTTP calls in the code."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
import yaml

from services.registry import SERVICES
from shared.config import SERVICE_PORTS
from tests.deploy.conftest import DEPLOY, ROOT
from tests.deploy.tools import run

OVERLAYS = ["dev", "prod", "external-db"]
# Operator kinds kubernetes-validate has no schema for (checked by the tests below).
CRD_KINDS = {"RabbitmqCluster", "Cluster"}
CONSUMERS = [name for name, s in SERVICES.items() if s.handlers]


@cache
def build(overlay: str) -> list[dict[str, Any]]:
    result = run("kubectl", "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay))
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in build(overlay) if o["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_objects_are_valid_kubernetes(overlay: str) -> None:
    built_in = [o for o in build(overlay) if o["kind"] not in CRD_KINDS]
    skipped = {o["kind"] for o in build(overlay)} & CRD_KINDS

    result = run(
        "kubernetes-validate", "--strict", "--quiet", "-", stdin=yaml.safe_dump_all(built_in)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert skipped == ({"RabbitmqCluster"} if overlay == "external-db" else CRD_KINDS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_are_committed(overlay: str) -> None:
    assert not objects(overlay, "Secret")
    for deployment in objects(overlay, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                value = variable.get("value", "")
                assert not re.search(r"://[^:/@]+:[^$@][^@]*@", value), value  # no inline password


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_has_its_objects(overlay: str, service: str) -> None:
    deployments = objects(overlay, "Deployment")
    web = deployments[f"{service}-web"]["spec"]["template"]["spec"]["containers"][0]
    port = SERVICE_PORTS[service]

    assert web["command"] == ["tameio", "serve", service]
    assert web["image"].startswith(f"tameio/{service}:")
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["resources"]["requests"] and web["resources"]["limits"]
    assert web["env"][0] == {
        "name": f"TAMEIO_{service.upper()}_DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": f"{service}-db-app", "key": "uri"}},
    }
    assert objects(overlay, "Service")[f"{service}-web"]["spec"]["ports"][0]["port"] == port
    assert f"{service}-web" in objects(overlay, "PodDisruptionBudget")
    job = objects(overlay, "Job")[f"{service}-migrate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["command"] == ["tameio", "migrate", service]
    if service in CONSUMERS:
        worker = deployments[f"{service}-worker"]["spec"]["template"]["spec"]["containers"][0]
        assert worker["command"] == ["tameio", "worker", service]
        assert worker["livenessProbe"]["exec"]["command"][-2:] == ["worker", service]
        assert f"{service}-worker" in objects(overlay, "PodDisruptionBudget")
    if overlay != "external-db":
        database = objects(overlay, "Cluster")[f"{service}-db"]
        assert database["apiVersion"] == "postgresql.cnpg.io/v1"
        assert database["spec"]["bootstrap"]["initdb"]["database"] == service


def test_the_probed_paths_exist_in_every_service(tmp_path) -> None:
    from services.gateway.app import create_app as create_gateway
    from shared.config import load_settings

    env = {"TAMEIO_DATA_DIR": str(tmp_path), "TAMEIO_INTERNAL_SECRET": "x" * 32}
    for name, definition in SERVICES.items():
        settings = load_settings(name, env)
        db = definition.database(settings)
        app = (
            create_gateway(settings, db, backends={})
            if name == "gateway"
            else definition.create_app(settings, db)
        )
        assert {"/healthz", "/readyz", "/metrics"} <= {r.rule for r in app.url_map.iter_rules()}
        db.dispose()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_billing_scales_on_its_own(overlay: str) -> None:
    autoscalers = objects(overlay, "HorizontalPodAutoscaler")
    for name in ("billing-web", "billing-worker"):
        assert autoscalers[name]["spec"]["scaleTargetRef"]["name"] == name
        assert autoscalers[name]["spec"]["maxReplicas"] > autoscalers[name]["spec"]["minReplicas"]


@pytest.mark.parametrize("overlay", ["prod", "external-db"])
def test_rabbitmq_runs_three_nodes_and_loads_the_definitions(overlay: str) -> None:
    (cluster,) = objects(overlay, "RabbitmqCluster").values()
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert cluster["spec"]["replicas"] == 3
    assert "load_definitions" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    (init,) = cluster["spec"]["override"]["statefulSet"]["spec"]["template"]["spec"][
        "initContainers"
    ]
    assert init["command"][:4] == ["tameio", "broker", "definitions", "--with-passwords"]


def http_calls_in_the_code() -> dict[str, set[str]]:
    """Which service calls which over HTTP: the gateway routes to all; the others through
    shared/web (fetch_owned, replica_customer, replica_invoice) or a ServiceClient."""
    names = "|".join(SERVICE_PORTS)
    call = re.compile(rf"(?:fetch_owned|get_bytes|\.get)\(\s*\"({names})\"")
    calls: dict[str, set[str]] = {"gateway": set(SERVICE_PORTS) - {"gateway"}}
    for service in SERVICES:
        if service == "gateway":
            continue
        found: set[str] = set()
        for source in (ROOT / "services" / service).glob("*.py"):
            text = source.read_text()
            found |= set(call.findall(text))
            if "replica_customer(" in text:
                found.add("customers")
            if "replica_invoice(" in text:
                found.add("billing")
        if found - {service}:
            calls[service] = found - {service}
    return calls


def test_network_policies_follow_the_http_calls_in_the_code() -> None:
    calls = http_calls_in_the_code()
    assert calls["billing"] == {"customers", "contracts"}  # the scan still finds them
    policies = objects("prod", "NetworkPolicy")

    for service in SERVICES:
        egress = policies.get(f"{service}-egress", {"spec": {"egress": []}})["spec"]["egress"]
        reached = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in egress
            for peer in rule.get("to", [])
            if "podSelector" in peer
        } - {"tameio-rabbitmq"}
        assert reached == calls.get(service, set()), service
        ingress = policies[f"{service}-web-ingress"]["spec"]["ingress"]
        if service == "gateway":
            assert ingress == [{"ports": [{"protocol": "TCP", "port": 8000}]}]  # from anywhere
            continue
        callers = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in ingress
            for peer in rule["from"]
        }
        assert callers == {c for c, called in calls.items() if service in called}, service


def test_everything_of_tameio_is_denied_by_default_and_only_the_notifier_mails() -> None:
    policies = objects("prod", "NetworkPolicy")
    deny = policies["tameio-default-deny"]["spec"]
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "tameio"}}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny
    smtp = [
        name
        for name, policy in policies.items()
        for rule in policy["spec"].get("egress", [])
        if any(port.get("port") == 587 for port in rule.get("ports", []))
    ]
    assert smtp == ["notifier-egress"]
    for service in SERVICES:
        database = policies[f"{service}-database"]["spec"]["egress"][0]["to"][0]
        assert database == {"podSelector": {"matchLabels": {"cnpg.io/cluster": f"{service}-db"}}}
