"""No cluster here: check the k8s/ manifests without one.

Core kinds are validated, strictly, against the Kubernetes OpenAPI schemas that the
kubernetes-validate package ships; the KEDA kinds (no schema shipped) and the wiring
between objects are checked field by field; `kubectl kustomize` renders both entry points
when kubectl is on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from jobs.contract import WORKER_QUEUES
from tests.conftest import REPO_ROOT
from worker.settings import WorkerSettings

K8S = REPO_ROOT / "k8s"
BASE = K8S / "base"
ALWAYS_ON = K8S / "overlays" / "always-on"
# The oldest Kubernetes these manifests target, and the newest the package knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
IMAGE_UID = 10001  # docker/Dockerfile: USER 10001:10001
# Measured on this code (docs/deploy.md, "Memory"), in MiB: the RSS of each process.
WORKER_MAIN_RSS = 328
WORKER_CHILD_PEAK_RSS = 779
PROBE_RSS = 51
API_RSS = 27 + 2 * 54  # the gunicorn master and its 2 workers, at peak


def load_documents(path: Path) -> Iterator[dict]:
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document


@pytest.fixture(scope="module")
def kustomization() -> dict:
    return yaml.safe_load((BASE / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def documents(kustomization) -> list[dict]:
    return [doc for name in kustomization["resources"] for doc in load_documents(BASE / name)]


def find(documents: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def container(documents: list[dict], deployment: str) -> dict:
    containers = find(documents, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    number, unit = re.fullmatch(r"([\d.]+)([A-Za-z]*)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * units[unit] if unit else float(number) / 2**20


# --- schemas and layout ------------------------------------------------------------------


def test_every_manifest_is_in_the_kustomization_and_parses(kustomization):
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert kustomization["namespace"] == "newsnlp"
    top = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert top["resources"] == ["base"]
    overlay = yaml.safe_load((ALWAYS_ON / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../../base"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_are_valid_against_the_kubernetes_schemas(documents, version):
    core = [d for d in documents if not d["apiVersion"].startswith("keda.sh/")]
    assert {d["kind"] for d in core} == {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Service",
        "Deployment",
        "StatefulSet",
        "PodDisruptionBudget",
    }
    for document in core:
        # strict: a misspelt or misplaced field is an error, not silently dropped
        kubernetes_validate.validate(document, version, strict=True)


def test_the_schema_check_rejects_a_misplaced_field(documents):
    deployment = yaml.safe_load(yaml.safe_dump(find(documents, "Deployment", "api")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_every_object_has_a_kind_a_name_and_the_namespace(documents):
    namespace = find(documents, "Namespace", "newsnlp")["metadata"]["name"]
    for document in documents:
        assert document["apiVersion"] and document["kind"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", document["metadata"]["name"])
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == namespace, document["metadata"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("entry", [K8S, ALWAYS_ON], ids=["default", "always-on"])
def test_kustomize_renders_each_entry_point(entry, documents):
    result = subprocess.run(
        ["kubectl", "kustomize", str(entry)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert sorted((d["kind"], d["metadata"]["name"]) for d in rendered) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in documents
    )
    scaled = find(rendered, "ScaledObject", "worker")["spec"]
    probe = container(rendered, "api")["readinessProbe"]["httpGet"]["path"]
    if entry == ALWAYS_ON:
        assert (scaled["minReplicaCount"], probe) == (1, "/readyz")
    else:
        assert (scaled["minReplicaCount"], probe) == (0, "/readyz?workers=optional")


# --- workloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_selectors_match_the_pod_template_labels(documents, kind):
    for workload in (d for d in documents if d["kind"] == kind):
        selector = workload["spec"]["selector"]["matchLabels"]
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selector and selector.items() <= labels.items(), workload["metadata"]["name"]


def test_services_select_pods_that_exist_on_ports_they_name(documents):
    pods = [d["spec"]["template"] for d in documents if d["kind"] in ("Deployment", "StatefulSet")]
    for service in (d for d in documents if d["kind"] == "Service"):
        selected = [
            pod
            for pod in pods
            if service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        port_names = {p["name"] for c in selected[0]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names


@pytest.mark.parametrize(
    ("name", "image", "role"),
    [("api", "api", "api"), ("worker", "worker", "worker"),
     ("webhook-worker", "worker", "webhook-worker")],
)  # fmt: skip
def test_each_deployment_runs_its_image_role_as_the_image_user(documents, name, image, role):
    spec = find(documents, "Deployment", name)["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == IMAGE_UID
    only = container(documents, name)
    assert only["image"].split(":")[0] == f"newsnlp-{image}"
    assert only["args"] == [role]
    assert only["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("name", ["api", "worker", "webhook-worker"])
def test_each_deployment_reads_the_configmap_and_the_redis_url_from_the_secret(documents, name):
    only = container(documents, name)
    configmap = find(documents, "ConfigMap", only["envFrom"][0]["configMapRef"]["name"])
    assert configmap["data"]
    # the secret settings (API keys, webhook signing key): one Secret both pods read
    app_secret = find(documents, "Secret", only["envFrom"][1]["secretRef"]["name"])
    assert set(app_secret["stringData"]) <= {"NEWSNLP_API_KEYS", "NEWSNLP_WEBHOOK_SECRET"}
    reference = next(e for e in only["env"] if e["name"] == "REDIS_URL")["valueFrom"]
    secret = find(documents, "Secret", reference["secretKeyRef"]["name"])
    assert reference["secretKeyRef"]["key"] in secret["stringData"]


def test_the_configmap_sets_only_variables_the_code_reads(documents):
    texts = [(REPO_ROOT / "docker" / "entrypoint.sh").read_text()]
    for package in ("api", "worker", "jobs"):
        texts += [path.read_text() for path in (REPO_ROOT / package).rglob("*.py")]
    known = {name for text in texts for name in re.findall(r"\bNEWSNLP_[A-Z0-9_]+\b", text)}
    data = find(documents, "ConfigMap", "newsnlp-config")["data"]
    assert set(data) <= known, set(data) - known
    assert {"NEWSNLP_API_KEYS", "NEWSNLP_WEBHOOK_SECRET"} <= known  # in Secret newsnlp-app
    assert not {"NEWSNLP_API_KEYS", "NEWSNLP_WEBHOOK_SECRET"} & set(data)
    for value in data.values():
        assert isinstance(value, str)  # a ConfigMap holds strings only
    settings = WorkerSettings.from_env({"REDIS_URL": "redis://redis:6379/0", **data})
    assert settings.redis_url == "redis://redis:6379/0"
    # The worker's concurrency is left to its rule (worker/machine.py), not pinned here.
    assert "NEWSNLP_WORKER_CONCURRENCY" not in data and "NEWSNLP_TORCH_THREADS" not in data


def test_the_worker_resources_fit_the_default_concurrency_of_its_limits(documents):
    from worker.machine import MAIN_MB, PROCESS_MB, default_concurrency

    def mb(quantity: str) -> int:
        units = {"Mi": 1, "Gi": 1024}
        return int(float(quantity[:-2]) * units[quantity[-2:]] * 1.048576)

    worker = find(documents, "Deployment", "worker")
    resources = worker["spec"]["template"]["spec"]["containers"][0]["resources"]
    cores = int(resources["limits"]["cpu"])
    processes = default_concurrency(cores, mb(resources["limits"]["memory"]))
    assert processes == cores  # one a core: the limit's memory leaves room for each
    assert mb(resources["requests"]["memory"]) >= processes * PROCESS_MB + MAIN_MB
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"]


def test_the_secret_holds_one_password_and_the_url_points_at_the_redis_service(documents):
    secret = find(documents, "Secret", "newsnlp-redis")["stringData"]
    url = urlsplit(secret["REDIS_URL"])
    assert url.scheme == "redis" and url.password == secret["REDIS_PASSWORD"]
    assert "CHANGE-ME" in secret["REDIS_PASSWORD"]  # a placeholder, never a real secret
    service = find(documents, "Service", url.hostname)
    assert url.port in {p["port"] for p in service["spec"]["ports"]}


def test_the_disruption_budget_keeps_an_api_pod(documents):
    budget = find(documents, "PodDisruptionBudget", "api")["spec"]
    api = find(documents, "Deployment", "api")["spec"]
    assert budget["selector"]["matchLabels"] == api["selector"]["matchLabels"]
    assert 1 <= budget["minAvailable"] < api["replicas"]


def test_no_pod_gets_a_service_account_token(documents):
    # None of them talks to the Kubernetes API.
    for workload in (d for d in documents if d["kind"] in ("Deployment", "StatefulSet")):
        assert workload["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_every_container_requests_and_limits_memory(documents):
    for workload in (d for d in documents if d["kind"] in ("Deployment", "StatefulSet")):
        for spec in workload["spec"]["template"]["spec"]["containers"]:
            resources = spec["resources"]
            assert resources["requests"]["cpu"] and resources["requests"]["memory"]
            request = mebibytes(resources["requests"]["memory"])
            assert request <= mebibytes(resources["limits"]["memory"])


def test_worker_memory_is_sized_from_the_measured_processes(documents):
    resources = container(documents, "worker")["resources"]
    busy = WORKER_MAIN_RSS + WORKER_CHILD_PEAK_RSS  # RSS adds shared pages twice: an upper bound
    assert mebibytes(resources["requests"]["memory"]) >= 0.9 * busy
    assert mebibytes(resources["limits"]["memory"]) >= 1.25 * (busy + PROBE_RSS)


def test_api_memory_is_sized_from_the_measured_processes(documents):
    resources = container(documents, "api")["resources"]
    data = find(documents, "ConfigMap", "newsnlp-config")["data"]
    assert data["NEWSNLP_API_WORKERS"] == "2"  # the figure below is for 2 gunicorn workers
    assert mebibytes(resources["requests"]["memory"]) >= API_RSS
    assert mebibytes(resources["limits"]["memory"]) >= 2 * API_RSS


def test_the_api_probes_are_routes_the_api_serves(documents):
    from api import create_app

    routes = {rule.rule for rule in create_app({"TESTING": True}).url_map.iter_rules()}
    api = container(documents, "api")
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"].split("?")[0] in routes
    assert {"/healthz", "/readyz"} <= routes
    port = api["ports"][0]
    assert api["livenessProbe"]["httpGet"]["port"] == port["name"]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert int(env["NEWSNLP_PORT"]) == port["containerPort"]


def test_the_api_is_ready_without_a_worker_while_keda_may_scale_workers_to_zero(documents):
    # /readyz answers 503 without a live worker; with 0 workers an API unready on it would
    # receive no job, and so never wake a worker. overlays/always-on probes /readyz.
    scaled = find(documents, "ScaledObject", "worker")["spec"]
    readiness = container(documents, "api")["readinessProbe"]["httpGet"]["path"]
    assert scaled["minReplicaCount"] == 0
    assert readiness == "/readyz?workers=optional"


def test_the_worker_probes_ping_its_own_celery_node(documents):
    worker = container(documents, "worker")
    from worker.command import worker_command

    # The command the image's entrypoint runs; %h: the pod name, $HOSTNAME.
    assert "newsnlp@%h" in worker_command("worker", concurrency=1)
    for probe in ("startupProbe", "livenessProbe"):
        command = " ".join(worker[probe]["exec"]["command"])
        # the broker, not `-A worker.main` (which imports torch: 4.5 s and 320 MB a probe)
        assert 'CELERY_BROKER_URL="$REDIS_URL" exec celery inspect ping' in command
        assert '--destination "newsnlp@$HOSTNAME"' in command
        assert worker[probe]["timeoutSeconds"] > 10  # the ping's own --timeout
    startup = worker["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 180  # model loading


def test_the_webhook_worker_probe_pings_its_own_node(documents):
    from worker.command import worker_command

    command = worker_command("webhook-worker", concurrency=1)
    node = command[command.index("--hostname") + 1]
    assert node == "newsnlp-webhooks@%h"
    probe = " ".join(container(documents, "webhook-worker")["livenessProbe"]["exec"]["command"])
    assert '--destination "newsnlp-webhooks@$HOSTNAME"' in probe
    data = find(documents, "ConfigMap", "newsnlp-config")["data"]
    settings = WorkerSettings.from_env({"REDIS_URL": "redis://redis:6379/0", **data})
    pod = find(documents, "Deployment", "webhook-worker")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > settings.webhook_timeout


def test_a_stopping_worker_finishes_its_job(documents):
    data = find(documents, "ConfigMap", "newsnlp-config")["data"]
    settings = WorkerSettings.from_env({"REDIS_URL": "redis://redis:6379/0", **data})
    pod = find(documents, "Deployment", "worker")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > settings.time_limit
    # A running job is off the list: KEDA must not scale to zero under it.
    assert find(documents, "ScaledObject", "worker")["spec"]["cooldownPeriod"] > settings.time_limit


def test_keda_owns_the_worker_replica_count(documents):
    assert "replicas" not in find(documents, "Deployment", "worker")["spec"]


def test_redis_keeps_an_append_only_file_on_a_volume(documents):
    redis = find(documents, "StatefulSet", "redis")
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    claims = {c["metadata"]["name"] for c in redis["spec"]["volumeClaimTemplates"]}
    mounts = redis["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in mounts and "data" in claims
    find(documents, "Service", redis["spec"]["serviceName"])


# --- KEDA --------------------------------------------------------------------------------


def test_the_scaled_object_scales_the_worker_deployment_on_both_lanes_queues(documents):
    scaled = find(documents, "ScaledObject", "worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    find(documents, "Deployment", target["name"])
    assert spec["minReplicaCount"] == 0 < spec["maxReplicaCount"]
    assert 1 <= spec["fallback"]["replicas"] <= spec["maxReplicaCount"]
    # Celery's Redis broker: a LIST named as the queue, one trigger for each the worker reads.
    lists = [trigger["metadata"]["listName"] for trigger in spec["triggers"]]
    assert lists == list(WORKER_QUEUES)
    secret_url = urlsplit(find(documents, "Secret", "newsnlp-redis")["stringData"]["REDIS_URL"])
    for trigger in spec["triggers"]:
        assert trigger["type"] == "redis"
        metadata = trigger["metadata"]
        assert all(isinstance(value, str) for value in metadata.values())  # KEDA: strings only
        assert int(metadata["listLength"]) >= 1 and int(metadata["activationListLength"]) == 0
        host, port = metadata["address"].rsplit(":", 1)
        service, namespace = host.split(".")[:2]
        assert host == f"{service}.{namespace}.svc.cluster.local"
        assert find(documents, "Service", service)["metadata"]["namespace"] == namespace
        ports = {p["port"] for p in find(documents, "Service", service)["spec"]["ports"]}
        assert int(port) in ports
        assert metadata["databaseIndex"] == (secret_url.path.strip("/") or "0")


def test_the_trigger_authenticates_with_the_redis_password_from_the_secret(documents):
    triggers = find(documents, "ScaledObject", "worker")["spec"]["triggers"]
    (name,) = {trigger["authenticationRef"]["name"] for trigger in triggers}
    auth = find(documents, "TriggerAuthentication", name)
    assert auth["apiVersion"] == "keda.sh/v1alpha1"
    (reference,) = auth["spec"]["secretTargetRef"]
    assert reference["parameter"] == "password"
    secret = find(documents, "Secret", reference["name"])
    assert reference["key"] == "REDIS_PASSWORD" and reference["key"] in secret["stringData"]
