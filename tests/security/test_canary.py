"""The canary: one value of every secret kind, a leaked key id, an e-mail address and a
phone number, planted in alerts of every source; the built-in playbooks run on the
embedded dev server (file-backed, as `smokejumper up` runs it); then every surface a
viewer, Slack or Temporal sees is swept for them: the logs, the Slack emulator's record,
the API's JSON and the console's pages as a viewer, `incidents show --json`, the reports
in all three formats, and Temporal's history (its database file as bytes, and the history
as fetched without the codec). Any hit fails it, and so does a sweep of nothing."""

from __future__ import annotations

import html
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import httpx
import pytest
from sqlalchemy import select

from integrations.evidence.checkpoints import head_checkpoints
from integrations.keys.local import LocalKeys
from smokejumper.config import load_settings
from smokejumper.security.payload_key import ensure_payload_key
from smokejumper.settings.temporal import TemporalSettings
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import Action, Incident, InventoryApiKey
from smokejumper.temporal.client import connect
from smokejumper.temporal.devserver import dev_server_command, wait_until_serving
from tests.console.conftest import add_users
from tests.engine import Engine, running_engine
from tests.helpers import eventually, free_port
from tests.security import canary
from tests.security.conftest import console_client
from tests.slack.conftest import USERS, scanned_emulator, slack_config


def hits(where: str, text: str, found: list[tuple[str, str]]) -> int:
    """Record (surface, start of the value) for each planted fragment in `text`, as sent,
    URL-decoded or HTML-unescaped. Returns the size swept."""
    variants = {text, unquote_plus(text), html.unescape(text)}
    for fragment in canary.fragments():
        if any(fragment in variant for variant in variants):
            found.append((where, fragment[:8]))
    return len(text)


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[TemporalSettings]:
    """The embedded dev server, started as `up` starts it (SQLite file in the data dir)."""
    temporal = TemporalSettings(dev_server_port=free_port(), dev_server_ui=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with (tmp_path / "temporal.log").open("ab") as out:
        server = subprocess.Popen(dev_server_command(temporal, data_dir), stdout=out, stderr=out)
    try:
        wait_until_serving(temporal.target, temporal.namespace, 60, server)
        yield temporal
    finally:
        server.terminate()
        server.wait(timeout=30)


async def settle(engine: Engine, refs: list[str]) -> None:
    """Until every playbook started, the leaked key's revocation finished, and nothing new
    happened for a few polls (approvals wait, Slack cards posted)."""

    async def started() -> bool:
        for ref in refs:
            detail = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()
            if "playbook.started" not in [e["kind"] for e in detail["timeline"]]:
                return False
        with engine.store.session() as session:
            revoked = session.scalars(
                select(Action.status).where(Action.action == "revoke_key")
            ).all()
        return "completed" in revoked

    await eventually(started, within=90, interval=0.5)
    seen: list[int] = []

    async def quiet() -> bool:
        total = 0
        for ref in refs:
            total += len((await engine.http.get(f"/api/v1/incidents/{ref}")).json()["timeline"])
        seen.append(total)
        return len(seen) >= 4 and len(set(seen[-4:])) == 1

    await eventually(quiet, within=90, interval=1.0)


@pytest.mark.slow
async def test_no_planted_value_reaches_any_surface(
    tmp_path: Path, sqlite_url: str, dev_server: TemporalSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    found: list[tuple[str, str]] = []
    swept: dict[str, int] = {}
    (tmp_path / "slack").mkdir()
    with scanned_emulator(tmp_path / "slack", USERS, canary.fragments()) as emulator:
        # The embedded mode (no cluster address), so its defaults are what is tested.
        settings = load_settings(
            data_dir=tmp_path / "data",
            database_url=sqlite_url,
            api={"port": free_port()},
            temporal={"dev_server_port": dev_server.dev_server_port, "dev_server_ui": False},
            slack=slack_config(emulator, tmp_path),
        )
        ensure_payload_key(settings)
        upgrade(settings.effective_database_url)
        store = open_store(settings, head_checkpoints(settings))
        with store.transaction() as session:
            session.add(InventoryApiKey(key_id=canary.AWS_KEY_ID, provider="local"))
        store.dispose()
        LocalKeys(settings.local_keys_file).create(canary.AWS_KEY_ID)
        client = await connect(settings.temporal)
        async with running_engine(settings, client) as engine:
            tokens = add_users(engine.store)
            refs: dict[str, str] = {}
            for source, body in canary.alerts().items():
                path = "/api/v1/alerts" if source == "generic" else f"/api/v1/alerts/{source}"
                sent = await engine.http.post(path, json=body)
                assert sent.status_code == 202, (source, sent.text)
                answer = sent.json()
                # A garak push is a whole file: its answer lists the alerts it stored.
                stored = answer["alerts"] if "alerts" in answer else [answer]
                assert stored, (source, answer)
                refs[source] = stored[0]["incident_id"]
            await settle(engine, sorted(set(refs.values())))

            # The API as a viewer, and the CLI (which prints the API's JSON).
            async with httpx.AsyncClient(
                base_url=engine.base_url,
                timeout=30,
                headers={"authorization": f"Bearer {tokens['victor']}"},
            ) as viewer:
                listing = await viewer.get("/api/v1/incidents", params={"limit": 100})
                assert listing.status_code == 200
                swept["api"] = hits("api list", listing.text, found)
                for source, ref in refs.items():
                    detail = await viewer.get(f"/api/v1/incidents/{ref}")
                    assert detail.status_code == 200, detail.text
                    swept["api"] += hits(f"api incident ({source})", detail.text, found)
                    evidence = await viewer.get(f"/api/v1/incidents/{ref}/evidence")
                    assert evidence.status_code == 200, evidence.text
                    swept["api"] += hits(f"api evidence ({source})", evidence.text, found)
            for source, ref in refs.items():
                shown = await engine.cli("incidents", "show", ref, "--json")
                assert shown.exit_code == 0, shown.output
                swept["cli"] = swept.get("cli", 0) + hits(f"cli ({source})", shown.output, found)

            # The reports, in every format.
            for source, ref in refs.items():
                for fmt in ("md", "html", "json"):
                    report = await engine.http.get(
                        f"/api/v1/incidents/{ref}/report", params={"format": fmt}
                    )
                    assert report.status_code == 200, report.text
                    swept[f"report {fmt}"] = swept.get(f"report {fmt}", 0) + hits(
                        f"report {fmt} ({source})", report.text, found
                    )

            # The console as a viewer.
            async with console_client(engine, "victor") as console:
                page = await console.get("/")
                assert page.status_code == 200
                swept["console"] = hits("console list", page.text, found)
                for source, ref in refs.items():
                    for suffix in ("", "/live"):
                        page = await console.get(f"/incidents/{ref}{suffix}")
                        assert page.status_code == 200, page.text
                        swept["console"] += hits(f"console{suffix} ({source})", page.text, found)

            # The values did go in: a responder reads them behind the raw-alert endpoint.
            leak = (await engine.http.get(f"/api/v1/incidents/{refs['llm-guard']}")).json()
            raw_alert = await engine.http.get(
                f"/api/v1/incidents/{refs['llm-guard']}/alerts/{leak['alerts'][0]['id']}/raw"
            )
            assert canary.SECRETS["openai_key"] in raw_alert.text
            assert canary.AWS_KEY_ID in raw_alert.text

            # What a viewer sees of the revocation: the masked key id, everywhere.
            leak_ref = refs["llm-guard"]
            detail = (await engine.http.get(f"/api/v1/incidents/{leak_ref}")).json()
            steps = {e["step"] for e in detail["timeline"] if e["step"]}
            masked = f"revoke key AKIA…{canary.AWS_KEY_ID[-4:]}"
            assert masked in steps, steps

            # Temporal's history, fetched as the UI or the CLI would (no codec).
            raw = b""
            with engine.store.session() as session:
                workflow_ids = session.scalars(select(Incident.workflow_id)).all()
            for workflow_id in workflow_ids:
                history = await client.get_workflow_handle(workflow_id).fetch_history()
                raw += b"".join(event.SerializeToString() for event in history.events)
            swept["temporal history"] = len(raw)
            hits("temporal history", raw.decode("utf-8", "replace"), found)
    # The dev server's database, as bytes (with its write-ahead log).
    stored = b"".join(path.read_bytes() for path in sorted(settings.data_dir.glob("temporal.db*")))
    assert b"incident-" in stored  # the sweep read the histories' database
    swept["temporal.db"] = hits("temporal.db", stored.decode("utf-8", "replace"), found)
    # The logs of every process (worker, API, Slack relay: all in this one).
    swept["logs"] = hits("logs", caplog.text, found)

    assert all(size > 0 for size in swept.values()), swept
    assert caplog.text, "nothing was logged: the log sweep would prove nothing"
    assert not found, f"planted values reached: {sorted(set(found))}"
