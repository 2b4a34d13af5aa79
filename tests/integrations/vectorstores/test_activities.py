"""`sweep_retrieval_index` and its undo bound to a store (SQLite and PostgreSQL) and a real
`chroma run` server: once per business key on the `actions` table, counts recorded before
anything moves, finished (not redone) after the server goes away mid-sweep, and undone
exactly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.retrieval import RetrievalActivities
from integrations.vectorstores.base import StoredDocument
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.retrieval import RetrievalPlan, RetrievalQuery, RetrievalSweep
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.chroma import ChromaAdmin, CuttableProxy, Doc, direction
from tests.helpers import eventually, insert_incident
from tests.integrations.vectorstores.corpus import INJECTED

APP = "support-bot"
# Pages beside the poisoned document: enough batches that the cut lands mid-sweep.
PAGES = 300


def settings_for(tmp_path: Path, url: str, collection: str, **config: Any) -> Settings:
    section = {"provider": "chroma", "url": url, "collection": collection, **config}
    return load_settings(data_dir=tmp_path / "data", vectorstores={APP: section})


def sweep(incident_id: int, **changes: Any) -> RetrievalSweep:
    values: dict[str, Any] = {
        "incident_id": incident_id,
        "step": "sweep retrieval index",
        "application": APP,
        "documents": ["poison"],
    }
    values.update(changes)
    return RetrievalSweep(**values)


def source(n: int) -> list[Doc]:
    """One poisoned document and `n` more from the same source, and one from elsewhere."""
    docs = [Doc("poison", INJECTED, direction(1), {"source": "crawler"})]
    docs += [
        Doc(f"page-{i:05d}", f"Page {i}.", direction(1000 + i), {"source": "crawler"})
        for i in range(n)
    ]
    return [*docs, Doc("elsewhere", "Unrelated.", direction(7), {"source": "handbook"})]


def rows(store: Store) -> list[Action]:
    with store.session() as session:
        return list(session.scalars(select(Action).where(Action.action == "sweep_retrieval_index")))


@pytest.fixture
def incident_id(migrated_store: Store) -> int:
    return insert_incident(
        migrated_store, playbook="prompt-injection", fingerprint=uuid.uuid4().hex
    ).incident_id


async def run(function: Any, arg: RetrievalSweep) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(function, arg)
    return result


async def test_the_server_going_away_mid_sweep_is_finished_by_the_retry_not_redone(
    migrated_store: Store,
    chroma_server: str,
    chroma: ChromaAdmin,
    tmp_path: Path,
    incident_id: int,
) -> None:
    name = chroma.name()
    chroma.create(name, source(PAGES))
    proxy = CuttableProxy(chroma_server)
    try:
        activities = RetrievalActivities(
            migrated_store, settings_for(tmp_path, proxy.url, name, batch_size=20)
        )
        quarantine = f"{name}-quarantine"
        attempt = asyncio.ensure_future(run(activities.sweep_retrieval_index, sweep(incident_id)))
        # The server goes away once the first documents have moved.

        async def moving() -> bool:
            return attempt.done() or chroma.count(quarantine) > 0

        await eventually(moving, within=120, interval=0.01)
        proxy.cut()
        with pytest.raises(ApplicationError) as failed:
            await attempt
        assert failed.value.non_retryable is False, failed.value
        assert "cannot reach the API" in str(failed.value)
        [row] = rows(migrated_store)
        assert (row.status, row.attempts) == ("started", 1)
        halfway = chroma.count(quarantine)
        assert 0 < halfway < PAGES + 1
        # Every document is in the index or the quarantine (written there before deleted).
        assert chroma.ids(name) | chroma.ids(quarantine) == {d.id for d in source(PAGES)}

        proxy.mend()
        done = await run(activities.sweep_retrieval_index, sweep(incident_id))
        assert (done.status, done.verified, done.reversible) == ("completed", True, True)
        # The counts are the first attempt's: what the index held, not the remainder.
        assert done.after["quarantined"] == PAGES + 1
        assert done.after["source_documents"] == PAGES + 1
        assert done.after["carrying"] == 1 and done.after["data_sources"] == ["crawler"]
        assert chroma.ids(name) == {"elsewhere"}
        assert chroma.count(quarantine) == PAGES + 1
        [row] = rows(migrated_store)
        assert row.attempts == 2

        # Completed: a third call returns the row and touches nothing.
        proxy.cut()
        assert (await run(activities.sweep_retrieval_index, sweep(incident_id))).status == (
            "completed"
        )
        proxy.mend()

        undone = await run(activities.restore_retrieval_index, sweep(incident_id))
        assert undone.status == "restored"
        assert undone.after["restored"] == {"collection": name, "restored": PAGES + 1}
        assert chroma.count(name) == PAGES + 2 and chroma.count(quarantine) == 0
        page = chroma.get(name, ids=["page-00042"], include=["metadatas"])
        assert page["metadatas"] == [{"source": "crawler"}]
    finally:
        proxy.close()


async def test_an_index_changing_under_the_sweeps_read_is_still_swept_whole(
    migrated_store: Store, chroma_server: str, chroma: ChromaAdmin, tmp_path: Path, incident_id: int
) -> None:
    """Chroma pages by offset: documents leaving the front of the index while it is read
    (here, an earlier attempt's delete the server finished late) shift the next page past
    documents never seen. The sweep looks again once it has moved its plan."""
    name = chroma.name()
    chroma.create(name, source(PAGES))
    activities = RetrievalActivities(
        migrated_store, settings_for(tmp_path, chroma_server, name, batch_size=20)
    )
    store = activities.stores.get(APP)
    read = store.scan
    gone: list[str] = []

    def scan(collection: str, **query: Any) -> Iterator[list[StoredDocument]]:
        for page in read(collection, **query):
            yield page
            if collection == name and not gone:
                # The named document stays: it is what the next look starts from.
                gone.extend(d.id for d in page if d.id != "poison")
                chroma.delete(name, gone)

    cast(Any, store).scan = scan
    done = await run(activities.sweep_retrieval_index, sweep(incident_id))
    assert len(gone) == 19
    assert (done.status, done.verified) == ("completed", True)
    assert chroma.ids(name) == {"elsewhere"}
    assert chroma.count(f"{name}-quarantine") == PAGES + 1 - len(gone)


async def test_documents_the_source_adds_during_the_sweep_are_swept_and_counted(
    migrated_store: Store, chroma_server: str, chroma: ChromaAdmin, tmp_path: Path, incident_id: int
) -> None:
    """The crawler that served the injection is still ingesting while the sweep moves its
    documents: what it added is found by the next look, moved, and in the counts."""
    name = chroma.name()
    chroma.create(name, source(PAGES))
    activities = RetrievalActivities(
        migrated_store, settings_for(tmp_path, chroma_server, name, batch_size=20)
    )
    store = activities.stores.get(APP)
    move = store.move
    late = [
        Doc(f"late-{i:03d}", f"Late page {i}.", direction(5000 + i), {"source": "crawler"})
        for i in range(20)
    ]

    def moving(source_name: str, target: str, ids: Sequence[str], **options: Any) -> int:
        moved = move(source_name, target, ids, **options)
        if not added:
            added.append(True)
            chroma.add(name, late)
        return moved

    added: list[bool] = []
    cast(Any, store).move = moving
    done = await run(activities.sweep_retrieval_index, sweep(incident_id))
    assert (done.status, done.verified) == ("completed", True)
    assert chroma.ids(name) == {"elsewhere"}
    assert chroma.count(f"{name}-quarantine") == PAGES + 1 + len(late)
    assert done.after["quarantined"] == PAGES + 1 + len(late)


async def test_a_collection_that_does_not_exist_fails_at_once(
    migrated_store: Store, chroma_server: str, tmp_path: Path, incident_id: int
) -> None:
    activities = RetrievalActivities(
        migrated_store, settings_for(tmp_path, chroma_server, "no-such-index")
    )
    with pytest.raises(ApplicationError) as failed:
        await run(activities.sweep_retrieval_index, sweep(incident_id))
    assert failed.value.non_retryable is True
    assert "collection no-such-index: not found" in str(failed.value)
    [row] = rows(migrated_store)
    assert row.status == "failed" and row.before == {}
    # It moved nothing, so there is nothing to restore.
    with pytest.raises(ApplicationError, match="nothing to restore"):
        await run(activities.restore_retrieval_index, sweep(incident_id))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_server_that_is_down_is_retried_and_an_unconfigured_application_is_not(
    migrated_store: Store, chroma_server: str, tmp_path: Path, incident_id: int
) -> None:
    proxy = CuttableProxy(chroma_server)
    proxy.cut()
    try:
        activities = RetrievalActivities(
            migrated_store, settings_for(tmp_path, proxy.url, "any-index", timeout_seconds=2)
        )
        with pytest.raises(ApplicationError) as failed:
            await run(activities.sweep_retrieval_index, sweep(incident_id))
        assert failed.value.non_retryable is False
    finally:
        proxy.close()
    with pytest.raises(ApplicationError) as refused:
        await run(activities.sweep_retrieval_index, sweep(incident_id, application="other-app"))
    assert refused.value.non_retryable is True
    assert "no [vectorstores.other-app] section" in str(refused.value)

    plan: RetrievalPlan = await ActivityEnvironment().run(
        activities.retrieval_index_plan, RetrievalQuery(application=APP)
    )
    assert (plan.configured, plan.provider, plan.collection) == (True, "chroma", "any-index")
    missing: RetrievalPlan = await ActivityEnvironment().run(
        activities.retrieval_index_plan, RetrievalQuery(application="other-app")
    )
    assert not missing.configured and "[vectorstores.other-app]" in missing.reason
