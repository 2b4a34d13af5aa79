"""IAM on a real `moto_server` process, the Vault providers on a real OpenBao server
(tests/openbao.py), OpenAI and LiteLLM on local emulators of their admin APIs
(tests/integrations/emulators), and the containment activities bound to a store.

AWS calls are counted on the server side, by moto's request recorder: every request the
server receives is appended to its recording, whichever client (or retry) sent it, so a
count there cannot miss a call the provider made the way a client-side hook on one boto3
client could.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3
import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from activities.containment import ContainmentActivities
from smokejumper.config import Settings, load_settings
from smokejumper.domain.containment import ActionResult, KeyAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action
from tests.helpers import insert_incident, isolate_aws
from tests.integrations.emulators.base import Emulator
from tests.integrations.emulators.litellm import LiteLLMProxy
from tests.integrations.emulators.openai_admin import OpenAIAdmin
from tests.integrations.emulators.proxy import RecordingProxy
from tests.openbao import OpenBao, openbao  # noqa: F401  (fixture: a real OpenBao)


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
        return self.call_counts(action)[key_id]

    def call_counts(self, action: str) -> Counter[str]:
        """How many `action` requests the server has received, by the key id they name."""
        response = httpx.get(f"{self.endpoint_url}/moto-api/recorder/download-recording")
        response.raise_for_status()
        counts: Counter[str] = Counter()
        for line in response.text.splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", errors="replace")
            form = parse_qs(body)
            if form.get("Action") == [action] and len(form.get("AccessKeyId", [])) == 1:
                counts[form["AccessKeyId"][0]] += 1
        return counts


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


def row_of(store: Store, action: KeyAction) -> Action:
    with store.session() as session:
        row = session.scalar(select(Action).where(Action.business_key == action.business_key))
    assert row is not None
    return row


async def revoke(activities: ContainmentActivities, action: KeyAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(activities.revoke_key, action)
    return result


async def restore(activities: ContainmentActivities, action: KeyAction) -> ActionResult:
    result: ActionResult = await ActivityEnvironment().run(activities.restore_key, action)
    return result


@pytest.fixture
def aws_activities(iam: Iam, migrated_store: Store, tmp_path: Path) -> ContainmentActivities:
    return ContainmentActivities(migrated_store, containment_settings(tmp_path, iam.endpoint_url))


# -- providers tested over HTTP: emulated admin APIs, and OpenBao behind a counting proxy

ADMIN_SECRET = "admin-credential-0123456789abcdef"


@dataclass
class KeyCase:
    """One key provider spoken to over HTTP: how to make a key, see whether the server
    revoked it, and name the request that revokes it (to count it). `emulator` is the
    emulator, or the recording proxy in front of the real server; `secret` is the admin
    credential the server accepts."""

    provider: str
    emulator: Emulator
    settings: dict[str, Any]
    new_key: Callable[[], str]
    is_revoked: Callable[[str], bool]
    revoke_request: Callable[[str], tuple[str, str]]
    secret: str = ADMIN_SECRET

    def revoke_calls(self, key_id: str) -> int:
        return self.emulator.calls(*self.revoke_request(key_id))

    def containment(self, secret: str | None = None) -> dict[str, Any]:
        credential = "token" if "address" in self.settings else "api_key"
        return {self.section: {**self.settings, credential: secret or self.secret}}

    @property
    def section(self) -> str:
        return {"vault_token": "vault", "vault_lease": "vault"}.get(self.provider, self.provider)


def _openai_case(emulator: OpenAIAdmin) -> KeyCase:
    def revoke_request(key_id: str) -> tuple[str, str]:
        project, _, key = key_id.partition("/")
        return "DELETE", f"/v1/organization/projects/{project}/api_keys/{key}"

    return KeyCase(
        provider="openai",
        emulator=emulator,
        settings={"base_url": f"{emulator.url}/v1"},
        new_key=lambda: emulator.create_key("proj_support")[0],
        is_revoked=lambda key_id: not emulator.exists(key_id),
        revoke_request=revoke_request,
    )


def _litellm_case(emulator: LiteLLMProxy) -> KeyCase:
    return KeyCase(
        provider="litellm",
        emulator=emulator,
        settings={"base_url": emulator.url},
        new_key=lambda: emulator.create_key()[0],
        is_revoked=emulator.blocked,
        revoke_request=lambda key_id: ("POST", "/key/block"),
    )


def vault_proxy(bao: OpenBao) -> RecordingProxy:
    return RecordingProxy(bao.url, ("X-Vault-Token", "X-Vault-Namespace"))


def _vault_token_case(bao: OpenBao, proxy: RecordingProxy) -> KeyCase:
    tokens: dict[str, str] = {}

    def new_token() -> str:
        accessor, token = bao.create_token(["llm-app"])
        tokens[accessor] = token
        return accessor

    return KeyCase(
        provider="vault_token",
        emulator=proxy,
        settings={"address": proxy.url},
        new_key=new_token,
        is_revoked=lambda accessor: not bao.token_works(tokens[accessor]),
        revoke_request=lambda key_id: ("POST", "/v1/auth/token/revoke-accessor"),
        secret=bao.root_token,
    )


def _vault_lease_case(bao: OpenBao, proxy: RecordingProxy) -> KeyCase:
    logins: dict[str, list[str]] = {}

    def new_prefix() -> str:
        prefix = bao.create_role()
        logins[prefix] = [bao.credentials(prefix)[1] for _ in range(2)]
        return f"{prefix}/"

    def is_revoked(prefix: str) -> bool:
        return not bao.leases(prefix) and not any(
            bao.can_log_in(login) for login in logins[prefix.rstrip("/")]
        )

    return KeyCase(
        provider="vault_lease",
        emulator=proxy,
        settings={"address": proxy.url},
        new_key=new_prefix,
        is_revoked=is_revoked,
        revoke_request=lambda prefix: (
            "PUT",
            f"/v1/sys/leases/revoke-prefix/{prefix.strip('/')}",
        ),
        secret=bao.root_token,
    )


def _emulated(
    emulator: Callable[[], Emulator], case: Callable[[Any], KeyCase]
) -> Callable[[pytest.FixtureRequest], tuple[Emulator, Callable[[Emulator], KeyCase]]]:
    return lambda request: (emulator(), case)


def _on_openbao(
    case: Callable[[OpenBao, RecordingProxy], KeyCase],
) -> Callable[[pytest.FixtureRequest], tuple[Emulator, Callable[[Emulator], KeyCase]]]:
    def build(request: pytest.FixtureRequest) -> tuple[Emulator, Callable[[Emulator], KeyCase]]:
        bao: OpenBao = request.getfixturevalue("openbao")
        proxy = vault_proxy(bao)
        return proxy, lambda running: case(bao, proxy)

    return build


_CASES = {
    "openai": _emulated(lambda: OpenAIAdmin(ADMIN_SECRET), _openai_case),
    "litellm": _emulated(lambda: LiteLLMProxy(ADMIN_SECRET), _litellm_case),
    "vault_token": _on_openbao(_vault_token_case),
    "vault_lease": _on_openbao(_vault_lease_case),
}


@pytest.fixture(params=sorted(_CASES))
def key_case(request: pytest.FixtureRequest) -> Iterator[KeyCase]:
    emulator, case = _CASES[request.param](request)
    with emulator.running():
        yield case(emulator)


def emulated_activities(
    store: Store, tmp_path: Path, case: KeyCase, secret: str | None = None
) -> ContainmentActivities:
    settings = load_settings(data_dir=tmp_path / "data", containment=case.containment(secret))
    return ContainmentActivities(store, settings)
