"""One retrieval index per test, on a real Chroma server or the local state file, with the
settings the sweep reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.vectorstores.base import StoredDocument, VectorStore
from integrations.vectorstores.chroma import ChromaStore
from integrations.vectorstores.local import LocalVectorStore
from smokejumper.settings.vectorstores import VectorStoreSettings
from tests.chroma import ChromaAdmin, Doc


@dataclass
class Index:
    """A store under test, its settings, and a way to look at a collection that does not
    go through the provider (Chroma's API directly, or the state file)."""

    store: VectorStore
    config: VectorStoreSettings
    admin: ChromaAdmin | None

    def ids(self, collection: str) -> set[str]:
        if self.admin is not None:
            return self.admin.ids(collection)
        assert isinstance(self.store, LocalVectorStore)
        try:
            return {d.id for page in self.store.scan(collection) for d in page}
        except Exception:
            return set()

    def metadata(self, collection: str, document_id: str) -> dict[str, Any]:
        if self.admin is not None:
            got = self.admin.get(collection, ids=[document_id], include=["metadatas"])
            return dict(got["metadatas"][0] or {})
        return next(
            d.metadata for page in self.store.scan(collection) for d in page if d.id == document_id
        )


def fill(store: VectorStore, admin: ChromaAdmin | None, name: str, docs: Sequence[Doc]) -> None:
    if admin is not None:
        admin.create(name, docs)
        return
    assert isinstance(store, LocalVectorStore)
    store.add(
        name,
        [
            StoredDocument(id=d.id, document=d.text, metadata=d.metadata, embedding=d.embedding)
            for d in docs
        ],
    )


@pytest.fixture(params=["chroma", "local"])
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """`make_index(docs, **settings)`: a fresh collection holding `docs`."""
    made: list[ChromaStore] = []

    def make(docs: Sequence[Doc], **settings: Any) -> Index:
        if request.param == "chroma":
            url: str = request.getfixturevalue("chroma_server")
            admin = request.getfixturevalue("chroma")
            name = admin.name()
            store: VectorStore = ChromaStore(url, timeout_seconds=30)
            made.append(store)  # type: ignore[arg-type]
            config = VectorStoreSettings(provider="chroma", url=url, collection=name, **settings)
        else:
            admin = None
            name = "support-kb"
            store = LocalVectorStore(tmp_path / "vectorstore.json")
            config = VectorStoreSettings(provider="local", collection=name, **settings)
        fill(store, admin, name, docs)
        return Index(store, config, admin)

    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for store in made:
        store.close()
