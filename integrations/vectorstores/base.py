"""The interface every vector-store provider implements, and its errors.

A provider moves documents between two collections of one store: out of the collection an
application retrieves from into a quarantine collection, stamped with the business key of
the sweep that moved them, and back. A retriever never sees a quarantined document, with or
without a filter of its own. Embeddings are always given by the caller and read back as
stored: no provider computes one, so nothing ever loads an embedding model.

Errors quote collection names, ids and HTTP statuses only, never document text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field

# Metadata a quarantined document carries, removed again when it is restored.
QUARANTINED_BY = "smokejumper_quarantined_by"
QUARANTINED_FROM = "smokejumper_quarantined_from"
STAMP_KEYS = (QUARANTINED_BY, QUARANTINED_FROM)


class StoredDocument(BaseModel):
    """One document as the store holds it; `embedding` only when asked for."""

    id: str
    document: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding: list[float] | None = None


class VectorStoreError(Exception):
    """A store call failed. `retryable` is False when retrying cannot help (no such
    collection, access denied, a rejected request)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class CollectionNotFound(VectorStoreError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def stamped(metadata: dict[str, Any], key: str, collection: str) -> dict[str, Any]:
    return {**metadata, QUARANTINED_BY: key, QUARANTINED_FROM: collection}


def unstamped(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k not in STAMP_KEYS}


class VectorStore(Protocol):
    """Blocking calls: activities run them in a thread."""

    name: str

    def count(self, collection: str) -> int:
        """How many documents the collection holds; CollectionNotFound when it does not
        exist."""
        ...

    def scan(
        self, collection: str, *, where: dict[str, Any] | None = None, batch: int = 200
    ) -> Iterator[list[StoredDocument]]:
        """Every document (text and metadata, no embedding), `batch` at a time; only those
        whose metadata equals `where`'s values, when given."""
        ...

    def embeddings(self, collection: str, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored embeddings of those of `ids` the collection holds."""
        ...

    def nearest(
        self, collection: str, embedding: Sequence[float], limit: int
    ) -> list[tuple[str, list[float]]]:
        """Up to `limit` documents nearest `embedding`, nearest first, with their stored
        embeddings."""
        ...

    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        """Those of `ids` the collection holds."""
        ...

    def move(
        self, source: str, target: str, ids: Sequence[str], *, key: str, batch: int = 200
    ) -> int:
        """Move `ids` from `source` into `target` (created when missing), each stamped with
        `key`: written into `target` first, then deleted from `source`, so a failure in
        between leaves a document in both, never in neither, and moving again finishes the
        job. Ids `source` no longer holds are left alone. Returns how many were moved."""
        ...

    def move_back(self, target: str, source: str, *, key: str, batch: int = 200) -> int:
        """Put every document of `target` stamped with `key` back into `source`, as it was
        before the move (stamp removed); returns how many."""
        ...
