"""The interface every model rollback provider implements, its errors, and the choice of the
last known good version (shared by every provider)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, Field


class ModelState(BaseModel):
    """Which version a serving alias points at; `version` None when the alias is unset."""

    model: str
    alias: str
    provider: str
    version: str | None
    details: dict[str, Any] = Field(default_factory=dict)


class ModelProviderError(Exception):
    """A registry call failed. `retryable` is False when retrying cannot help (no such model,
    access denied, no version to roll back to)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ModelNotFound(ModelProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class NoKnownGoodVersion(ModelProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class ModelProvider(Protocol):
    """Blocking calls: activities run them in a thread."""

    name: str
    restorable: bool

    def state(self, model: str, alias: str) -> ModelState:
        """The version `alias` points at now, without changing it."""
        ...

    def versions(self, model: str) -> list[str]:
        """Every registered version of `model`, in any order."""
        ...

    def digest(self, model: str, version: str) -> str | None:
        """`sha256:<hex>` of the version's artifacts, computed now from the artifacts
        themselves (not a digest the registry claims); None when they cannot be read."""
        ...

    def set_alias(self, model: str, alias: str, version: str | None) -> ModelState:
        """Point `alias` at `version` (None removes it); returns the state afterwards."""
        ...


def version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key: numeric parts compare as numbers, so 10 follows 9 and 1.10.0 follows 1.9.0."""
    parts = re.split(r"[.\-+_]", version)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


@dataclass
class Candidate:
    version: str
    verdict: str


@dataclass
class KnownGood:
    """The version to roll back to (None when there is none) and why each newer earlier
    version was passed over, for the timeline and the error message."""

    version: str | None
    digest: str | None = None
    passed_over: list[Candidate] = field(default_factory=list)

    def explain(self) -> str:
        return ", ".join(f"{c.version} ({c.verdict})" for c in self.passed_over) or "none"


def last_known_good(
    provider: ModelProvider, model: str, current: str, expected: Mapping[str, str]
) -> KnownGood:
    """The newest version earlier than `current` whose artifacts hash to the digest the
    inventory records for it (`expected`: known-good versions and their digests)."""
    earlier = sorted(
        (v for v in provider.versions(model) if version_order(v) < version_order(current)),
        key=version_order,
        reverse=True,
    )
    result = KnownGood(version=None)
    for version in earlier:
        wanted = expected.get(version)
        if wanted is None:
            result.passed_over.append(Candidate(version, "not known good in the inventory"))
            continue
        actual = provider.digest(model, version)
        if actual is None:
            result.passed_over.append(Candidate(version, "artifacts unreadable"))
        elif actual != wanted:
            result.passed_over.append(Candidate(version, f"digest {actual} differs"))
        else:
            result.version = version
            result.digest = actual
            return result
    return result
