"""An approval mail's link outliving its request: when the playbook asks the same step
again (a loop, a restored playbook), the earlier mail's link must not open a vote on the
new request — the outcome mail told its reader that link no longer decides anything."""

from __future__ import annotations

import time
from pathlib import Path

from smokejumper.security import approval_links
from smokejumper.security.operator import operator_token
from smokejumper.security.users import Role, add_user
from smokejumper.store.tables import Incident, TimelineEvent
from tests.engine import in_process_api
from tests.helpers import insert_incident
from tests.integrations.email.test_notices import CSRF, EMAIL


def _asked(incident_id: int, key: str) -> TimelineEvent:
    return TimelineEvent(
        incident_id=incident_id,
        kind="approval.requested",
        step="isolate",
        actor="playbook:p",
        message="Approval requested for isolate: Isolate the endpoint?",
        data={"approvers": "alice", "min_approvals": 1},
        event_key=key,
    )


async def test_a_link_from_an_earlier_request_of_the_step_is_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with in_process_api(tmp_path, sqlite_url, email=EMAIL) as (browser, store, settings):
        start = insert_incident(store, playbook="p", fingerprint="fp-stale-link")
        with store.transaction() as session:
            add_user(session, "alice", Role.RESPONDER, "alice-password-1")
            incident = session.get(Incident, start.incident_id)
            assert incident is not None and incident.ref is not None
            ref = incident.ref
            session.add(_asked(incident.id, "req-first"))
        key = approval_links.link_key(settings, operator_token(settings))
        later = int(time.time()) + 3600
        first = approval_links.issue(key, ref, "isolate", "alice", "req-first", later)
        second = approval_links.issue(key, ref, "isolate", "alice", "req-second", later)

        form = await browser.get("/login")
        csrf = CSRF.search(form.text)
        assert csrf
        signed = await browser.post(
            "/login",
            data={"username": "alice", "password": "alice-password-1", "csrf_token": csrf[1]},
        )
        assert signed.status_code == 303
        page = f"/incidents/{ref}/approvals/isolate"
        assert (await browser.get(page, params={"t": first})).status_code == 200
        # Not yet asked: a link for a request that does not exist opens nothing either.
        unasked = await browser.get(page, params={"t": second})
        assert unasked.status_code == 410

        # The step is decided, then asked again: a new request, a new mail, a new link.
        with store.transaction() as session:
            session.add(_asked(start.incident_id, "req-second"))
        stale = await browser.get(page, params={"t": first})
        assert stale.status_code == 410 and "earlier request" in stale.text
        token = CSRF.search((await browser.get("/")).text)
        assert token
        posted = await browser.post(
            f"{page}/confirm", data={"t": first, "decision": "approve", "csrf_token": token[1]}
        )
        assert posted.status_code == 410 and "earlier request" in posted.text
        current = await browser.get(page, params={"t": second})
        assert current.status_code == 200 and "Isolate the endpoint?" in current.text
