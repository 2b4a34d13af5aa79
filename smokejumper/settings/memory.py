"""`[memory.<application>]`: where an application keeps conversation memory and caches."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from smokejumper.domain.memory import PLACEHOLDERS, placeholders
from smokejumper.settings.sections import Secret, Section


class MemorySettings(Section):
    """Where one application keeps conversation memory and LLM caches: what the
    `sensitive-data-leakage` playbook purges, on approval, for the leaking conversation."""

    provider: Literal["redis", "local"] = Field(
        default="redis",
        description="`redis`, or `local` (a state file beside keys.json, for the demo).",
    )
    url: str | None = Field(
        default=None,
        pattern=r"^(redis|rediss|unix)://",
        description="Redis URL with the database number, e.g. redis://cache:6379/2; no "
        "password in it (see `password`).",
    )
    username: str | None = Field(default=None, description="Redis ACL user.")
    password: Secret | None = Field(
        default=None, description="Redis password; a file:/env: reference."
    )
    key_patterns: list[str] = Field(
        min_length=1,
        description="Redis globs naming one conversation's keys, with `{session}` and/or "
        "`{user}`, e.g. `message_store:{session}` (LangChain's RedisChatMessageHistory). "
        "Write `{{` and `}}` for literal braces.",
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="Per-command timeout.")

    @field_validator("key_patterns")
    @classmethod
    def _patterns_name_a_conversation(cls, patterns: list[str]) -> list[str]:
        for index, pattern in enumerate(patterns):
            try:
                fields = placeholders(pattern)
            except ValueError as exc:
                raise ValueError(f"key_patterns.{index}: {exc}") from None
            unknown = fields - set(PLACEHOLDERS)
            if unknown:
                raise ValueError(
                    f"key_patterns.{index}: unknown placeholder {sorted(unknown)[0]!r}; "
                    "use {session} or {user}"
                )
            if not fields:
                # Without one, the purge of one conversation would delete everyone's.
                raise ValueError(
                    f"key_patterns.{index}: {pattern!r} names no conversation; it needs "
                    "{session} or {user}"
                )
        return patterns

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_url(cls, data: Any) -> Any:
        # Checked on the whole section: an error on the field itself would quote the URL.
        url = data.get("url") if isinstance(data, dict) else None
        if isinstance(url, str) and "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError(
                "url: may not carry credentials; set `username` and `password` (a "
                "file:/env: reference) instead"
            )
        return data

    @model_validator(mode="after")
    def _redis_needs_url(self) -> MemorySettings:
        if self.provider == "redis" and self.url is None:
            raise ValueError("url: the redis provider needs the URL of the Redis server")
        return self
