"""k8s/optional/monitoring: Prometheus Operator objects of the allowed shape, scraping ports that exist, alerting on
metric names the code really exports (checked against the Counter/Histogram/Gauge definitions)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from tests.deploy.conftest import K8S
from tests.deploy.kustomize import Obj, render
from tests.deploy.validators import REPO_ROOT, pod_spec

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
SELECTOR = {"type": "object", "additionalProperties": False, "properties": {
    "matchLabels": STRING_MAP,
    "matchExpressions": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                    "required": ["key", "operator"], "properties": {
                                                        "key": {"type": "string"},
                                                        "operator": {"enum": ["In", "NotIn", "Exists"]},
                                                        "values": {"type": "array", "items": {"type": "string"}}}}}}}
ENDPOINT = {"type": "object", "additionalProperties": False, "required": ["port"], "properties": {
    "port": {"type": "string"}, "path": {"type": "string"}, "interval": {"type": "string", "pattern": r"^\d+[sm]$"}}}
RULE = {"type": "object", "additionalProperties": False, "required": ["alert", "expr", "labels", "annotations"],
        "properties": {"alert": {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]+$"}, "expr": {"type": "string"},
                       "for": {"type": "string", "pattern": r"^\d+[smh]$"},
                       "labels": {"type": "object", "required": ["severity"], "properties": {
                           "severity": {"enum": ["info", "warning", "critical"]}}},
                       "annotations": {"type": "object", "required": ["summary"]}}}


def crd(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {"apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": kind},
                           "metadata": {"type": "object"}, "spec": spec}}


# the subset of the Prometheus Operator CRDs these files use; anything else is refused
SCHEMAS = {
    "ServiceMonitor": crd("ServiceMonitor", {"type": "object", "additionalProperties": False, "properties": {
        "selector": SELECTOR, "endpoints": {"type": "array", "minItems": 1, "items": ENDPOINT}}}),
    "PodMonitor": crd("PodMonitor", {"type": "object", "additionalProperties": False, "properties": {
        "selector": SELECTOR, "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": ENDPOINT}}}),
    "PrometheusRule": crd("PrometheusRule", {"type": "object", "additionalProperties": False, "properties": {
        "groups": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                              "required": ["name", "rules"], "properties": {
                                                  "name": {"type": "string"},
                                                  "rules": {"type": "array", "minItems": 1, "items": RULE}}}}}}),
}
METRIC_DEFINITION = re.compile(r"(Counter|Histogram|Gauge|GaugeMetricFamily|CounterMetricFamily)\(\s*\"(p2p_\w+)\"")


@pytest.fixture(scope="module")
def monitoring() -> list[Obj]:
    return render(K8S / "optional" / "monitoring")


def exported_samples() -> set[str]:
    """Sample names the code exports, as Prometheus sees them."""
    samples: set[str] = set()
    for source in [*(REPO_ROOT / "workers").rglob("*.py"), *(REPO_ROOT / "producer").rglob("*.py")]:
        for kind, name in METRIC_DEFINITION.findall(source.read_text()):
            if kind.startswith("Counter"):
                samples.add(name if name.endswith("_total") else f"{name}_total")
            elif kind == "Histogram":
                samples.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
            else:
                samples.add(name)
    return samples


def test_given_the_monitoring_objects_then_they_have_the_operator_shape(monitoring: list[Obj]) -> None:
    assert {o["kind"] for o in monitoring} == set(SCHEMAS)
    for obj in monitoring:
        jsonschema.validate(obj, SCHEMAS[obj["kind"]])


def test_given_a_misspelt_monitor_field_then_the_shape_check_fails(monitoring: list[Obj]) -> None:
    monitor = next(o for o in monitoring if o["kind"] == "PodMonitor")
    broken = {**monitor, "spec": {**monitor["spec"], "podMetricEndpoints": []}}
    with pytest.raises(jsonschema.ValidationError, match="podMetricEndpoints"):
        jsonschema.validate(broken, SCHEMAS["PodMonitor"])


def test_given_the_alerts_then_every_p2p_metric_they_use_is_exported_by_the_code(monitoring: list[Obj]) -> None:
    samples = exported_samples()
    assert {"p2p_jobs_total", "p2p_queue_wait_seconds_bucket", "p2p_jobs"} <= samples
    rules = [r for o in monitoring if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"] for r in g["rules"]]
    used = {name for rule in rules for name in re.findall(r"\bp2p_\w+", rule["expr"])}
    assert used and used <= samples, used - samples


def test_given_the_monitors_then_they_scrape_named_ports_of_the_pods_they_select(monitoring: list[Obj]) -> None:
    base = render(K8S / "base")
    service = next(o for o in monitoring if o["kind"] == "ServiceMonitor")
    targets = [o for o in base if o["kind"] == "Service"
               and service["spec"]["selector"]["matchLabels"].items() <= o["metadata"]["labels"].items()]
    assert [t["metadata"]["name"] for t in targets] == ["p2p-api"]
    assert service["spec"]["endpoints"][0]["port"] in {p["name"] for p in targets[0]["spec"]["ports"]}
    pods = next(o for o in monitoring if o["kind"] == "PodMonitor")
    [expression] = pods["spec"]["selector"]["matchExpressions"]
    for component in expression["values"]:
        workload = next(o for o in base if o["kind"] == "Deployment"
                        and o["spec"]["template"]["metadata"]["labels"].get(expression["key"]) == component)
        ports = {p["name"] for p in (pod_spec(workload) or {})["containers"][0]["ports"]}
        assert pods["spec"]["podMetricsEndpoints"][0]["port"] in ports
