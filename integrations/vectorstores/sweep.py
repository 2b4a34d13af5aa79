"""The sweep of one retrieval index after an indirect injection: which documents carry the
injected instruction or came from the data source that served it, computed from what the
store holds (text, metadata, stored embeddings), and nothing else.

A document is swept when it is

- **named**: one the alert names, by id or by `sha256:` of its text;
- **exact**: its normalized text contains a named document's, or the instruction the
  alert marked (see `smokejumper.domain.retrieval.normalize`: unicode disguises do not
  hide a copy);
- **similar**: its stored embedding is within the configured cosine similarity of a
  named document's (the nearest `similar_limit` are examined);
- **same_source**: its data source (metadata `source_field`) served a named document, or
  is the one the alert names, and the settings quarantine whole sources.

Documents an earlier attempt of the same sweep already moved (stamped with its business
key in the quarantine collection) are part of the plan again, so a retried sweep finishes
the first one instead of finding less, or moving twice.

A plan is read page by page while the index may change under it (a delete the server had
not finished when its client went away, an ingest still running): a page can then slip past
the read unseen. So a sweep looks again once it has moved its plan, and moves what the new
look finds still in the index, until a look finds nothing left (`sweep_until_settled`).
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.vectorstores.base import (
    QUARANTINED_BY,
    CollectionNotFound,
    StoredDocument,
    VectorStore,
)
from smokejumper.domain.retrieval import (
    EXACT,
    MIN_INSTRUCTION_CHARS,
    NAMED,
    SAME_SOURCE,
    SIMILAR,
    RetrievalSweep,
    SweepCounts,
    content_digest,
    cosine,
    normalize,
)
from smokejumper.settings.vectorstores import VectorStoreSettings


@dataclass(frozen=True)
class SweepPlan:
    """The ids to move, in the order found, and the counts the report shows."""

    ids: list[str]
    counts: SweepCounts


def _documents(
    store: VectorStore, config: VectorStoreSettings, key: str
) -> tuple[dict[str, StoredDocument], set[str]]:
    """Every document of the index, and of those already moved by this sweep; the ids of
    the latter."""
    found: dict[str, StoredDocument] = {}
    for page in store.scan(config.collection, batch=config.batch_size):
        found.update((d.id, d) for d in page)
    moved: set[str] = set()
    try:
        for page in store.scan(
            config.quarantine, where={QUARANTINED_BY: key}, batch=config.batch_size
        ):
            for document in page:
                found.setdefault(document.id, document)
                moved.add(document.id)
    except CollectionNotFound:
        pass  # nothing quarantined yet
    return found, moved


def _matching(names: list[str], documents: dict[str, StoredDocument]) -> dict[str, list[str]]:
    """Each of `names` (an id, or `sha256:` of the text) to the documents it names."""
    by_digest: dict[str, list[str]] = {}
    if any(name.startswith("sha256:") for name in names):
        for document in documents.values():
            if document.document is not None:
                by_digest.setdefault(content_digest(document.document), []).append(document.id)
    return {name: [name] if name in documents else by_digest.get(name, []) for name in names}


def _named(
    sweep: RetrievalSweep, documents: dict[str, StoredDocument]
) -> tuple[list[str], list[str]]:
    """The documents the alert names that the index holds, and the names it does not."""
    seeds: list[str] = []
    missing: list[str] = []
    for name, hits in _matching(sweep.documents, documents).items():
        if not hits:
            missing.append(name)
        seeds += [hit for hit in hits if hit not in seeds]
    return seeds, missing


def _quarantined_elsewhere(
    store: VectorStore, config: VectorStoreSettings, names: list[str]
) -> int:
    """How many of `names` an earlier sweep (another incident's) already quarantined."""
    if not names:
        return 0
    held: dict[str, StoredDocument] = {}
    try:
        for page in store.scan(config.quarantine, batch=config.batch_size):
            held.update((d.id, d) for d in page)
    except CollectionNotFound:
        return 0
    return sum(1 for hits in _matching(names, held).values() if hits)


def plan_sweep(store: VectorStore, config: VectorStoreSettings, sweep: RetrievalSweep) -> SweepPlan:
    """What the sweep moves; raises CollectionNotFound when the index does not exist."""
    key = sweep.business_key
    documents, moved = _documents(store, config, key)
    seeds, missing = _named(sweep, documents)
    reasons: dict[str, str] = dict.fromkeys(seeds, NAMED)

    # Exact: the named documents' text, or the marked instruction, inside another's.
    needles = {normalize(documents[s].document or "") for s in seeds}
    if sweep.instruction:
        needles.add(normalize(sweep.instruction))
    needles = {n for n in needles if len(n) >= MIN_INSTRUCTION_CHARS}
    if needles:
        for document in documents.values():
            if document.id not in reasons and document.document:
                text = normalize(document.document)
                if any(needle in text for needle in needles):
                    reasons[document.id] = EXACT

    # Similar: the stored embeddings nearest each named document's.
    truncated = False
    live_seeds = [s for s in seeds if s not in moved]
    seed_embeddings = store.embeddings(config.collection, live_seeds) if live_seeds else {}
    if len(live_seeds) < len(seeds):
        moved_seeds = [s for s in seeds if s in moved]
        seed_embeddings |= store.embeddings(config.quarantine, moved_seeds)
    for embedding in seed_embeddings.values():
        nearest = store.nearest(config.collection, embedding, config.similar_limit)
        for document_id, stored in nearest:
            if cosine(embedding, stored) >= config.similarity_threshold:
                reasons.setdefault(document_id, SIMILAR)
        # The farthest examined still similar: the limit, not the threshold, stopped it.
        if nearest and len(nearest) >= config.similar_limit:
            farthest = cosine(embedding, nearest[-1][1])
            truncated = truncated or farthest >= config.similarity_threshold

    # The data source(s): the one the alert names and those of the named documents.
    sources = {sweep.data_source} if sweep.data_source else set()
    for seed in seeds:
        value = documents[seed].metadata.get(config.source_field)
        if value is not None and value != "":
            sources.add(str(value))
    from_source = {
        d.id for d in documents.values() if str(d.metadata.get(config.source_field, "")) in sources
    }
    carrying = set(reasons)
    if config.quarantine_whole_source:
        for document_id in documents:
            if document_id in from_source:
                reasons.setdefault(document_id, SAME_SOURCE)
    # Already moved by this sweep: moved again (a no-op), whatever the recount says.
    for document_id in moved:
        reasons.setdefault(document_id, SAME_SOURCE if document_id in from_source else SIMILAR)

    ids = [d for d in documents if d in reasons]
    by_reason: dict[str, int] = {}
    for document_id in ids:
        by_reason[reasons[document_id]] = by_reason.get(reasons[document_id], 0) + 1
    counts = SweepCounts(
        collection=config.collection,
        quarantine_collection=config.quarantine,
        data_sources=sorted(sources),
        scanned=len(documents),
        named_found=len(seeds),
        named_missing=len(missing),
        named_already_quarantined=_quarantined_elsewhere(store, config, missing),
        carrying=len(carrying),
        carrying_from_source=len(carrying & from_source),
        source_documents=len(from_source),
        by_reason=by_reason,
        quarantined=len(ids),
        similarity_threshold=config.similarity_threshold,
        similar_truncated=truncated,
    )
    return SweepPlan(ids=ids, counts=counts)


# Looks after the first, at most: an index that keeps gaining documents from the swept
# source faster than they are moved is left unverified, for people, not chased forever.
SETTLE_LOOKS = 5


def sweep_until_settled(
    store: VectorStore, config: VectorStoreSettings, sweep: RetrievalSweep, plan: SweepPlan
) -> SweepPlan:
    """Move `plan`'s documents, then plan again and move what is still in the index, until a
    fresh look finds none of its documents left there. Returns the last look: every document
    this sweep moved (they carry its key in the quarantine) and any still left."""
    for _ in range(SETTLE_LOOKS):
        store.move(
            config.collection,
            config.quarantine,
            plan.ids,
            key=sweep.business_key,
            batch=config.batch_size,
        )
        plan = plan_sweep(store, config, sweep)
        if not store.present(config.collection, plan.ids):
            break
    return plan


def verify_swept(store: VectorStore, config: VectorStoreSettings, ids: list[str]) -> bool:
    """Look again: none of `ids` is left in the index, and the quarantine holds each."""
    if not ids:
        return True
    left = store.present(config.collection, ids)
    held = store.present(config.quarantine, ids)
    return not left and held == set(ids)
