"""The HA deployments, checked statically: docker-compose.ha.yml (every service hardened and
health-gated, AOF and the same ACL users on every data node, nginx in front of two webs) and
the Kubernetes base under deploy/k8s (every manifest valid for a pinned Kubernetes version,
no token in the web)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.test_containers import COMPOSE_HA, compose, interpolate, service_env

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
NODE_PASSWORDS = {
    "REDIS_WORKER_PASSWORD",
    "REDIS_WEB_PASSWORD",
    "REDIS_REPLICA_PASSWORD",
    "REDIS_SENTINEL_NODE_PASSWORD",
}


def ha_services() -> dict[str, Any]:
    return dict(compose(COMPOSE_HA)["services"])


def test_ha_compose_has_every_part_twice_or_thrice() -> None:
    names = set(ha_services())
    assert names == {
        "redis-1",
        "redis-2",
        "redis-3",
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
        "worker-1",
        "worker-2",
        "web-1",
        "web-2",
        "proxy",
    }


def test_ha_compose_is_hardened_and_health_gated() -> None:
    for name, service in ha_services().items():
        assert service.get("read_only") is True, name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert "ALL" in service.get("cap_drop", []), name
        assert "/tmp" in service.get("tmpfs", []), name
        assert service.get("user") or name.startswith(("worker", "web")), f"{name} runs as root"
        assert "test" in service.get("healthcheck", {}), name
        for needed, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, needed)
        assert "ports" not in service or name == "proxy", f"{name} is published"


def test_ha_data_nodes_keep_aof_and_the_same_acl_users() -> None:
    services = ha_services()
    for name in ("redis-1", "redis-2", "redis-3"):
        command = services[name]["command"]
        assert command[command.index("--appendonly") + 1] == "yes", name
        assert set(service_env(services[name])) == NODE_PASSWORDS, name
        assert services[name]["volumes"][0].endswith(":/data")
    for name in ("redis-2", "redis-3"):
        assert services[name]["command"][-3:] == ["--replicaof", "redis-1", "6379"]


def test_ha_tiers_find_redis_through_the_sentinels_and_the_web_has_no_token() -> None:
    services = interpolate(
        ha_services(),
        {name: "pw" for name in {*NODE_PASSWORDS, "REDIS_SENTINEL_PASSWORD", "MIST_API_TOKEN"}},
    )
    for name in ("worker-1", "worker-2", "web-1", "web-2"):
        env = service_env(services[name])
        assert env["REDIS_SENTINELS"] == "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379"
        assert env["REDIS_SENTINEL_MASTER"] == "mist"
    for name in ("web-1", "web-2"):
        env = service_env(services[name])
        assert not any(key.startswith("MIST_") for key in env), name
        assert env["REDIS_URL"].startswith("redis://web:")
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:1.") and "latest" not in proxy["image"]
    assert proxy["ports"] == ["127.0.0.1:5000:5000"], "loopback by default, as docker-compose.yml"
    config = (ROOT / "deploy" / "nginx" / "ha.conf").read_text()
    assert "server web-1:${PORT}" in config and "server web-2:${PORT}" in config


def test_the_entrypoint_adds_the_replica_and_sentinel_users_when_asked(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    env.update({name: f"{name.lower()}-x" for name in NODE_PASSWORDS})
    result = subprocess.run(
        ["sh", str(ROOT / "redis" / "entrypoint.sh"), "sh", "-c", 'cat "$2"', "-"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    users = {line.split()[1]: line for line in result.stdout.splitlines()}
    assert set(users) == {"default", "worker", "web", "replica", "sentinel"}
    assert "+psync" in users["replica"] and "~" not in users["replica"]
    assert "+replicaof" in users["sentinel"] and "~" not in users["sentinel"]


def manifests() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    found = []
    for name in kustomization["resources"]:
        found += [(name, doc) for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    return found


def test_the_kustomize_base_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("index", range(11))
def test_every_kubernetes_manifest_is_valid(index: int) -> None:
    found = manifests()
    assert len(found) == 11
    name, document = found[index]
    assert name.endswith(".yaml")
    assert kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_a_broken_manifest() -> None:
    _, deployment = next(m for m in manifests() if m[1]["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _kind(kind: str, name: str) -> dict[str, Any]:
    return next(d for _, d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name)


def test_two_workers_two_webs_with_probes_and_a_disruption_budget_no_token_in_the_web() -> None:
    web, worker = _kind("Deployment", "mist-web"), _kind("Deployment", "mist-worker")
    assert web["spec"]["replicas"] == worker["spec"]["replicas"] == 2
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "MIST_" not in yaml.safe_dump(web)
    assert "MIST_API_TOKEN" in yaml.safe_dump(worker)
    budget = _kind("PodDisruptionBudget", "mist-web")
    assert budget["spec"]["selector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
    for _, document in manifests():
        if document["kind"] in ("Deployment", "StatefulSet"):
            for pod_container in document["spec"]["template"]["spec"]["containers"]:
                security = pod_container["securityContext"]
                assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]


def test_the_pods_run_the_same_redis_scripts_as_compose() -> None:
    scripts = _kind("ConfigMap", "mist-redis-scripts")["data"]
    for name in ("entrypoint.sh", "sentinel.sh"):
        assert scripts[name] == (ROOT / "redis" / name).read_text(), f"{name} drifted"
    assert _kind("StatefulSet", "mist-redis")["spec"]["replicas"] == 3
    assert _kind("StatefulSet", "mist-sentinel")["spec"]["replicas"] == 3
