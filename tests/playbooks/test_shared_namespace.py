"""Two installs on one Temporal namespace (each its own store, task queue and workers) get
the same alert: with their own workflow id prefixes, each opens and contains its own
incident. With one prefix they would compute the same workflow id (same fingerprint,
same first incident number), and the second install's alert would signal the first's
run, which its workers never serve."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from integrations.keys.local import LocalKeys
from smokejumper.domain.fingerprint import workflow_id_for
from tests.playbooks.conftest import responder_on
from tests.playbooks.test_data_leakage import leak_alert

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_two_installs_sharing_a_namespace_each_contain_their_own(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    assert workflow_id_for("f" * 32, 1) == "incident-" + "f" * 32 + "-1"  # the default
    other_db = f"sqlite:///{tmp_path / 'staging.db'}"
    async with (
        responder_on(
            tmp_path / "prod", database_url, temporal_env, temporal={"workflow_id_prefix": "prod"}
        ) as prod,
        responder_on(
            tmp_path / "staging",
            other_db,
            temporal_env,
            temporal={"workflow_id_prefix": "staging"},
        ) as staging,
    ):
        alert = leak_alert(dedup_key="shared-namespace")
        ids = []
        for install in (prod, staging):
            ref = await install.send(alert)
            assert ref == "INC-" + ref.split("-")[1] + "-0001"  # both number from 1
            await install.wait_for(ref, "step.completed", step="revoke key key-support-web")
            detail = await install.detail(ref)
            ids.append(detail["workflow_id"])
            keys = LocalKeys(install.settings.local_keys_file)
            assert keys.state("key-support-web").status == "inactive"
        assert ids[0].startswith("prod-") and ids[1].startswith("staging-")
        assert ids[0].removeprefix("prod-") == ids[1].removeprefix("staging-")
