"""The embedded control plane: settings over a temporary data dir, and its state files."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.containment import ContainmentActivities
from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import ActionResult, EndpointAction, KeyAction
from smokejumper.store.db import Store
from tests.helpers import insert_incident

CONTROLS_TOKEN = "controls-test-token-0123456789"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", api={"controls_token": CONTROLS_TOKEN})


@pytest.fixture
def activities(migrated_store: Store, settings: Settings) -> ContainmentActivities:
    return ContainmentActivities(migrated_store, settings)


@pytest.fixture
def endpoints(settings: Settings) -> LocalEndpoints:
    # A second instance over the same file, as another process would see it.
    return LocalEndpoints(settings.local_endpoints_file)


@pytest.fixture
def keys(settings: Settings) -> LocalKeys:
    return LocalKeys(settings.local_keys_file)


def new_incident_id(store: Store) -> int:
    start = insert_incident(store, playbook="test-isolate", fingerprint=uuid.uuid4().hex)
    return start.incident_id


def endpoint_action(incident_id: int, endpoint: str, provider: str = "local") -> EndpointAction:
    return EndpointAction(
        incident_id=incident_id,
        step="isolate endpoint",
        provider=provider,
        endpoint=endpoint,
        reason="prompt injection exfiltrating data",
    )


def on_disk(path: Path, section: str, name: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(path.read_text())[section][name]
    return record


async def run(function: object, action: EndpointAction | KeyAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(function, action)  # type: ignore[arg-type]
    return result
