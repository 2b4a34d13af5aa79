"""Conversation memory and LLM caches of an application: the key patterns that name one
conversation's entries, and the messages of the purge the leakage playbook asks for.

A key pattern is a Redis glob with placeholders, `message_store:{session}` or
`llmcache:{user}:*`: the placeholders are filled with the incident's session or user, the
rest is matched as written.
"""

from __future__ import annotations

import string

from pydantic import BaseModel, Field

PLACEHOLDERS = ("session", "user")
_GLOB_SPECIAL = frozenset("*?[]\\")


def placeholders(pattern: str) -> set[str]:
    """The `{name}` fields of a key pattern; ValueError when it is not a valid template."""
    return {field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None}


def glob_escape(value: str) -> str:
    """`value` matched literally by a Redis glob: a session id holding `*` must not widen
    the purge to other conversations."""
    return "".join(f"\\{c}" if c in _GLOB_SPECIAL else c for c in value)


def resolve_patterns(templates: list[str], *, session: str | None, user: str | None) -> list[str]:
    """The globs for this conversation: each template whose placeholders are all known,
    filled with the escaped values. A template needing a value the incident lacks is left
    out, never filled with a wildcard."""
    known = {name: glob_escape(v) for name, v in (("session", session), ("user", user)) if v}
    return [t.format(**known) for t in templates if placeholders(t) <= set(known)]


class MemoryQuery(BaseModel):
    """Is purging configured for this application, for this conversation?"""

    application: str | None = None
    session: str | None = None
    user: str | None = None


class MemoryPlan(BaseModel):
    """The worker's answer: `configured` when the application has a `[memory.<name>]`
    section and at least one of its key patterns applies to the conversation."""

    configured: bool = False
    application: str | None = None
    provider: str | None = None
    patterns: int = Field(default=0, description="Key patterns that apply to the conversation.")
    reason: str = Field(default="", description="Why not, when not configured.")


class MemoryAction(BaseModel):
    """Purge one conversation's memory and cache entries from its application's store.
    Not reversible: purged entries are gone."""

    incident_id: int
    step: str | None = Field(default=None, max_length=100)
    application: str = Field(min_length=1, max_length=200)
    session: str | None = Field(default=None, min_length=1, max_length=200)
    user: str | None = Field(default=None, min_length=1, max_length=200)

    @property
    def target(self) -> str:
        who = ",".join(f"{k}:{v}" for k, v in (("session", self.session), ("user", self.user)) if v)
        return f"{self.application}/{who}"

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:purge_memory:{self.target}"


class KeptMemory(BaseModel):
    """The snapshot of a conversation's entries kept as evidence before a purge: what the
    approval card shows, so approvers know what survives the delete. No values: those are
    in the evidence store, raw for responders only."""

    keys: int = Field(description="Entries kept (0: the store holds none of the conversation).")
    evidence_name: str | None = None
    sha256: str | None = None
    size: int = 0
    redacted_preview: str = ""

    @property
    def short_hash(self) -> str:
        return f"sha256:{self.sha256[:12]}" if self.sha256 else "none"
