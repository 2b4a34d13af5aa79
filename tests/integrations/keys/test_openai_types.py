"""The OpenAI Admin API emulator answers exactly as the official `openai` SDK types the API:
every answer the provider can get is validated against the SDK's own models, with no field
missing, mistyped or unknown to them, so the emulator cannot drift from the real API."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
import pydantic
import pytest
from openai.types.admin.organization.projects.api_key_delete_response import (
    APIKeyDeleteResponse,
)
from openai.types.admin.organization.projects.project_api_key import ProjectAPIKey
from openai.types.shared.error_object import ErrorObject

from tests.integrations.emulators.openai_admin import OpenAIAdmin
from tests.integrations.keys.conftest import ADMIN_SECRET

M = TypeVar("M", bound=pydantic.BaseModel)


def _unknown_fields(model: pydantic.BaseModel, where: str) -> list[str]:
    """Fields the SDK's models take without knowing them (they allow extras)."""
    unknown = [f"{where}.{name}" for name in model.model_extra or {}]
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, pydantic.BaseModel):
            unknown += _unknown_fields(value, f"{where}.{name}")
    return unknown


def strictly(model: type[M], body: Any) -> M:
    parsed = model.model_validate(body)
    unknown = _unknown_fields(parsed, model.__name__)
    if unknown:
        raise AssertionError(f"fields the SDK does not type: {', '.join(unknown)}")
    return parsed


def test_every_emulator_answer_is_what_the_sdk_types_say() -> None:
    with OpenAIAdmin(ADMIN_SECRET).running() as api:
        assert isinstance(api, OpenAIAdmin)
        key_id, value = api.create_key("proj_support", name="support-bot")
        project, _, key = key_id.partition("/")
        path = f"{api.url}/v1/organization/projects/{project}/api_keys/{key}"
        admin = {"Authorization": f"Bearer {ADMIN_SECRET}"}

        found = httpx.get(path, headers=admin)
        deleted = httpx.delete(path, headers=admin)
        missing = httpx.get(path, headers=admin)
        refused = httpx.get(path, headers={"Authorization": "Bearer wrong"})

    assert found.status_code == 200
    key_record = strictly(ProjectAPIKey, found.json())
    assert key_record.id == key
    assert key_record.owner.service_account is not None
    assert key_record.redacted_value != value
    assert deleted.status_code == 200
    assert strictly(APIKeyDeleteResponse, deleted.json()).deleted is True
    for answer, status in ((missing, 404), (refused, 401)):
        assert answer.status_code == status
        assert set(answer.json()) == {"error"}
        strictly(ErrorObject, answer.json()["error"])


def test_the_check_catches_an_answer_the_sdk_does_not_type() -> None:
    with OpenAIAdmin(ADMIN_SECRET).running() as api:
        assert isinstance(api, OpenAIAdmin)
        key_id, _ = api.create_key("proj_support")
        record = api.keys[("proj_support", key_id.partition("/")[2])]
    drifted = {name: v for name, v in record.items() if name != "owner_project_access"}
    renamed = {**record, "owner": {**record["owner"], "kind": "service_account"}}

    with pytest.raises(pydantic.ValidationError, match="owner_project_access"):
        strictly(ProjectAPIKey, drifted)
    with pytest.raises(AssertionError, match=r"ProjectAPIKey\.owner\.kind"):
        strictly(ProjectAPIKey, renamed)
