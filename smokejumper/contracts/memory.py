"""Conversation memory: is purging configured for a conversation, and purge it."""

from __future__ import annotations

from smokejumper.contracts.base import Contract, Rehearsal
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.memory import KeptMemory, MemoryAction, MemoryPlan, MemoryQuery

# What the dry run says a snapshot kept: two entries, a placeholder hash.
_REHEARSED_SNAPSHOT = "0" * 64


def _rehearsed_plan(query: MemoryQuery, _: Rehearsal) -> MemoryPlan:
    # Rehearse the purge wherever it could apply.
    return MemoryPlan(
        configured=bool(query.application and (query.session or query.user)),
        application=query.application,
        reason="the alerts name no application, or no session or user",
    )


MEMORY_PURGE_PLAN = Contract(
    "memory_purge_plan",
    MemoryQuery,
    MemoryPlan,
    rehearse=_rehearsed_plan,
    description="Whether the application's memory store is configured for this conversation.",
)


def _rehearsed_snapshot(action: MemoryAction, _: Rehearsal) -> KeptMemory:
    return KeptMemory(
        keys=2,
        evidence_name=SNAPSHOT_EVIDENCE,
        sha256=_REHEARSED_SNAPSHOT,
        redacted_preview="(rehearsed: the entries of the conversation)",
    )


SNAPSHOT_EVIDENCE = "memory-before-purge"
SNAPSHOT_MEMORY = Contract(
    "snapshot_memory",
    MemoryAction,
    KeptMemory,
    rehearse=_rehearsed_snapshot,
    description="Keep the conversation's entries, values included, as evidence before a purge.",
)
PURGE_MEMORY = Contract(
    "purge_memory",
    MemoryAction,
    ActionResult,
    rehearse=rehearsed_action("purge_memory"),
    description="Keep the conversation's entries as evidence, then delete exactly those "
    "(not reversible).",
)
