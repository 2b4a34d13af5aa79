"""Messages of the containment activities (revoking keys, isolating endpoints, rolling back
models, blocking principals, input-filter rules, quarantining documents, and their undo)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class KeyStatus(StrEnum):
    """A key's status as smokejumper records it, whatever the provider's own words; a
    provider may report others (`unknown`), which are neither."""

    ACTIVE = "active"
    INACTIVE = "inactive"


class KeyAction(BaseModel):
    """Revoke or restore one key. `ActionResult` carries the same fields, so a step's result
    can be handed straight to its undo activity."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(min_length=1, max_length=60)
    key_id: str = Field(min_length=1, max_length=200)

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:revoke_key:{self.provider}:{self.key_id}"


class KeysAction(BaseModel):
    """Revoke or restore many keys of one provider in one activity: the keys of a leak past
    the ones revoked a step each. Each key is still its own action, under the same business
    key (and step name) as `KeyAction`'s, so a key revoked on sight or by an earlier
    attempt is found done, not revoked again."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(min_length=1, max_length=60)
    key_ids: list[str] = Field(min_length=1, max_length=1000)

    def each(self, step: Callable[[str], str]) -> list[KeyAction]:
        """One `KeyAction` per key, named by `step` (the name its own revoke step has)."""
        return [
            KeyAction(
                incident_id=self.incident_id,
                step=step(key_id),
                provider=self.provider,
                key_id=key_id,
            )
            for key_id in self.key_ids
        ]


class KeysResult(BaseModel):
    """What a `KeysAction` did: counts, and the masked ids of the keys whose provider does
    not confirm the change yet. `verified` is False while any is unconfirmed (the SDK then
    re-checks the whole batch, which only looks at those keys again)."""

    incident_id: int
    provider: str
    action: str
    done: int = 0
    unverified: list[str] = Field(default_factory=list)
    verified: bool | None = None


class EndpointAction(BaseModel):
    """Isolate or restore one serving endpoint. `ActionResult` of an isolation carries
    `endpoint`, so it can be handed straight to `restore_endpoint` too."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(min_length=1, max_length=60)
    endpoint: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=500)

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:isolate_endpoint:{self.provider}:{self.endpoint}"


class ActionResult(BaseModel):
    """What the `actions` row records about one containment action. `key_id` is the
    action's target whatever its kind (kept for the histories of runs that revoke keys);
    `endpoint` repeats it for endpoint actions."""

    incident_id: int
    step: str | None = None
    provider: str
    key_id: str
    endpoint: str | None = None
    business_key: str
    action: str
    status: str
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)
    verified: bool | None = None
    reversible: bool = False
    restored_at: datetime | None = None
    error: str | None = None


class ModelAction(BaseModel):
    """Roll the serving alias of one registered model back (or restore it). `to_version`
    None means the last known good version: the newest earlier version whose artifact digest
    matches the inventory. The target of the action is `model@alias`."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(min_length=1, max_length=60)
    model: str = Field(min_length=1, max_length=200)
    alias: str = Field(default="production", min_length=1, max_length=100)
    to_version: str | None = Field(default=None, max_length=60)
    reason: str | None = Field(default=None, max_length=500)

    @property
    def target(self) -> str:
        return f"{self.model}@{self.alias}"

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:rollback_model:{self.provider}:{self.target}"


PrincipalType = Literal["user", "tenant", "session", "api_key"]
FilterRuleKind = Literal["pattern", "canary"]


class PrincipalAction(BaseModel):
    """Block (or unblock) one principal at the embedded control plane: every request the
    gateway checks for it is refused until `expires_at` (None: until unblocked). The undo
    activity takes the same message."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(default="local", min_length=1, max_length=60)
    principal_type: PrincipalType
    principal: str = Field(min_length=1, max_length=200)
    expires_at: datetime | None = None
    reason: str | None = Field(default=None, max_length=500)

    @property
    def target(self) -> str:
        return f"{self.principal_type}:{self.principal}"

    @property
    def business_key(self) -> str:
        # The step is part of it: one incident may throttle a principal, then block it.
        step = f":{self.step}" if self.step else ""
        return f"{self.incident_id}:block_principal:{self.provider}:{self.target}{step}"


class FilterRuleAction(BaseModel):
    """Add (or remove) a temporary input-filter rule the gateway applies to prompts: a
    regular expression (`pattern`) or a literal canary string (`canary`). Rules always
    expire: a filter written in a hurry must not outlive the incident by accident."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(default="local", min_length=1, max_length=60)
    rule_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    kind: FilterRuleKind = "pattern"
    pattern: str = Field(min_length=1, max_length=2000)
    expires_at: datetime
    reason: str | None = Field(default=None, max_length=500)

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:add_filter_rule:{self.provider}:{self.rule_id}"


class DocumentAction(BaseModel):
    """Quarantine (or release) one document of a retrieval source: retrievers asking the
    control plane leave it out of results until it is released."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(default="local", min_length=1, max_length=60)
    document: str = Field(min_length=1, max_length=300)
    source: str | None = Field(
        default=None, max_length=200, description="The retrieval index or data source."
    )
    reason: str | None = Field(default=None, max_length=500)

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:quarantine_document:{self.provider}:{self.document}"


class RevokedOnSight(BaseModel):
    """What the first look at a leak revoked before anything else ran: the keys it
    revoked (their action rows' results), and the masked ids of the keys it left to the
    playbook's revoke steps (routed to an integration worker, or failed here) with why."""

    incident_id: int
    revoked: list[ActionResult] = Field(default_factory=list)
    left: dict[str, str] = Field(default_factory=dict)
    # Keys past the first look's limit: the playbook's revoke steps take them.
    left_over: int = 0
