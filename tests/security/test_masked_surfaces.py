"""A key id in a step name, a title, a principal or a question is masked (`AKIA…B2TY`) on
what viewers read: the incident JSON (and so `incidents show --json`), the live state, the
console's incident page and its live panel; the raw alert keeps it for responders."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.console.conftest import add_users
from tests.engine import engine_on
from tests.helpers import eventually
from tests.security.conftest import console_client
from tests.security.raw_step_playbook import KEY_ID, RawStepNames

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MASKED = "AKIA…B2TY"


async def test_key_ids_are_masked_wherever_a_viewer_looks(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        workflows=[RawStepNames],
        routes=[{"playbook": RawStepNames.name, "kinds": ["data_leakage"]}],
    ) as engine:
        tokens = add_users(engine.store)
        sent = await engine.http.post(
            "/api/v1/alerts",
            json={
                "source": "dlp",
                "kind": "data_leakage",
                "severity": "high",
                "title": f"key {KEY_ID} leaked",
                "principal": {"api_key_id": KEY_ID, "session_id": uuid.uuid4().hex},
                "dedup_key": uuid.uuid4().hex,
            },
        )
        assert sent.status_code == 202, sent.text
        ref = sent.json()["incident_id"]
        async with httpx.AsyncClient(
            base_url=engine.base_url,
            timeout=30,
            headers={"authorization": f"Bearer {tokens['victor']}"},
        ) as viewer:

            async def parked() -> dict[str, Any] | None:
                detail = (await viewer.get(f"/api/v1/incidents/{ref}")).json()
                live = detail["live"]
                return detail if live and live["pending_approvals"] == ["isolate"] else None

            await eventually(parked)
            # The incident is read from the store before its run is asked: the read that
            # saw the run parked may have been made before the step's entries were written.
            detail = (await viewer.get(f"/api/v1/incidents/{ref}")).json()
        text = str(detail)
        assert KEY_ID not in text
        assert detail["title"] == f"key {MASKED} leaked"
        assert detail["principal"]["api_key_id"] == MASKED
        assert f"capture what {MASKED} leaked" in detail["live"]["steps_done"]
        steps = {event["step"] for event in detail["timeline"]}
        assert f"capture what {MASKED} leaked" in steps
        shown = await engine.cli("incidents", "show", ref, "--json")
        assert shown.exit_code == 0, shown.output
        assert KEY_ID not in shown.output
        assert json.loads(shown.output)["principal"]["api_key_id"] == MASKED
        async with console_client(engine, "victor") as console:
            for page in (f"/incidents/{ref}", f"/incidents/{ref}/live"):
                html = (await console.get(page)).text
                assert KEY_ID not in html, page
                assert MASKED in html, page
        # Responders still read the value as received, behind the raw endpoint.
        raw = await engine.http.get(
            f"/api/v1/incidents/{ref}/alerts/{detail['alerts'][0]['id']}/raw"
        )
        assert KEY_ID in raw.text
