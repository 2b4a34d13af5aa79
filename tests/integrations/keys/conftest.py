"""IAM on a real `moto_server` process, and the containment activities bound to a store.

AWS calls are counted on the server side, by moto's request recorder: every request the
server receives is appended to its recording, whichever client (or retry) sent it, so a
count there cannot miss a call the provider made the way a client-side hook on one boto3
client could.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import httpx
import pytest

from activities.containment import ContainmentActivities
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import KeyAction
from smokejumper.store.db import Store
from tests.helpers import insert_incident, isolate_aws


@dataclass
class Iam:
    endpoint_url: str
    client: Any

    def access_key(self) -> tuple[str, str]:
        """A new user with one active access key: (key id, secret)."""
        user = f"svc-{uuid.uuid4().hex[:10]}"
        self.client.create_user(UserName=user)
        key = self.client.create_access_key(UserName=user)["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])

    def status(self, key_id: str) -> str:
        user = self.client.get_access_key_last_used(AccessKeyId=key_id)["UserName"]
        keys = self.client.list_access_keys(UserName=user)["AccessKeyMetadata"]
        return str(next(k["Status"] for k in keys if k["AccessKeyId"] == key_id))

    def calls(self, action: str, key_id: str) -> int:
        """How many `action` requests naming `key_id` the server has received."""
        response = httpx.get(f"{self.endpoint_url}/moto-api/recorder/download-recording")
        response.raise_for_status()
        count = 0
        for line in response.text.splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", errors="replace")
            form = parse_qs(body)
            if form.get("Action") == [action] and form.get("AccessKeyId") == [key_id]:
                count += 1
        return count


@pytest.fixture(scope="session")
def moto_recording(moto_server: str) -> str:
    # Reset once, not per test: each test uses keys of its own, and the file then exists
    # before the first download.
    httpx.post(f"{moto_server}/moto-api/recorder/reset-recording").raise_for_status()
    httpx.post(f"{moto_server}/moto-api/recorder/start-recording").raise_for_status()
    return moto_server


@pytest.fixture
def iam(moto_recording: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iam:
    """moto_server, with the standard AWS variables set to test values and nothing of the
    developer's own AWS setup (profile, config files, endpoints) in the way."""
    isolate_aws(monkeypatch, tmp_path, "IAM")
    return Iam(moto_recording, boto3.session.Session().client("iam", endpoint_url=moto_recording))


def containment_settings(tmp_path: Path, endpoint_url: str | None = None) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        containment={"aws_endpoint_url": endpoint_url},
    )


def new_incident_id(store: Store) -> int:
    start = insert_incident(store, playbook="test-revoke-key", fingerprint=uuid.uuid4().hex)
    return start.incident_id


def key_action(incident_id: int, provider: str, key_id: str) -> KeyAction:
    return KeyAction(incident_id=incident_id, step="revoke key", provider=provider, key_id=key_id)


@pytest.fixture
def aws_activities(iam: Iam, migrated_store: Store, tmp_path: Path) -> ContainmentActivities:
    return ContainmentActivities(migrated_store, containment_settings(tmp_path, iam.endpoint_url))
