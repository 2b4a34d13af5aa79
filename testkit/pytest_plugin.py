"""pytest fixtures for playbook tests. Enable in the project's top-level conftest.py:

    pytest_plugins = ["testkit.pytest_plugin"]

(or import the fixture there: `from testkit.pytest_plugin import
playbook_harness`). Then, with pytest-asyncio:

    async def test_contains(playbook_harness: HarnessFactory) -> None:
        harness = await playbook_harness(ContainLeak, providers=[fake], approvers=GROUPS)
        await harness.run(make_alert(kind="data_leakage"))
        ...

Each harness gets a SQLite store under the test's `tmp_path` and its own test server
(time-skipping unless `time_skipping=False`, or pass `env=` to share one); all are stopped
when the test ends, its playbooks terminated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from smokejumper.sdk.playbook import Playbook
from testkit.harness import DEFAULT_TIMEOUT, PlaybookHarness


class HarnessFactory(Protocol):
    """Starts a PlaybookHarness (same arguments, except the store, which is per test)."""

    async def __call__(
        self,
        *playbooks: type[Playbook],
        providers: Iterable[object] = (),
        approvers: Mapping[str, Sequence[str]] | None = None,
        env: WorkflowEnvironment | None = None,
        time_skipping: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> PlaybookHarness: ...


@pytest_asyncio.fixture
async def playbook_harness(tmp_path: Path) -> AsyncIterator[HarnessFactory]:
    """A factory of started harnesses, all stopped at the end of the test."""
    started: list[PlaybookHarness] = []

    async def factory(
        *playbooks: type[Playbook],
        providers: Iterable[object] = (),
        approvers: Mapping[str, Sequence[str]] | None = None,
        env: WorkflowEnvironment | None = None,
        time_skipping: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> PlaybookHarness:
        harness = PlaybookHarness(
            *playbooks,
            providers=providers,
            approvers=approvers,
            env=env,
            time_skipping=time_skipping,
            database_url=f"sqlite:///{tmp_path / f'playbook-harness-{len(started)}.db'}",
            timeout=timeout,
        )
        await harness.start()
        started.append(harness)
        return harness

    yield factory
    for harness in reversed(started):
        await harness.stop()
