"""An incident of hundreds of alerts is assessed: every alert's prompt and response is kept
as evidence, repeated content is stored once, and the assessment the playbook receives
names a bounded number of pieces (those with findings first) and counts the rest, so it
fits in a Temporal payload however large the storm (10,000 alerts once gave a 2.7 MB
result, over the server's 2 MB limit)."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment

from activities.assessment import AssessmentActivities
from smokejumper.config import load_settings
from smokejumper.contracts.keys import KEYS_AT_MOST
from smokejumper.domain.alerts import Alert
from smokejumper.domain.fingerprint import fingerprint
from smokejumper.domain.response import EVIDENCE_LISTED, KeptEvidence, KeyRef, LeakAssessment
from smokejumper.domain.routing import Router
from smokejumper.intake.recorder import Pending, Recorded, Recorder
from smokejumper.store.db import Store
from smokejumper.store.tables import EvidenceItem, InventoryApiKey

ALERTS = 300
INVENTORY_KEY = "AKIAZZZZZZZZZZZZZZZZ"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _incident(store: Store, user: str, evidence: list[tuple[str, str]]) -> int:
    """One incident of data leakage alerts from `user`, one per (prompt, response), stored
    as intake stores a storm: one batch."""
    router = Router([], "sensitive-data-leakage")
    batch = []
    for prompt, response in evidence:
        alert = Alert.model_validate(
            {
                "source": "dlp",
                "kind": "data_leakage",
                "severity": "high",
                "title": "data in output",
                "principal": {"user": user},
                "evidence": {"prompt": prompt, "response": response},
            }
        )
        batch.append(
            Pending(alert, alert.model_dump_json(), fingerprint(alert), router.route(alert), None)
        )
    recorded = Recorder(store, timedelta(0)).record_batch(batch)
    assert isinstance(recorded[0], Recorded)
    return recorded[0].start.incident_id


def _storm(store: Store) -> int:
    # Every third response leaks an address; the prompts repeat one another.
    return _incident(
        store,
        "storm-user",
        [
            (
                f"who owns account {n % 5}?",
                f"the owner is user{n}@example.org" if n % 3 == 0 else f"no data, turn {n}",
            )
            for n in range(ALERTS)
        ],
    )


async def test_a_storm_is_kept_whole_and_the_result_stays_small(
    migrated_store: Store, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    incident_id = _storm(migrated_store)

    result: LeakAssessment = await ActivityEnvironment().run(
        AssessmentActivities(migrated_store, settings).assess_leak, incident_id
    )

    assert result.evidence_count == 2 * ALERTS
    assert len(result.evidence) == EVIDENCE_LISTED
    # The 100 leaking responses come first.
    assert all(piece.findings == ["email"] for piece in result.evidence)
    assert "personal_data" in result.categories
    with migrated_store.session() as session:
        kept = session.scalar(
            select(func.count())
            .select_from(EvidenceItem)
            .where(EvidenceItem.incident_id == incident_id)
        )
    assert kept == 2 * ALERTS
    # Repeated content is one object: 5 distinct prompts, 300 distinct responses.
    objects = [
        path for path in (tmp_path / "data").rglob("*") if path.is_file() and len(path.name) == 64
    ]
    assert len(objects) == 5 + ALERTS
    [payload] = pydantic_data_converter.payload_converter.to_payloads([result])
    assert len(payload.data) < 64 * 1024


def test_a_result_recorded_before_the_count_counts_what_it_lists() -> None:
    """Histories hold assessments that listed every piece and had no count."""
    listed = [KeptEvidence(name=f"alert-{n}-response", sha256="0" * 64) for n in range(3)]
    old = LeakAssessment.model_validate(
        {"incident_id": 1, "evidence": [piece.model_dump() for piece in listed]}
    )
    assert old.evidence_count == 3
    assert LeakAssessment(incident_id=1).evidence_count == 0


async def test_output_stuffed_with_key_shaped_ids_gives_the_inventorys_key_first_and_a_count(
    migrated_store: Store, tmp_path: Path
) -> None:
    """Tens of thousands of made-up access key ids (a prompt can ask a model for them): the
    assessment names KEYS_AT_MOST keys, the inventory's first, and counts the rest. Before,
    it named every one (a result of megabytes, past Temporal's payload limit), and looking
    them up in the inventory passed PostgreSQL's 65,535 bound values in a statement."""
    settings = load_settings(data_dir=tmp_path / "data")
    rng = random.Random(17)
    made_up = sorted(
        {"AKIA" + "".join(rng.choices(_BASE32, k=16)) for _ in range(72_000)} - {INVENTORY_KEY}
    )
    with migrated_store.transaction() as session:
        session.add(InventoryApiKey(key_id=INVENTORY_KEY, provider="vault"))
    # 9,000 ids a response (one is at most 200,000 characters); the inventory's key, which
    # sorts after every made-up one, in the last.
    responses = [" ".join(made_up[n : n + 9_000]) for n in range(0, len(made_up), 9_000)]
    responses[-1] += f" {INVENTORY_KEY}"
    incident_id = _incident(migrated_store, "stuffed", [("list keys", r) for r in responses])

    result: LeakAssessment = await ActivityEnvironment().run(
        AssessmentActivities(migrated_store, settings).assess_leak, incident_id
    )

    assert result.keys[0] == KeyRef(provider="vault", key_id=INVENTORY_KEY)
    assert len(result.keys) == KEYS_AT_MOST
    assert result.keys[1:] == [
        KeyRef(provider="aws_iam", key_id=key_id) for key_id in made_up[: KEYS_AT_MOST - 1]
    ]
    assert result.keys_left_out == len(made_up) + 1 - KEYS_AT_MOST
    [payload] = pydantic_data_converter.payload_converter.to_payloads([result])
    assert len(payload.data) < 256 * 1024
