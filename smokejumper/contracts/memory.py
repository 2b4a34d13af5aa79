"""Conversation memory: is purging configured for a conversation, and purge it."""

from __future__ import annotations

from smokejumper.contracts.base import Contract, Rehearsal
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.memory import MemoryAction, MemoryPlan, MemoryQuery


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
PURGE_MEMORY = Contract(
    "purge_memory",
    MemoryAction,
    ActionResult,
    rehearse=rehearsed_action("purge_memory"),
    description="Delete the conversation's memory and cache entries (not reversible).",
)
