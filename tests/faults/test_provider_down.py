"""The IAM service goes away during a step: the step is retried with backoff, the timeline
says so while it lasts, nothing fails silently, and the playbook completes once it is back."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

from temporalio.testing import WorkflowEnvironment

from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from tests.faults.conftest import FAULT_PLAYBOOKS, FAULT_ROUTE, Iam, api_only, worker_process
from tests.faults.proxy import TcpProxy
from tests.helpers import eventually, make_settings


async def test_provider_outage_is_retried_on_the_timeline_and_completes(
    tmp_path: Path, sqlite_url: str, temporal_env: WorkflowEnvironment, iam: Iam
) -> None:
    moto = urlsplit(iam.endpoint_url)
    assert moto.hostname is not None and moto.port is not None
    proxy = TcpProxy(moto.hostname, moto.port)
    settings = make_settings(
        tmp_path,
        sqlite_url,
        temporal_env.client.service_client.config.target_host,
        playbook_dirs=[FAULT_PLAYBOOKS],
        routes=[FAULT_ROUTE],
        containment={"aws_endpoint_url": f"http://127.0.0.1:{proxy.port}"},
    )
    local_key = f"sk-local-{uuid.uuid4().hex[:8]}"
    aws_key, _ = iam.access_key()
    LocalKeys(settings.local_keys_file).create(local_key)
    LocalEndpoints(settings.local_endpoints_file).create(local_key)

    try:
        async with api_only(settings) as api:
            with worker_process(settings, tmp_path / "worker.log"):
                proxy.cut()
                accepted = await api.alert(
                    title=f"{local_key} {aws_key}", principal={"user": "outage"}
                )
                ref = accepted["incident_id"]
                # Two failed attempts, each on the timeline, naming the step and provider.
                events = await api.wait_for(ref, "action.retrying")

                async def second_attempt() -> list[dict[str, object]] | None:
                    found = [e for e in await api.timeline(ref) if e["kind"] == "action.retrying"]
                    return found if len(found) >= 2 else None

                retries = await eventually(second_attempt, within=60, interval=0.5)
                assert all(e["step"] == "revoke aws key" for e in retries)
                assert "aws_iam" in str(retries[0]["message"])
                assert "retrying with backoff" in str(retries[0]["message"])
                kinds = [event["kind"] for event in events]
                assert "playbook.failed" not in kinds and "playbook.finished" not in kinds
                assert iam.status(aws_key) == "Active"

                proxy.restore()
                finished = await api.wait_for(ref, "playbook.finished", within=120)
    finally:
        proxy.close()

    kinds = [event["kind"] for event in finished]
    assert "step.failed" not in kinds and "playbook.failed" not in kinds
    assert iam.status(aws_key) == "Inactive"
    assert iam.calls("UpdateAccessKey", aws_key) == 1
    assert LocalEndpoints(settings.local_endpoints_file).state(local_key).status == "isolated"
