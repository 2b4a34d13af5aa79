"""SQL (and template) injection in alert fields is data: every table is still there, each
row comes back byte for byte, and filters and searches with such text find the right rows."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import func, inspect, select

from smokejumper.store.tables import AlertRow, Base, DeadLetter
from tests.engine import Engine
from tests.security import payloads
from tests.security.conftest import console_client, send_hostile


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.store.session() as session:
        return {
            name: session.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
        }


def present(value: Any) -> Any:
    """A stored object without the fields the sender left out."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def console_search(refs_html: str) -> set[str]:
    return set(re.findall(r'href="/incidents/(INC-[0-9A-Za-z-]+)"', refs_html))


async def test_hostile_alerts_are_stored_and_found_as_sent(engine: Engine) -> None:
    tables_before = set(inspect(engine.store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables_before

    sent, native = await send_hostile(engine)

    # Nothing was dropped or rewritten: every table answers, one row per alert sent.
    assert set(inspect(engine.store.engine).get_table_names()) == tables_before
    counts = table_counts(engine)
    assert counts["alerts"] == counts["incidents"] == len(sent) + len(native)

    with engine.store.session() as session:
        rows = {row.normalized["title"]: row for row in session.scalars(select(AlertRow))}
    for alert in sent.values():
        row = rows[alert["title"]]
        assert row.raw == json.dumps(alert)
        for field in ("title", "description", "principal", "target", "labels"):
            assert present(row.normalized[field]) == alert[field], field
        for field in ("prompt", "response", "details"):
            assert row.normalized["evidence"][field] == alert["evidence"][field], field

    titles = {}
    for ref, alert in sent.items():
        detail = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()
        assert detail["title"] == alert["title"]
        assert detail["labels"] == alert["labels"]
        assert detail["principal"] == alert["principal"]
        assert detail["target"] == alert["target"]
        titles[ref] = detail["title"]
    for ref, payload in native.items():
        detail = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()
        assert detail["principal"]["user"] == payload
        assert detail["target"] == {"application": payload, "endpoint": payload}
        titles[ref] = detail["title"]

    # A filter with injected SQL matches nothing, rather than everything.
    for payload in payloads.SQL:
        listed = await engine.http.get("/api/v1/incidents", params={"playbook": payload})
        assert listed.status_code == 200 and listed.json()["total"] == 0, listed.text
    everything = await engine.http.get("/api/v1/incidents", params={"limit": 500})
    assert everything.json()["total"] == len(sent) + len(native)

    # The console's search finds exactly the incidents whose title holds the text; `%` and
    # `_` are characters there, not wildcards.
    async with console_client(engine, "victor") as console:
        for needle in [*payloads.ALL, "100%_off", "%", "_"]:
            page = await console.get("/", params={"q": needle})
            assert page.status_code == 200, page.text
            wanted = {ref for ref, title in titles.items() if needle.lower() in title.lower()}
            assert console_search(page.text) == wanted, needle
        assert console_search((await console.get("/", params={"q": "no such text"})).text) == set()

    after = table_counts(engine)  # every table still answers; playbooks add events meanwhile
    assert (after["alerts"], after["incidents"]) == (counts["alerts"], counts["incidents"])


async def test_a_hostile_dead_letter_is_kept_as_sent(engine: Engine) -> None:
    body = {"source": payloads.SQL[0], "title": " ".join(payloads.ALL)}
    refused = await engine.http.post(
        "/api/v1/alerts", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert refused.status_code == 422, refused.text
    letter_id = refused.json()["dead_letter_id"]
    kept = (await engine.http.get(f"/api/v1/dead-letters/{letter_id}")).json()
    assert kept["raw_body"] == json.dumps(body) and kept["source"] == payloads.SQL[0]
    for source, total in ((payloads.SQL[0], 1), (payloads.SQL[1], 0)):
        listed = await engine.http.get("/api/v1/dead-letters", params={"source": source})
        assert listed.json()["total"] == total, listed.text
    with engine.store.session() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1
