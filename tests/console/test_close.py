"""Closing from the console: the lift checkbox, the confirmation, withdrawn approvals."""

from __future__ import annotations

import pytest

from tests.console.conftest import Console
from tests.console.test_access import browser, sign_in

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
