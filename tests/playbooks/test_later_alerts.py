"""Alerts that join a leak incident after its response began are answered: a key leaked in
a later alert (the same conversation, a minute on) is revoked, the owners told and the
status true meanwhile; a duplicate of what was already handled changes nothing. Before,
the later alert was counted and nothing else: its key stayed live under `contained`."""

from __future__ import annotations

import pytest

from integrations.keys.local import LocalKeys
from smokejumper.sdk import lifecycle
from tests.helpers import eventually
from tests.playbooks.conftest import LEAKED_KEY, Responder
from tests.playbooks.test_revoke_on_sight import _key_only

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# The example inventory's partner key (prefix sj_live_cd): not in the first alert.
PARTNER_KEY = "sj_live_cd1234567890abcdef"


async def test_a_key_leaked_in_a_later_alert_is_revoked_and_the_status_says_so(
    responder: Responder,
) -> None:
    ref = await responder.send(_key_only("u-later", f"The key is {LEAKED_KEY}."))
    await responder.wait_for(ref, "playbook.finished")
    assert (await responder.detail(ref))["status"] == "contained"
    keys = LocalKeys(responder.settings.local_keys_file)
    assert keys.state("key-partner-acme").status == "active"

    again = await responder.send(_key_only("u-later", f"Another one: {PARTNER_KEY}."))
    assert again == ref  # the same conversation: the same incident

    async def answered() -> list[dict[str, object]] | None:
        timeline = await responder.timeline(ref)
        statuses = [e["message"] for e in timeline if e["kind"] == "incident.status"]
        return timeline if statuses[-1].endswith("keys leaked in later alerts revoked") else None

    timeline = await eventually(answered, within=30)
    assert keys.state("key-partner-acme").status == "inactive"
    assert sorted((row.target, row.status) for row in responder.actions("revoke_key")) == [
        ("key-partner-acme", "completed"),
        ("key-support-web", "completed"),
    ]
    later = [e for e in timeline if e["kind"] == "alerts.later"]
    assert [e["message"] for e in later] == [
        "1 alert(s) joined after the response began; answering them"
    ]
    # Not contained while the later key was live: acknowledged, then contained again.
    statuses = [e["message"] for e in timeline if e["kind"] == "incident.status"]
    assert statuses[-2:] == [
        "Status contained → acknowledged: later alerts leaked 1 more key(s): revoking",
        "Status acknowledged → contained: keys leaked in later alerts revoked",
    ]
    notes = [e["message"] for e in timeline if e["kind"] == "notification"]
    assert notes[-1] == (
        f"{ref}: 1 later alert(s) leaked more keys. Keys revoked: key-partner-acme."
    )
    assert all(PARTNER_KEY not in str(e["message"]) for e in timeline)
    assert (await responder.detail(ref))["status"] == "contained"


async def test_a_later_duplicate_changes_nothing(responder: Responder) -> None:
    ref = await responder.send(_key_only("u-dup", f"The key is {LEAKED_KEY}."))
    await responder.wait_for(ref, "playbook.finished")
    notes_before = [e for e in await responder.timeline(ref) if e["kind"] == "notification"]

    assert await responder.send(_key_only("u-dup", f"The key is {LEAKED_KEY}.")) == ref
    answered = await responder.wait_for(ref, "leak.later")

    assert answered["message"] == "The 1 later alert(s) leaked no key not revoked already"
    assert [(row.target, row.attempts) for row in responder.actions("revoke_key")] == [
        ("key-support-web", 1)
    ]
    timeline = await responder.timeline(ref)
    assert [e for e in timeline if e["kind"] == "notification"] == notes_before
    assert (await responder.detail(ref))["status"] == "contained"


async def test_a_credential_no_key_id_names_in_a_later_alert_goes_to_a_responder(
    responder: Responder,
) -> None:
    """A later alert leaking a credential nothing here can revoke (an Anthropic key the
    inventory does not list): a responder is asked to rotate it, and the status is not
    contained until they have. Before, it was counted and the status stayed contained."""
    ref = await responder.send(_key_only("u-later-anthropic", f"The key is {LEAKED_KEY}."))
    await responder.wait_for(ref, "playbook.finished")
    assert (await responder.detail(ref))["status"] == "contained"

    anthropic = "sk-ant-api03-" + "Zq7" * 31 + "AA"
    assert await responder.send(_key_only("u-later-anthropic", f"Use {anthropic}.")) == ref
    step = "rotate leaked credentials (anthropic_key)"
    await responder.wait_for_approval(ref, f"{step} not done")

    async def partly() -> str | None:
        timeline = await responder.timeline(ref)
        last = [e["message"] for e in timeline if e["kind"] == "incident.status"][-1]
        return str(last) if "→ partly_contained" in last else None

    status = await eventually(partly, within=30)
    assert step in status
    timeline = await responder.timeline(ref)
    notes = [e["message"] for e in timeline if e["kind"] == "notification"]
    assert notes[-1] == (
        f"{ref}: 1 later alert(s) leaked credentials no key id here names (anthropic_key): "
        "rotate them at their issuer."
    )
    assert all(anthropic not in str(e["message"]) for e in timeline)

    await responder.done_by_hand(ref, step, "rotated in the Anthropic console")

    async def contained() -> bool:
        return (await responder.detail(ref))["status"] == "contained"

    await eventually(contained, within=30)


async def test_a_run_that_continued_as_new_goes_on_answering_later_alerts(
    responder: Responder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long incident's run continues as new once its history is long (10,000 events;
    40 here): the new run goes on answering later alerts, remembering the keys already
    revoked. Before, it only counted them, and a key leaked after that stayed live."""
    monkeypatch.setattr(lifecycle, "_CONTINUE_AS_NEW_AFTER_EVENTS", 40)
    ref = await responder.send(_key_only("u-long", f"The key is {LEAKED_KEY}."))
    await responder.continued_as_new(ref)

    assert await responder.send(_key_only("u-long", f"Also {PARTNER_KEY}.")) == ref
    keys = LocalKeys(responder.settings.local_keys_file)

    async def revoked() -> bool:
        return keys.state("key-partner-acme").status == "inactive"

    await eventually(revoked, within=30)
    # The first key is remembered as revoked: not revoked again.
    assert sorted((row.target, row.attempts) for row in responder.actions("revoke_key")) == [
        ("key-partner-acme", 1),
        ("key-support-web", 1),
    ]
    assert await responder.send(_key_only("u-long", f"Again {LEAKED_KEY}.")) == ref
    await responder.wait_for(ref, "leak.later")
    assert len(responder.actions("revoke_key")) == 2
