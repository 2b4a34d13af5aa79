"""A worker pointed at a Temporal cluster of the operator's registers the search attributes
playbooks set, so a bare self-hosted cluster works without a manual step."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from smokejumper.store.migrate import upgrade
from smokejumper.temporal import search_attributes
from smokejumper.temporal.binaries import temporal_cli
from tests.helpers import make_settings
from workers import worker


async def test_worker_registers_search_attributes_on_a_bare_cluster(
    tmp_path: Path, sqlite_url: str
) -> None:
    wanted = {key.name for key in search_attributes.ALL}
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()), dev_server_log_level="error", ui=False
    )
    try:

        async def custom() -> set[str]:
            listed = await env.client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=env.client.namespace)
            )
            return set(listed.custom_attributes)

        assert not wanted & await custom()
        upgrade(sqlite_url)
        address = env.client.service_client.config.target_host
        running = asyncio.create_task(worker.run(make_settings(tmp_path, sqlite_url, address)))
        try:
            for _ in range(100):
                if wanted <= await custom() or running.done():
                    break
                await asyncio.sleep(0.1)
            assert not running.done(), running.exception()
            assert wanted <= await custom()
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    finally:
        await env.shutdown()
