"""Every endpoint in `/openapi.json`, fuzzed by schemathesis against the real API process:
no 5xx, and every response matches the schema the API publishes. The operator token is
sent, so the guarded endpoints are reached past authentication; Slack's endpoints get
requests signed with the signing secret, as Slack signs them, so fuzzing reaches past the
signature check into what reads the form and its payload."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.schemas import OpenApiSchema
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.migrate import upgrade
from tests.helpers import free_port
from tests.slack.conftest import SIGNING_SECRET
from tests.slack.hostile_payloads import interaction_payloads

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
    secrets = slack_secrets(data)
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
        # Slack on, its Web API unreachable: follow-ups a command starts fail in the log.
        "SMOKEJUMPER_SLACK__BOT_TOKEN": f"file:{secrets / 'bot'}",
        "SMOKEJUMPER_SLACK__SIGNING_SECRET": f"file:{secrets / 'signing'}",
        "SMOKEJUMPER_SLACK__BASE_URL": f"http://127.0.0.1:{free_port()}/api/",
        "SMOKEJUMPER_SLACK__TRIAGE_CHANNEL": "CTRIAGE01",
    }
    base = f"http://127.0.0.1:{port}"
    with (data / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "api"], env=env, stdout=log, stderr=log
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


def slack_secrets(folder: Path) -> Path:
    secrets = folder / "secrets"
    secrets.mkdir()
    (secrets / "bot").write_text("xoxb-never-used")
    (secrets / "signing").write_text(SIGNING_SECRET)
    return secrets


class SlackSignature(requests.auth.AuthBase):
    """Signs each request as Slack does: `v0=` HMAC-SHA256 of `v0:<timestamp>:<body>`."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        timestamp = str(int(time.time()))
        digest = hmac.new(
            SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
        ).hexdigest()
        request.headers["x-slack-request-timestamp"] = timestamp
        request.headers["x-slack-signature"] = f"v0={digest}"
        return request


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> OpenApiSchema:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    schema.config.base_url = api_url
    return schema


@pytest.mark.slow
def test_every_endpoint_answers_within_its_schema(api_schema: OpenApiSchema) -> None:
    failures: dict[str, str] = {}
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        try:
            fuzz(operation)
        except (Exception, BaseExceptionGroup) as exc:  # one report naming every failure
            failures[operation.label] = str(exc)[:3000]
    assert operations >= 10
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def fuzz(operation: APIOperation) -> None:
    session = requests.Session()
    if operation.path.startswith("/slack/"):
        session.auth = SlackSignature()
    # Besides what the schema allows (any string), Slack's own payload shapes made hostile.
    payloads = interaction_payloads() if operation.path == "/slack/interactions" else st.none()

    @given(case=operation.as_strategy(), payload=st.none() | payloads)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def call(case: schemathesis.Case, payload: str | None) -> None:
        if payload is not None and isinstance(case.body, dict):
            case.body = {**case.body, "payload": payload}
        case.call_and_validate(
            session=session,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
            excluded_checks=EXCLUDED_CHECKS,
        )

    call()


def test_the_schema_covers_the_api(api_schema: OpenApiSchema) -> None:
    paths = set(api_schema.raw_schema["paths"])
    assert {"/api/v1/alerts", "/api/v1/incidents", "/codec/decode", "/healthz"} <= paths
    assert {"/slack/interactions", "/slack/commands"} <= paths


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
