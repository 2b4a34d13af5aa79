"""Every endpoint in `/openapi.json`, fuzzed by schemathesis against the real API process:
no 5xx, and every response matches the schema the API publishes. The operator token is
sent, so the guarded endpoints are reached past authentication."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.schemas import OpenApiSchema
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.migrate import upgrade
from tests.helpers import free_port

TOKEN = "fuzz-operator-token-0123456789abcdef"  # a throwaway credential for the run
EXAMPLES_PER_OPERATION = 30
# The intake routes read their body themselves (size limit, signatures over the raw
# bytes); for them the generator counts a request without a body as valid, and the 400
# the API answers to it is the right answer, not a finding.
EXCLUDED_CHECKS = [schemathesis.checks.positive_data_acceptance]


@pytest.fixture(scope="module")
def api_url(
    tmp_path_factory: pytest.TempPathFactory, temporal_env: WorkflowEnvironment
) -> Iterator[str]:
    """`smokejumper api` as a process of its own, on a migrated SQLite store."""
    data = tmp_path_factory.mktemp("fuzz-api")
    url = f"sqlite:///{data / 'smokejumper.db'}"
    upgrade(url)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMOKEJUMPER_")},
        "SMOKEJUMPER_DATA_DIR": str(data),
        "SMOKEJUMPER_DATABASE_URL": url,
        "SMOKEJUMPER_API__PORT": str(port),
        "SMOKEJUMPER_API__OPERATOR_TOKEN": TOKEN,
        "SMOKEJUMPER_TEMPORAL__ADDRESS": temporal_env.client.service_client.config.target_host,
        "SMOKEJUMPER_TEMPORAL__TASK_QUEUE": "fuzz",
        "SMOKEJUMPER_LOG_LEVEL": "WARNING",
    }
    base = f"http://127.0.0.1:{port}"
    with (data / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "smokejumper", "api"], env=env, stdout=log, stderr=log
        )
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"the API exited: {(data / 'api.log').read_text()[-2000:]}")
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                subprocess.run(["sleep", "0.1"], check=True)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    schema.config.base_url = api_url
    return schema


def test_every_endpoint_answers_within_its_schema(api_schema: OpenApiSchema) -> None:
    failures: dict[str, str] = {}
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
                excluded_checks=EXCLUDED_CHECKS,
            )

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # one report naming every failure
            failures[operation.label] = str(exc)[:3000]
    assert operations >= 10
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_the_schema_covers_the_api(api_schema: OpenApiSchema) -> None:
    paths = set(api_schema.raw_schema["paths"])
    assert {"/api/v1/alerts", "/api/v1/incidents", "/codec/decode", "/healthz"} <= paths


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/incidents/%C2%B3", 404),  # "³" passes str.isdigit() but is no number
        ("/api/v1/incidents/" + "9" * 25, 404),  # more than a row id can hold
        ("/api/v1/incidents?offset=" + "9" * 25, 422),
        ("/api/v1/dead-letters?offset=" + "9" * 25, 422),
    ],
)
def test_inputs_the_fuzzer_found_are_refused_not_crashing(
    api_url: str, path: str, status: int
) -> None:
    response = httpx.get(f"{api_url}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == status, response.text
