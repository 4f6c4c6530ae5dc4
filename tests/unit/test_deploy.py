"""What can be checked of the deployment files without a Docker engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.app import create_app as consumer_app
from producer.app import create_app as producer_app
from shared.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KNOWN = {name.upper() for name in Settings.model_fields}
# Variables the deployment itself uses, not the service.
DEPLOY_ONLY = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "PATH",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def routes(app: Any) -> set[str]:
    return {r.resource.canonical for r in app.router.routes() if r.resource is not None}


def test_image_commands_exist_as_entry_points() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "-m"]' in text and 'CMD ["producer"]' in text
    assert re.search(r"^USER 10001:10001$", text, re.M) and "--gid 10001" in text and "--uid 10001" in text
    assert 'CMD ["python", "-m", "shared.probe"]' in text, "the health check follows the container's role"
    # Both stages on the same base, given as an argument (a mirror or a digest can replace it).
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    for directory in re.findall(r"^COPY (\w+) \./\1$", text, re.M):
        assert (ROOT / directory).is_dir(), directory
    assert set(re.findall(r"^COPY (\w+) \./", text, re.M)) == {"shared", "producer", "consumer", "sql"}
    # Dependencies only from the lock, by hash; the product itself without dependencies.
    installs = re.findall(r"pip install ([^\n&\\]+)", text)
    assert installs and all("--require-hashes" in i or "--no-deps" in i for i in installs), installs
    assert "-r requirements/runtime.txt" in text and "dev.txt" not in text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored, "the builder gets an allow-list, not everything but a few names"
    assert not [line for line in ignored if line.startswith("!") and re.search(r"demo|devkit|tests|\.git|\.env", line)]
    # That each command runs: tests/e2e/test_entry_points.py (it starts processes).


def test_compose_parses_and_sets_only_known_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "producer", "consumer"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert services["producer"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("producer", "consumer", "migrate"):
        env = services[name].get("environment", {})
        unknown = set(env) - KNOWN - DEPLOY_ONLY
        assert not unknown, (name, unknown)
    assert services["migrate"]["command"] == ["producer", "migrate"]


def test_env_example_values_load_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copying .env.example to .env must start the service (after filling in the URLs), not stop it on a
    setting left empty."""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.direct_database_url is None and settings.unsubscribe_secret is None
    settings.require_producer()
    settings.require_consumer()


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    keys = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert keys == KNOWN


@pytest.mark.parametrize("name", ["configmap.yaml", "secret.yaml"])
def test_k8s_config_keys_are_settings(name: str) -> None:
    [doc] = load_all(DEPLOY / "k8s" / name)
    data = doc.get("data") or doc.get("stringData")
    assert set(data) <= KNOWN, set(data) - KNOWN


def test_k8s_images_are_placeholders_pulled_deliberately() -> None:
    for name in ("producer.yaml", "consumer.yaml", "migrate-job.yaml"):
        for doc in load_all(DEPLOY / "k8s" / name):
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert not container["image"].endswith(":latest") and "/" in container["image"], name
                assert container["imagePullPolicy"] == "IfNotPresent", name
    assert "Placeholder" in (DEPLOY / "k8s" / "producer.yaml").read_text()


def test_k8s_secret_template_has_every_secret_the_service_needs() -> None:
    [doc] = load_all(DEPLOY / "k8s" / "secret.yaml")
    assert {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "CREDENTIALS_KEYS"} <= set(doc["stringData"])
    assert "new-key" in (DEPLOY / "k8s" / "secret.yaml").read_text()


def test_both_services_carry_scrape_annotations() -> None:
    ports = {"producer": "8080", "consumer": "8081"}
    services = [
        d
        for name in ("consumer.yaml", "monitoring.yaml")
        for d in load_all(DEPLOY / "k8s" / name)
        if d["kind"] == "Service"
    ]
    seen = set()
    for service in services:
        component = service["metadata"]["labels"]["component"]
        notes = service["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/port"] == ports[component]
        seen.add(component)
    assert seen == {"producer", "consumer"}


def test_k8s_probes_hit_real_routes_on_the_right_ports() -> None:
    settings = Settings()
    apps = {
        "producer": (routes(producer_app(settings, run_scheduler=False)), settings.producer_port),
        "consumer": (routes(consumer_app(settings, None, None, "k")), settings.consumer_port),
    }  # type: ignore[arg-type]
    for component in ("producer", "consumer"):
        docs = load_all(DEPLOY / "k8s" / f"{component}.yaml")
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [component]
        known_routes, port = apps[component]
        assert container["ports"][0]["containerPort"] == port
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["path"] in known_routes
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    producer = next(d for d in load_all(DEPLOY / "k8s" / "producer.yaml") if d["kind"] == "Deployment")
    assert producer["spec"]["replicas"] == 2
    consumer = load_all(DEPLOY / "k8s" / "consumer.yaml")
    [scaled] = [d for d in consumer if d["kind"] == "ScaledObject"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "scheduled-reports-consumer"
    assert scaled["spec"]["triggers"][0]["metadata"]["query"] == "max(scheduled_reports_queue_depth)"
    assert not [d for d in consumer if d["kind"] == "HorizontalPodAutoscaler"], "consumers scale on the queue"
    [service] = [d for d in consumer if d["kind"] == "Service"]
    assert service["spec"]["selector"] == {"app": "scheduled-reports", "component": "consumer"}
    assert service["spec"]["ports"][0]["port"] == Settings().consumer_port
    [job] = load_all(DEPLOY / "k8s" / "migrate-job.yaml")
    assert job["kind"] == "Job" and job["spec"]["template"]["spec"]["containers"][0]["args"] == ["producer", "migrate"]


def test_every_pod_is_hardened() -> None:
    for name in ("producer.yaml", "consumer.yaml", "migrate-job.yaml"):
        for doc in load_all(DEPLOY / "k8s" / name):
            if doc["kind"] not in ("Deployment", "Job"):
                continue
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            for container in pod["containers"]:
                sc = container["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, name
                assert sc["capabilities"] == {"drop": ["ALL"]}, name
            if doc["kind"] == "Deployment":
                # A read-only root needs somewhere to write: /tmp (and the consumer's spool) are volumes.
                mounts = {m["mountPath"] for c in pod["containers"] for m in c.get("volumeMounts", [])}
                assert "/tmp" in mounts, name


def test_compose_publishes_nothing_beyond_this_machine() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
