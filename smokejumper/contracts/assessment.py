"""Looking before acting: the incident's context from its alerts, what leaked, and what the
inventory knows about the target."""

from __future__ import annotations

from smokejumper.contracts.base import Contract
from smokejumper.contracts.rehearsals import rehearsed_context, rehearsed_leak
from smokejumper.domain.response import (
    IncidentContext,
    InventoryContext,
    InventoryQuery,
    LeakAssessment,
)

INCIDENT_CONTEXT = Contract(
    "incident_context",
    int,
    IncidentContext,
    rehearse=rehearsed_context,
    description="What the incident's alerts say: target, principal, model, digests, usage.",
)
ASSESS_LEAK = Contract(
    "assess_leak",
    int,
    LeakAssessment,
    rehearse=rehearsed_leak,
    description="Capture and hash the leaked output, and classify what left.",
)
INVENTORY_CONTEXT = Contract(
    "inventory_context",
    InventoryQuery,
    InventoryContext,
    description="Owners, keys, endpoints and last known good version of the target.",
)
