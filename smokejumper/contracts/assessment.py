"""Looking before acting: the incident's context from its alerts, what leaked, and what the
inventory knows about the target."""

from __future__ import annotations

from datetime import timedelta

from smokejumper.contracts.base import CONTAINMENT, Contract, RetryClass
from smokejumper.contracts.rehearsals import rehearsed_context, rehearsed_leak
from smokejumper.domain.response import (
    IncidentContext,
    InventoryContext,
    InventoryQuery,
    LeakAssessment,
)

# Keeping a storm's evidence takes seconds per thousand alerts (10,000 alerts: 6.5 s on
# SQLite, 11.7 s on PostgreSQL, on an idle 2-core machine), more under the load a storm
# brings: containment's 20 s would time out, and each retry would redo it beside the first.
# It heartbeats, so a killed worker's attempt is taken over within the heartbeat timeout.
ASSESSING = RetryClass(
    "assessment", CONTAINMENT.policy, timedelta(minutes=5), timedelta(seconds=30)
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
    retry=ASSESSING,
    rehearse=rehearsed_leak,
    description="Capture and hash the leaked output, and classify what left.",
)
INVENTORY_CONTEXT = Contract(
    "inventory_context",
    InventoryQuery,
    InventoryContext,
    description="Owners, keys, endpoints and last known good version of the target.",
)
