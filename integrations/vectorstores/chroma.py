"""Chroma, over its HTTP API (v2): the collections of one tenant and database.

Every call names a collection by its id, looked up by name once per call (a collection
deleted and created again under the same name gets a new id). Documents are written with
the embeddings read back from the store, never without one: Chroma's server computes no
embedding, and nothing here asks it to.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from integrations.http_api import ErrorKinds, HttpApi
from integrations.vectorstores.base import (
    QUARANTINED_BY,
    CollectionNotFound,
    StoredDocument,
    VectorStoreError,
    stamped,
    unstamped,
)

PROVIDER = "chroma"
_ERRORS = ErrorKinds(error=VectorStoreError, not_found=CollectionNotFound)


def _chunks(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _where(equal: dict[str, Any] | None) -> dict[str, Any] | None:
    if not equal:
        return None
    clauses = [{key: value} for key, value in sorted(equal.items())]
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaStore:
    name = PROVIDER

    def __init__(
        self,
        url: str,
        *,
        tenant: str = "default_tenant",
        database: str = "default_database",
        token: str | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        headers = {"x-chroma-token": token} if token else {}
        self._api = HttpApi("chroma", url, headers, timeout_seconds, _ERRORS)
        self._base = (
            f"/api/v2/tenants/{quote(tenant, safe='')}/databases/{quote(database, safe='')}"
        )

    def close(self) -> None:
        self._api.close()

    # -- collections ------------------------------------------------------------------------

    def _id(self, collection: str) -> str:
        body = self._api.json(
            "GET",
            f"{self._base}/collections/{quote(collection, safe='')}",
            what=f"collection {collection}",
        )
        found = body.get("id")
        if not isinstance(found, str):
            raise VectorStoreError(f"chroma collection {collection}: the answer has no id")
        return found

    def _id_or_create(self, collection: str) -> str:
        body = self._api.json(
            "POST",
            f"{self._base}/collections",
            what=f"create collection {collection}",
            json={"name": collection, "get_or_create": True},
        )
        found = body.get("id")
        if not isinstance(found, str):
            raise VectorStoreError(f"chroma collection {collection}: the answer has no id")
        return found

    def _call(self, collection_id: str, op: str, what: str, body: dict[str, Any]) -> Any:
        return self._api.json(
            "POST", f"{self._base}/collections/{collection_id}/{op}", what=what, json=body
        )

    def _get(self, collection_id: str, what: str, **query: Any) -> list[StoredDocument]:
        answer = self._call(collection_id, "get", what, query)
        ids = answer.get("ids") or []
        documents = answer.get("documents") or [None] * len(ids)
        metadatas = answer.get("metadatas") or [None] * len(ids)
        embeddings = answer.get("embeddings") or [None] * len(ids)
        if not (len(ids) == len(documents) == len(metadatas) == len(embeddings)):
            raise VectorStoreError(f"chroma {what}: the answer's lists differ in length")
        return [
            StoredDocument(
                id=str(i), document=d, metadata=dict(m or {}), embedding=list(e) if e else None
            )
            for i, d, m, e in zip(ids, documents, metadatas, embeddings, strict=True)
        ]

    # -- reading ----------------------------------------------------------------------------

    def count(self, collection: str) -> int:
        collection_id = self._id(collection)
        response = self._api.request(
            "GET",
            f"{self._base}/collections/{collection_id}/count",
            what=f"count {collection}",
        )
        try:
            return int(response.json())
        except (ValueError, TypeError):
            raise VectorStoreError(
                f"chroma count {collection}: the answer is not a number"
            ) from None

    def scan(
        self, collection: str, *, where: dict[str, Any] | None = None, batch: int = 200
    ) -> Iterator[list[StoredDocument]]:
        collection_id = self._id(collection)
        offset = 0
        while True:
            query: dict[str, Any] = {
                "include": ["documents", "metadatas"],
                "limit": batch,
                "offset": offset,
            }
            if where:
                query["where"] = _where(where)
            page = self._get(collection_id, f"read {collection}", **query)
            if not page:
                return
            yield page
            offset += len(page)

    def embeddings(self, collection: str, ids: Sequence[str]) -> dict[str, list[float]]:
        collection_id = self._id(collection)
        found: dict[str, list[float]] = {}
        for chunk in _chunks(ids, 200):
            for document in self._get(
                collection_id, f"read embeddings of {collection}", ids=chunk, include=["embeddings"]
            ):
                if document.embedding is not None:
                    found[document.id] = document.embedding
        return found

    def nearest(
        self, collection: str, embedding: Sequence[float], limit: int
    ) -> list[tuple[str, list[float]]]:
        collection_id = self._id(collection)
        answer = self._call(
            collection_id,
            "query",
            f"query {collection}",
            {
                "query_embeddings": [list(embedding)],
                "n_results": limit,
                "include": ["embeddings"],
            },
        )
        ids = (answer.get("ids") or [[]])[0]
        embeddings = (answer.get("embeddings") or [[]])[0]
        if len(ids) != len(embeddings):
            raise VectorStoreError(f"chroma query {collection}: the answer's lists differ")
        return [(str(i), list(e)) for i, e in zip(ids, embeddings, strict=True)]

    def present(self, collection: str, ids: Sequence[str]) -> set[str]:
        collection_id = self._id(collection)
        found: set[str] = set()
        for chunk in _chunks(ids, 200):
            page = self._get(collection_id, f"read {collection}", ids=chunk, include=[])
            found |= {document.id for document in page}
        return found

    # -- moving -----------------------------------------------------------------------------

    def move(
        self, source: str, target: str, ids: Sequence[str], *, key: str, batch: int = 200
    ) -> int:
        source_id = self._id(source)
        target_id = self._id_or_create(target)
        moved = 0
        for chunk in _chunks(ids, batch):
            documents = self._get(
                source_id,
                f"read {source}",
                ids=chunk,
                include=["documents", "metadatas", "embeddings"],
            )
            if not documents:
                continue
            self._write(target_id, target, documents, lambda m: stamped(m, key, source))
            self._call(source_id, "delete", f"delete from {source}", {"ids": chunk})
            moved += len(documents)
        return moved

    def move_back(self, target: str, source: str, *, key: str, batch: int = 200) -> int:
        try:
            target_id = self._id(target)
        except CollectionNotFound:
            return 0
        source_id = self._id_or_create(source)
        moved = 0
        while True:
            # Always the first page: each pass removes what it read from the quarantine.
            documents = self._get(
                target_id,
                f"read {target}",
                where={QUARANTINED_BY: key},
                limit=batch,
                include=["documents", "metadatas", "embeddings"],
            )
            if not documents:
                return moved
            self._write(source_id, source, documents, unstamped)
            ids = [document.id for document in documents]
            self._call(target_id, "delete", f"delete from {target}", {"ids": ids})
            moved += len(documents)

    def _write(
        self,
        collection_id: str,
        collection: str,
        documents: list[StoredDocument],
        metadata: Any,
    ) -> None:
        missing = [d.id for d in documents if d.embedding is None]
        if missing:
            # Writing without one would have Chroma's clients compute it with a model.
            raise VectorStoreError(
                f"chroma {collection}: {len(missing)} document(s) have no stored embedding",
                retryable=False,
            )
        metadatas = [metadata(d.metadata) or None for d in documents]
        self._call(
            collection_id,
            "upsert",
            f"write to {collection}",
            {
                "ids": [d.id for d in documents],
                "embeddings": [d.embedding for d in documents],
                "documents": [d.document for d in documents],
                "metadatas": metadatas,
            },
        )
