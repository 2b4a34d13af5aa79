"""Messages of the system-prompt activities: what the inventory and the prompt registry say
about a leaked prompt (`PromptPlan`), the canary check, and rotating the prompt (moving
its serving alias to a version without the secret) and its undo.

None of them carries prompt text or a canary: ids, versions, counts and kinds only, since
they travel through workflow histories, the timeline and the report.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from smokejumper.domain.response import KeyRef
from smokejumper.leakage import CREDENTIAL_KINDS

# Credential kinds a key id accounts for: the id itself (an AWS access key id, an
# inventory key found by its prefix), and an AWS key's secret half when its id is there.
_NAMED_BY_ID = frozenset({"aws_access_key_id", "inventory_key"})


def unnamed_credentials(
    kinds: Iterable[str], credential_kinds: frozenset[str] = CREDENTIAL_KINDS
) -> list[str]:
    """The credential kinds among `kinds` that no key id names: no provider can revoke
    them from here, so a responder rotates them at their issuer."""
    found = set(kinds)
    named = set(_NAMED_BY_ID)
    if "aws_access_key_id" in found:
        named.add("aws_secret_access_key")
    return sorted(k for k in found if k in credential_kinds and k not in named)


class PromptQuery(BaseModel):
    """Which prompt leaked: `prompt` when the alert names it (label `prompt`), else the
    inventory's prompt of `application`."""

    incident_id: int
    application: str | None = Field(default=None, max_length=200)
    prompt: str | None = Field(default=None, max_length=200)


class PromptPlan(BaseModel):
    """The leaked prompt as the inventory and its registry know it. `found` False: nothing
    to rotate automatically (`reason` says why)."""

    incident_id: int
    found: bool = False
    reason: str | None = None
    prompt: str | None = None
    provider: str | None = None
    alias: str | None = None
    serving_version: str | None = Field(
        default=None, description="The version the alias points at now (the leaked one)."
    )
    replacement_version: str | None = Field(
        default=None, description="The version without the secret, as the inventory names it."
    )
    owners: list[str] = Field(default_factory=list)
    canaries: int = Field(default=0, description="Canaries the inventory records for it.")
    secret_kinds: list[str] = Field(
        default_factory=list, description="Credential kinds the serving version's text holds."
    )
    keys: list[KeyRef] = Field(
        default_factory=list, description="Credentials in it a key provider can revoke, by id."
    )
    unnamed_kinds: list[str] = Field(
        default_factory=list,
        description="Credential kinds in it that no key id names: revoked by hand.",
    )
    replacement_kinds: list[str] = Field(
        default_factory=list, description="Credential kinds the replacement version's text holds."
    )
    replacement_problem: str | None = Field(
        default=None, description="Why the named replacement cannot be rotated to."
    )
    scanned_chars: int = 0
    truncated: bool = Field(
        default=False, description="The serving version is longer than the scan reads."
    )


class CanaryQuery(BaseModel):
    incident_id: int
    prompt: str = Field(min_length=1, max_length=200)


class CanaryCheck(BaseModel):
    """Whether the incident's model output holds a canary of the prompt."""

    incident_id: int
    prompt: str
    canaries: int = 0
    hits: int = 0
    outputs: int = Field(default=0, description="Model outputs (alert responses) scanned.")

    @property
    def confirmed(self) -> bool:
        return self.hits > 0


class PromptAction(BaseModel):
    """Rotate a prompt: tag `version_tag` on the version the alias serves (the leaked one)
    and move the alias to `to_version`. The undo takes the same message and moves the
    alias back. The target is `prompt@alias`."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    provider: str = Field(min_length=1, max_length=60)
    prompt: str = Field(min_length=1, max_length=200)
    alias: str = Field(default="production", min_length=1, max_length=100)
    to_version: str = Field(min_length=1, max_length=60)
    from_version: str | None = Field(
        default=None,
        max_length=60,
        description="The version the plan saw serving; the rotation refuses to move an "
        "alias someone has moved since.",
    )
    leaked_tag: str = Field(default="leaked", min_length=1, max_length=100)
    incident_ref: str = Field(min_length=1, max_length=100)

    @property
    def target(self) -> str:
        return f"{self.prompt}@{self.alias}"

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:rotate_prompt:{self.provider}:{self.target}"
