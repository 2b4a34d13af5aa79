"""A store with something in every table the data commands touch: incidents, alerts (one
with the subject's e-mail and phone), dead letters, timeline entries, evidence and audit
rows, opened as a deployment's processes open it (audit key, head checkpoint)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from integrations.evidence.checkpoints import head_checkpoints
from integrations.evidence.local import LocalEvidenceStore
from smokejumper.config import Settings
from smokejumper.store import audit
from smokejumper.store.db import Store
from smokejumper.store.migrate import upgrade
from smokejumper.store.open import open_store
from smokejumper.store.tables import (
    AlertRow,
    DeadLetter,
    EvidenceItem,
    Incident,
    TimelineEvent,
)

EMAIL = "alice.doe@example.com"
PHONE = "+1 415 555 2671"


def env_of(settings: Settings) -> dict[str, str]:
    env = {
        "SMOKEJUMPER_DATA_DIR": str(settings.data_dir),
        "SMOKEJUMPER_DATABASE_URL": str(settings.database_url),
    }
    if settings.audit.key_file is not None:
        env["SMOKEJUMPER_AUDIT__KEY_FILE"] = str(settings.audit.key_file)
    return env


def cli(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env_of(settings))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(database_url)
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings, head_checkpoints(settings))
    yield store
    store.dispose()


@pytest.fixture
def other_database(database_url: str, postgres_server: str) -> Iterator[str]:
    """A second, empty database of the same kind, to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{Path(database_url.split('///', 1)[1]).parent / 'restored.db'}"
        return
    name = f"smokejumper_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_incident(
    store: Store,
    evidence: LocalEvidenceStore,
    number: int,
    *,
    text: str = "",
    age_days: float = 0,
) -> int:
    """One incident with an alert, a dead letter, a timeline entry, an evidence item and
    an audit row; `text` goes into each of their free-text fields."""
    at = datetime.now(UTC) - timedelta(days=age_days)
    body = json.dumps({"prompt": f"please mail {text or 'nobody'}", "n": number})
    content = f"prompt {number}: {text}".encode()
    digest = hashlib.sha256(content).hexdigest()
    uri = evidence.put(digest, content)
    with store.transaction() as session:
        incident = Incident(
            ref=f"INC-2026-{number:04d}",
            fingerprint=f"fp{number}",
            kind="sensitive_data_leakage",
            severity="high",
            title=f"leak {number} {text}".strip(),
            workflow_id=f"wf-{number}",
            principal={"user": text or "nobody"},
        )
        session.add(incident)
        session.flush()
        session.add(
            AlertRow(
                id=str(uuid.uuid4()),
                received_at=at,
                source="generic",
                kind="sensitive_data_leakage",
                severity="high",
                title=f"alert {number}",
                occurred_at=at,
                fingerprint=f"fp{number}",
                incident_id=incident.id,
                raw=body,
                normalized={"prompt": f"please mail {text or 'nobody'}"},
            )
        )
        session.add(
            DeadLetter(
                id=str(uuid.uuid4()),
                received_at=at,
                reason="invalid",
                raw_body=f"bad body from {text}",
                source="generic",
            )
        )
        session.add(
            TimelineEvent(
                incident_id=incident.id,
                kind="note",
                actor="operator",
                message=f"called {text}",
                data={"contact": text},
            )
        )
        session.add(
            EvidenceItem(
                incident_id=incident.id,
                name="alert.prompt",
                kind="alert.prompt",
                sha256=digest,
                size=len(content),
                uri=uri,
                redacted_preview=f"prompt {number}",
                captured_by="test",
                evidence_key=f"{incident.id}:evidence:alert.prompt:{digest}",
            )
        )
        audit.append(
            session,
            actor="operator",
            action="incident.close",
            subject=incident.ref or "",
            data={"reason": f"spoke to {text}" if text else "done"},
        )
        return incident.id
