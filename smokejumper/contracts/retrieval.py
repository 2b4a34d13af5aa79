"""The retrieval index (vector store) of an application: is one configured, sweep it for
the documents an indirect injection came with, and put them back."""

from __future__ import annotations

from datetime import timedelta

from smokejumper.contracts.base import CONTAINMENT, Contract, Rehearsal, RetryClass
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.retrieval import (
    NAMED,
    RetrievalPlan,
    RetrievalQuery,
    RetrievalSweep,
    SweepCounts,
)

# A sweep reads the whole index (10,000 documents are a few dozen requests) and moves what
# it found in batches: it takes longer than one containment call, and heartbeats while it
# runs, so a worker that dies mid-sweep is noticed in seconds, and the retry finishes it.
SWEEP = RetryClass(
    "sweep",
    CONTAINMENT.policy,
    timedelta(minutes=10),
    heartbeat=timedelta(seconds=30),
)


def _rehearsed_plan(query: RetrievalQuery, _: Rehearsal) -> RetrievalPlan:
    # Rehearse the sweep wherever it could apply.
    return RetrievalPlan(
        configured=bool(query.application),
        application=query.application,
        provider="rehearsal",
        collection=f"{query.application}-index" if query.application else None,
        reason="the alerts name no application",
    )


RETRIEVAL_INDEX_PLAN = Contract(
    "retrieval_index_plan",
    RetrievalQuery,
    RetrievalPlan,
    rehearse=_rehearsed_plan,
    description="Whether the application's retrieval index (vector store) is configured.",
)

RESTORE_RETRIEVAL_INDEX = Contract(
    "restore_retrieval_index",
    RetrievalSweep,
    ActionResult,
    retry=SWEEP,
    rehearse=rehearsed_action("restore_retrieval_index"),
    description="Put the documents a sweep quarantined back into the retrieval index.",
)


def _rehearsed_sweep(sweep: RetrievalSweep, rehearsal: Rehearsal) -> ActionResult:
    # As if the index held exactly the documents the alert names, and nothing else.
    result = rehearsed_action("sweep_retrieval_index")(sweep, rehearsal)
    named = len(sweep.documents)
    counts = SweepCounts(
        collection=f"{sweep.application}-index",
        quarantine_collection=f"{sweep.application}-index-quarantine",
        data_sources=[sweep.data_source] if sweep.data_source else [],
        scanned=named,
        named_found=named,
        carrying=named,
        carrying_from_source=named if sweep.data_source else 0,
        source_documents=named if sweep.data_source else 0,
        by_reason={NAMED: named} if named else {},
        quarantined=named,
    )
    return result.model_copy(update={"after": counts.model_dump(mode="json")})


SWEEP_RETRIEVAL_INDEX = Contract(
    "sweep_retrieval_index",
    RetrievalSweep,
    ActionResult,
    undo=RESTORE_RETRIEVAL_INDEX,
    retry=SWEEP,
    rehearse=_rehearsed_sweep,
    description="Move the documents carrying an injected instruction (named, exact copies, "
    "similar embeddings) and those of the data source that served it out of the "
    "application's retrieval index, into a quarantine collection.",
)
