"""deploy/kubernetes: every manifest is valid for recent Kubernetes versions (strict: an
unknown or misspelt field fails), and the pieces fit together — the image, the probes,
the ports, the Secret's keys, the mounts the configuration names."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_schemas
from packaging.version import Version

from smokejumper import __version__
from smokejumper.api import health
from tests.deploy import artefacts

# The newest three minor versions the schemas ship: what the upstream project supports.
VERSIONS = sorted(set(kubernetes_schemas.all_versions()), key=Version)[-3:]

SECRETS_MOUNT = "/etc/smokejumper/secrets"


def _validate(resource: dict[str, Any], version: str) -> None:
    kubernetes_schemas.validate(resource, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    files = artefacts.manifest_files()
    assert len(files) >= 8
    for path in files:
        for resource in artefacts.documents(path):
            try:
                _validate(resource, version)
            except kubernetes_schemas.ValidationError as exc:
                where = ".".join(str(part) for part in exc.path)
                pytest.fail(f"{path.name}: {resource['kind']} {where}: {exc.message}")
            except kubernetes_schemas.SchemaNotFoundError as exc:
                pytest.fail(f"{path.name}: {exc.message}")


def test_a_broken_manifest_is_caught() -> None:
    deployment = _deployment("api")
    version = VERSIONS[-1]
    _validate(deployment, version)

    misspelt = copy.deepcopy(deployment)
    container = misspelt["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_schemas.ValidationError, match="readOnlyRootFileSystem"):
        _validate(misspelt, version)

    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_schemas.ValidationError):
        _validate(wrong_type, version)

    no_selector = copy.deepcopy(deployment)
    del no_selector["spec"]["selector"]
    with pytest.raises(kubernetes_schemas.ValidationError, match="selector"):
        _validate(no_selector, version)

    unknown_kind = {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}}
    with pytest.raises(kubernetes_schemas.SchemaNotFoundError):
        _validate(unknown_kind, version)


def test_the_kustomization_applies_every_manifest_but_the_secret_with_this_image() -> None:
    kustomization = yaml.safe_load(artefacts.KUSTOMIZATION.read_text("utf-8"))
    # All but the Secret's placeholders, which must never be applied over the real one.
    assert sorted(kustomization["resources"]) == sorted(
        path.name for path in artefacts.manifest_files() if path.name != "secret.yaml"
    )
    assert [doc["kind"] for doc in artefacts.documents(artefacts.KUBERNETES / "secret.yaml")] == [
        "Secret"
    ]
    (namespace,) = artefacts.kind("Namespace")
    assert kustomization["namespace"] == namespace["metadata"]["name"]
    assert kustomization["images"] == [{"name": artefacts.IMAGE_NAME, "newTag": __version__}]


def test_every_workload_runs_this_version_of_the_one_image() -> None:
    images = {
        container["image"]
        for _, spec in artefacts.pod_specs()
        for container in spec["containers"] + spec.get("initContainers", [])
    }
    assert images == {f"{artefacts.IMAGE_NAME}:{__version__}"}


def _deployment(component: str) -> dict[str, Any]:
    (found,) = [
        d
        for d in artefacts.kind("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def test_the_api_workers_and_schedulers_are_replicated() -> None:
    assert _deployment("api")["spec"]["replicas"] >= 2
    assert _deployment("worker")["spec"]["replicas"] >= 2
    # Two schedulers: the lease in the store lets one fire jobs; the other takes over.
    assert _deployment("scheduler")["spec"]["replicas"] == 2
    for component in ("api", "worker", "scheduler"):
        (container,) = _deployment(component)["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [component]


def test_every_pod_runs_unprivileged_on_a_read_only_root() -> None:
    for workload, spec in artefacts.pod_specs():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, workload
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, workload
        assert spec["automountServiceAccountToken"] is False, workload
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, workload
            assert context["allowPrivilegeEscalation"] is False, workload
            assert context["capabilities"] == {"drop": ["ALL"]}, workload
            # A read-only root: what the process writes goes to mounted volumes.
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, workload
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), workload
            assert "memory" in resources["limits"], workload


def _settings_toml() -> dict[str, Any]:
    _, _, text = artefacts.configmap_toml()
    return tomllib.loads(text)


def test_the_api_probes_and_service_reach_the_port_the_api_listens_on() -> None:
    port = _settings_toml()["api"]["port"]
    deployment = _deployment("api")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {entry["name"]: entry["containerPort"] for entry in container["ports"]}
    assert ports == {"http": port}
    readiness = container["readinessProbe"]["httpGet"]
    assert readiness["path"] == "/healthz"
    assert "/healthz" in [getattr(route, "path", None) for route in health.router.routes]
    # Liveness must not follow the store: a database outage takes replicas out of the
    # Service (readiness), it does not restart them all.
    for probe in ("livenessProbe", "startupProbe"):
        assert container[probe]["tcpSocket"]["port"] == "http"
    assert readiness["port"] == "http"

    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (service,) = artefacts.kind("Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    (budget,) = artefacts.kind("PodDisruptionBudget")
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


def _labels(component: str) -> dict[str, str]:
    labels: dict[str, str] = _deployment(component)["spec"]["template"]["metadata"]["labels"]
    return labels


def test_only_the_api_and_the_workers_metrics_take_connections() -> None:
    policies = [p["spec"] for p in artefacts.kind("NetworkPolicy")]
    everything = [p for p in policies if "ingress" not in p]
    assert len(everything) == 1 and everything[0]["policyTypes"] == ["Ingress"]
    assert everything[0]["podSelector"]["matchLabels"].items() <= _labels("scheduler").items()
    allowed: dict[str, list[int]] = {}
    for policy in policies:
        if "ingress" not in policy:
            continue
        selector = policy["podSelector"]["matchLabels"].items()
        (component,) = [c for c in ("api", "worker", "scheduler") if selector <= _labels(c).items()]
        allowed[component] = [port["port"] for rule in policy["ingress"] for port in rule["ports"]]
    (worker,) = _deployment("worker")["spec"]["template"]["spec"]["containers"]
    assert allowed == {
        "api": [_settings_toml()["api"]["port"]],
        "worker": [port["containerPort"] for port in worker["ports"]],
    }


def test_the_worker_serves_the_sdk_metrics_where_prometheus_is_told_to_scrape() -> None:
    deployment = _deployment("worker")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    _, _, port = env["SMOKEJUMPER_OBSERVABILITY__SDK_METRICS_BIND"].rpartition(":")
    assert container["ports"] == [
        {"name": "metrics", "containerPort": int(port), "protocol": "TCP"}
    ]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == port


def _secret_references(value: Any) -> set[str]:
    """Names under the Secret's mount that the configuration points at."""
    found: set[str] = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= _secret_references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _secret_references(item)
    elif isinstance(value, str):
        path = value.removeprefix("file:")
        if path.startswith(SECRETS_MOUNT + "/"):
            found.add(path[len(SECRETS_MOUNT) + 1 :])
    return found


def test_every_secret_the_configuration_names_is_in_the_secret_and_mounted() -> None:
    keys = set(artefacts.secret_data())
    (secret,) = artefacts.kind("Secret")
    from_files = _secret_references(_settings_toml())
    from_env = set()
    for workload, spec in artefacts.pod_specs():
        (container,) = spec["containers"]
        for variable in container["env"]:
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference is not None:
                assert reference["name"] == secret["metadata"]["name"], workload
                from_env.add(reference["key"])
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert mounts[SECRETS_MOUNT]["secret"]["secretName"] == secret["metadata"]["name"]
    assert from_files | from_env == keys, "a Secret key nothing reads, or a reference to none"
    assert not from_files & from_env


def test_every_process_reads_the_configmap_and_keeps_its_data_on_a_volume() -> None:
    name, key, _ = artefacts.configmap_toml()
    data_dir = _settings_toml()["data_dir"]
    (claim,) = artefacts.kind("PersistentVolumeClaim")
    for workload, spec in artefacts.pod_specs():
        (container,) = spec["containers"]
        env = {variable["name"]: variable.get("value") for variable in container["env"]}
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        config_dir, _, file_name = env["SMOKEJUMPER_CONFIG"].rpartition("/")
        assert file_name == key, workload
        assert mounts[config_dir]["configMap"]["name"] == name, workload
        data_mount = [path for path in mounts if data_dir.startswith(path + "/")]
        assert data_mount, f"{workload}: data_dir {data_dir} is on the read-only root"
        # A subfolder: `smokejumper db upgrade` makes data_dir owner-only (0700), which it
        # cannot do to a volume's root that another user owns.
        assert data_dir != data_mount[0]
        if workload.endswith(("api", "worker", "scheduler")):
            volume = mounts[data_mount[0]]
            assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
