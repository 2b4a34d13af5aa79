"""The interface every prompt registry provider implements, and its errors.

A prompt has numbered versions (each an immutable text, with tags) and aliases
(`production`) that applications resolve to know which version to serve. Rotating a leaked
prompt moves the alias; nothing here edits or deletes a version.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field


class PromptState(BaseModel):
    """Which version `alias` points at; `version` None when the alias is unset."""

    prompt: str
    alias: str
    provider: str
    version: str | None
    details: dict[str, Any] = Field(default_factory=dict)


class PromptProviderError(Exception):
    """A registry call failed. `retryable` is False when retrying cannot help (no such
    prompt or version, access denied, not a prompt). Messages name the prompt, version and
    status only, never the prompt's text."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class PromptNotFound(PromptProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class PromptProvider(Protocol):
    """Blocking calls: activities run them in a thread."""

    name: str
    restorable: bool

    def state(self, prompt: str, alias: str) -> PromptState:
        """The version `alias` points at now (raises PromptNotFound for no such prompt)."""
        ...

    def text(self, prompt: str, version: str) -> str:
        """The version's template as stored (a chat prompt's messages as JSON)."""
        ...

    def tags(self, prompt: str, version: str) -> dict[str, str]:
        """The version's own tags."""
        ...

    def set_tag(self, prompt: str, version: str, key: str, value: str) -> None:
        """Tag one version (no other version changes)."""
        ...

    def set_alias(self, prompt: str, alias: str, version: str) -> PromptState:
        """Point `alias` at `version` (which must exist); returns the state afterwards."""
        ...
