"""Closing from the console: the lift checkbox, the confirmation, withdrawn approvals; and
answering a step handed to people."""

from __future__ import annotations

import uuid

import pytest

from tests.console.conftest import Console
from tests.console.test_access import browser, sign_in
from tests.helpers import eventually
from tests.test_end_to_end import example

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_closing_withdraws_the_pending_approval_and_says_what_stays(
    console: Console,
) -> None:
    ref = await console.open_incident()
    async with browser(console) as alice:
        csrf = await sign_in(alice, "alice")
        page = await alice.get(f"/incidents/{ref}")
        assert 'name="lift_containment"' in page.text
        assert 'data-testid="approval-isolate"' in page.text
        bad = await alice.post(
            f"/incidents/{ref}/close", data={"lift_containment": "maybe", "csrf_token": csrf}
        )
        assert bad.status_code == 422
        closed = await alice.post(
            f"/incidents/{ref}/close",
            data={"reason": "false positive", "lift_containment": "on", "csrf_token": csrf},
        )
        assert closed.status_code == 303
        after = (await alice.get(closed.headers["location"])).text
        # The playbook declared no undo: nothing is held, nothing is waiting to be lifted.
        assert f"{ref} closed; its playbook has stopped. Nothing it did stays in force." in after
        assert 'data-testid="approval-isolate"' not in after
        assert 'data-testid="withdrawn-isolate"' in after
        live = (await alice.get(f"/incidents/{ref}/live")).text
        assert "Take the support endpoint offline?" in live
        assert "withdrawn: incident closed" in live


async def test_a_step_handed_to_people_is_answered_from_the_console(console: Console) -> None:
    accepted = await console.engine.http.post(
        "/api/v1/alerts",
        json=example(kind="model_extraction", dedup_key=uuid.uuid4().hex),
    )
    ref = accepted.json()["incident_id"]
    step = "quarantine page not done"

    async def handed_over() -> bool:
        live = (await console.engine.http.get(f"/api/v1/incidents/{ref}")).json()["live"]
        return bool(live) and live["pending_approvals"] == [step]

    await eventually(handed_over)
    async with browser(console) as alice:
        csrf = await sign_in(alice, "alice")
        live = (await alice.get(f"/incidents/{ref}/live")).text
        assert "Not contained yet." in live and "the alert names no page" in live
        assert 'value="done"' in live and 'value="skip"' in live and 'value="retry"' not in live
        refused = await alice.post(
            f"/incidents/{ref}/approvals/{step}", data={"decision": "done", "csrf_token": csrf}
        )
        page = (await alice.get(refused.headers["location"])).text
        assert "a note is required" in page
        done = await alice.post(
            f"/incidents/{ref}/approvals/{step}",
            data={"decision": "done", "reason": "pulled it from the index", "csrf_token": csrf},
        )
        assert done.status_code == 303

    async def contained() -> bool:
        detail = (await console.engine.http.get(f"/api/v1/incidents/{ref}")).json()
        return bool(detail["status"] == "contained")

    await eventually(contained)
