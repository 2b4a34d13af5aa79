"""Case work against a running engine (API, worker, Temporal dev server): a merge from
the CLI ends the merged incident's playbook and moves its alerts; assign, note, notes, tag,
untag and link as a user types them, and their refusals; a playbook naming its on-call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from smokejumper.domain.incidents import QUERY_STATE, IncidentState
from smokejumper.security.users import Role, add_user
from smokejumper.store.tables import AlertRow, Incident, IncidentNote, TimelineEvent
from tests.case_work.case_playbooks import AssignsOnCall
from tests.engine import Engine, engine_on
from tests.helpers import eventually
from tests.test_end_to_end import example

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def open_incident(engine: Engine, kind: str) -> tuple[str, str]:
    accepted = (await engine.http.post("/api/v1/alerts", json=example(kind=kind))).json()
    ref, workflow_id = accepted["incident_id"], accepted["workflow_id"]

    async def started() -> bool:
        with engine.store.session() as session:
            return (
                "playbook.started"
                in session.scalars(
                    select(TimelineEvent.kind)
                    .join(Incident, Incident.id == TimelineEvent.incident_id)
                    .where(Incident.ref == ref)
                ).all()
            )

    await eventually(started, within=60)
    return ref, workflow_id


async def test_merge_from_the_cli_ends_the_playbook_and_moves_the_alerts(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    async with engine_on(tmp_path, database_url, temporal_env) as engine:
        first, first_workflow = await open_incident(engine, "prompt_injection")
        second, second_workflow = await open_incident(engine, "jailbreak")
        noted = await engine.cli("incidents", "note", first, "caller says the key leaked")
        assert noted.exit_code == 0, noted.output

        merged = await engine.cli("incidents", "merge", first, "--into", second, "--json")
        assert merged.exit_code == 0, merged.output
        receipt = json.loads(merged.output)
        assert receipt["playbook_ended"] is True
        assert (receipt["alerts_moved"], receipt["notes_moved"]) == (1, 1)

        handle = engine.client.get_workflow_handle(first_workflow)

        async def ended() -> bool:
            return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

        await eventually(ended, within=60)
        target = engine.client.get_workflow_handle(second_workflow)
        assert (await target.describe()).status == WorkflowExecutionStatus.RUNNING
        with engine.store.session() as session:
            rows = {i.ref: i for i in session.scalars(select(Incident))}
            assert rows[first].status == "closed"
            assert rows[first].merged_into_id == rows[second].id
            assert set(session.scalars(select(AlertRow.incident_id))) == {rows[second].id}
            assert set(session.scalars(select(IncidentNote.incident_id))) == {rows[second].id}
            # The playbook's own close found it closed already: one closing, the merge's.
            closings = [
                e.data
                for e in session.scalars(
                    select(TimelineEvent).where(
                        TimelineEvent.incident_id == rows[first].id,
                        TimelineEvent.kind == "incident.status",
                    )
                )
                if e.data.get("to") == "closed"
            ]
            assert [closing["to"] for closing in closings] == ["closed"]

        # A later alert of the merged incident's fingerprint reaches the target's run.
        later = await engine.http.post("/api/v1/alerts", json=example(kind="prompt_injection"))
        assert (later.json()["incident_id"], later.json()["workflow_id"]) == (
            second,
            second_workflow,
        )

        async def seen_by_target() -> bool:
            state = await target.query(QUERY_STATE, result_type=IncidentState)
            return state.alerts_seen == 2

        await eventually(seen_by_target, within=30)

        shown = await engine.cli("incidents", "notes", second)
        assert shown.exit_code == 0 and "caller says the key leaked" in shown.output
        again = await engine.cli("incidents", "merge", first, "--into", second)
        assert again.exit_code == 1 and "already merged" in again.output


async def test_case_commands_as_a_user_types_them(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    async with engine_on(tmp_path, database_url, temporal_env) as engine:
        ref, _ = await open_incident(engine, "prompt_injection")
        other, _ = await open_incident(engine, "jailbreak")

        assigned = await engine.cli("incidents", "assign", ref, "operator", "--commander")
        assert assigned.exit_code == 0, assigned.output
        assert "commander    operator" in assigned.output
        unknown = await engine.cli("incidents", "assign", ref, "mallory")
        assert unknown.exit_code == 1
        assert "user:" in unknown.output and "not a known responder" in unknown.output
        nothing = await engine.cli("incidents", "assign", ref)
        assert nothing.exit_code == 2

        tagged = await engine.cli("incidents", "tag", ref, "pii", "Customer")
        assert tagged.exit_code == 0 and "pii" in tagged.output and "customer" in tagged.output
        bad = await engine.cli("incidents", "tag", ref, "no spaces")
        assert bad.exit_code == 1 and "tag:" in bad.output
        untagged = await engine.cli("incidents", "untag", ref, "pii")
        assert untagged.exit_code == 0 and "pii" not in untagged.output
        assert (await engine.cli("incidents", "untag", ref, "pii")).exit_code == 1

        linked = await engine.cli("incidents", "link", ref, other, "--kind", "duplicate")
        assert linked.exit_code == 0 and f"→ {other} (duplicate)" in linked.output
        self_link = await engine.cli("incidents", "link", ref, ref)
        assert self_link.exit_code == 1 and "itself" in self_link.output

        from_stdin = await engine.cli(
            "incidents", "note", ref, "-", stdin="token sk-proj-abcdefghijklmnop0123456789XYZ\n"
        )
        assert from_stdin.exit_code == 0, from_stdin.output
        notes = await engine.cli("incidents", "notes", ref, "--json")
        [note] = json.loads(notes.output)
        assert note["via"] == "cli" and "abcdefghijklmnop0123456789XYZ" not in note["text"]
        empty = await engine.cli("incidents", "note", ref, "")
        assert empty.exit_code == 1 and "text" in empty.output
        missing = await engine.cli("incidents", "note", "INC-2026-9999", "x")
        assert missing.exit_code == 1 and "no incident" in missing.output


async def test_a_playbook_names_the_on_call_commander_from_configuration(
    tmp_path: Path, database_url: str, temporal_env: WorkflowEnvironment
) -> None:
    async with engine_on(
        tmp_path,
        database_url,
        temporal_env,
        workflows=[AssignsOnCall],
        routes=[{"playbook": AssignsOnCall.name, "kinds": ["jailbreak"]}],
        # The on-call is the first listed; a Slack id there stands for its linked responder.
        approvers={"oncall": ["U0DANA001", "erin"], "leads": ["carol", "dave"]},
        slack={"users": {"U0DANA001": "dana"}},
    ) as engine:
        with engine.store.transaction() as session:
            for name in ("erin", "carol", "dave"):
                add_user(session, name, Role.RESPONDER, None)
        ref, _ = await open_incident(engine, "jailbreak")

        async def assigned() -> str | None:
            with engine.store.session() as session:
                return session.scalars(
                    select(TimelineEvent.message)
                    .join(Incident, Incident.id == TimelineEvent.incident_id)
                    .where(Incident.ref == ref, TimelineEvent.kind == "test.assigned")
                ).first()

        said = await eventually(assigned, within=60)
        assert said == "dana; carol, dave; skipped mallory"
        case = (await engine.http.get(f"/api/v1/incidents/{ref}/case")).json()
        assert (case["commander"], case["assignees"]) == ("dana", ["carol", "dave"])
        detail = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()
        vias = {e["kind"]: e["data"].get("via") for e in detail["timeline"]}
        assert vias["commander.changed"] == vias["assignee.added"] == "playbook"
