"""The retrieval index of the embedded control plane, in `vectorstore.json` beside the keys
file: a stand-in for an application's vector store, so the demo and dry runs sweep
something without one. Nearest documents are found by brute-force cosine similarity.

    {"collections": {"support-kb": {"documents": {"doc-1": {"document": "...",
     "metadata": {"source": "wiki"}, "embedding": [0.1, ...]}}}}}
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from integrations.local_state import LocalProvider, Records
from integrations.vectorstores.base import (
    QUARANTINED_BY,
    CollectionNotFound,
    StoredDocument,
    VectorStoreError,
    stamped,
    unstamped,
)
from smokejumper.domain.retrieval import cosine

PROVIDER = "local"
SECTION = "collections"


class LocalVectorStore(LocalProvider):
    section = SECTION
    what = "local vector store"
    error = VectorStoreError

    # -- set-up (the demo and tests fill it) ------------------------------------------------

    def add(self, collection: str, documents: Sequence[StoredDocument]) -> None:
        """Add (or replace) documents, embeddings required."""
        with self._file.locked():
            records = self._read()
            held = records.setdefault(collection, {"documents": {}})["documents"]
            for document in documents:
                if document.embedding is None:
                    raise VectorStoreError(f"{self.what}: {document.id} has no embedding")
                held[document.id] = document.model_dump(exclude={"id"})
            self._file.write(records)

    # -- reading ----------------------------------------------------------------------------

    def _documents(self, records: Records, collection: str) -> dict[str, dict[str, Any]]:
        if collection not in records:
            raise CollectionNotFound(f"{self.what}: collection {collection} does not exist")
        held: dict[str, dict[str, Any]] = records[collection].get("documents") or {}
        return held

    def _held(self, collection: str) -> dict[str, dict[str, Any]]:
        return self._documents(self._read(), collection)

    def count(self, collection: str) -> int:
        return len(self._held(collection))

    def scan(
        self, collection: str, *, where: dict[str, Any] | None = None, batch: int = 200
    ) -> Iterator[list[StoredDocument]]:
        held = self._held(collection)
        page: list[StoredDocument] = []
        for document_id, record in held.items():
            metadata = dict(record.get("metadata") or {})
            if where and any(metadata.get(k) != v for k, v in where.items()):
                continue
            page.append(
                StoredDocument(id=document_id, document=record.get("document"), metadata=metadata)
            )
            if len(page) == batch:
                yield page
                page = []
        if page:
            yield page

    def embeddings(self, collection: str, ids: Sequence[str]) -> dict[str, list[float]]:
        held = self._held(collection)
        return {i: list(held[i]["embedding"]) for i in ids if i in held}

    def nearest(
        self, collection: str, embedding: Sequence[float], limit: int
    ) -> list[tuple[str, list[float]]]:
        held = self._held(collection)
        ranked = sorted(
            ((i, list(r["embedding"])) for i, r in held.items()),
            key=lambda item: -cosine(embedding, item[1]),
        )
        return ranked[:limit]

    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        held = self._held(collection)
        return {i for i in ids if i in held}

    # -- moving -----------------------------------------------------------------------------

    def move(
        self, source: str, target: str, ids: Sequence[str], *, key: str, batch: int = 200
    ) -> int:
        with self._file.locked():
            records = self._read()
            held = self._documents(records, source)
            quarantine = records.setdefault(target, {"documents": {}})["documents"]
            moved = 0
            for document_id in ids:
                record = held.pop(document_id, None)
                if record is None:
                    continue
                metadata = stamped(dict(record.get("metadata") or {}), key, source)
                quarantine[document_id] = {**record, "metadata": metadata}
                moved += 1
            self._file.write(records)
            return moved

    def move_back(self, target: str, source: str, *, key: str, batch: int = 200) -> int:
        with self._file.locked():
            records = self._read()
            if target not in records:
                return 0
            quarantine = self._documents(records, target)
            held = records.setdefault(source, {"documents": {}})["documents"]
            mine = [
                i
                for i, r in quarantine.items()
                if (r.get("metadata") or {}).get(QUARANTINED_BY) == key
            ]
            for document_id in mine:
                record = quarantine.pop(document_id)
                held[document_id] = {**record, "metadata": unstamped(record["metadata"])}
            self._file.write(records)
            return len(mine)
