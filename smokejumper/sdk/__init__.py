"""The playbook SDK: everything a playbook author imports, from one place.

    from smokejumper.sdk import REVOKE_KEY, AlertKind, KeyAction, Playbook, Route, playbook

The engine core is passed through the workflow sandbox by the worker, so a playbook module
needs no `imports_passed_through` block.
"""

from smokejumper.contracts.assessment import ASSESS_LEAK, INCIDENT_CONTEXT, INVENTORY_CONTEXT
from smokejumper.contracts.base import CONTAINMENT, STORE, Contract, Rehearsal, RetryClass
from smokejumper.contracts.controls import (
    ADD_FILTER_RULE,
    BLOCK_PRINCIPAL,
    QUARANTINE_DOCUMENT,
    RELEASE_DOCUMENT,
    REMOVE_FILTER_RULE,
    UNBLOCK_PRINCIPAL,
)
from smokejumper.contracts.endpoints import ISOLATE_ENDPOINT, RESTORE_ENDPOINT
from smokejumper.contracts.evidence import CAPTURE_EVIDENCE, CAPTURE_TOOL_CALLS, RECORD_REPORT
from smokejumper.contracts.keys import RESTORE_KEY, REVOKE_KEY
from smokejumper.contracts.memory import MEMORY_PURGE_PLAN, PURGE_MEMORY, SNAPSHOT_MEMORY
from smokejumper.contracts.models import RESTORE_MODEL, ROLLBACK_MODEL
from smokejumper.domain.alerts import AlertKind, Severity
from smokejumper.domain.containment import (
    ActionResult,
    DocumentAction,
    EndpointAction,
    FilterRuleAction,
    KeyAction,
    ModelAction,
    PrincipalAction,
)
from smokejumper.domain.evidence import EvidenceCapture, EvidenceRef
from smokejumper.domain.incidents import IncidentStart, IncidentState, IncidentStatus
from smokejumper.domain.memory import KeptMemory, MemoryAction, MemoryPlan, MemoryQuery
from smokejumper.domain.response import (
    EndpointInfo,
    IncidentContext,
    InventoryContext,
    InventoryQuery,
    KeptEvidence,
    KeyRef,
    LeakAssessment,
    ToolCallsRequest,
)
from smokejumper.domain.routing import Route
from smokejumper.sdk.approvals import Choice, Decision, Escalation, Fallback
from smokejumper.sdk.clocks import ClockBasis, ClockKind, StopClock
from smokejumper.sdk.playbook import OnFailure, Playbook, PlaybookAborted, playbook

__all__ = [
    "ADD_FILTER_RULE",
    "ASSESS_LEAK",
    "BLOCK_PRINCIPAL",
    "CAPTURE_EVIDENCE",
    "CAPTURE_TOOL_CALLS",
    "CONTAINMENT",
    "INCIDENT_CONTEXT",
    "INVENTORY_CONTEXT",
    "ISOLATE_ENDPOINT",
    "MEMORY_PURGE_PLAN",
    "PURGE_MEMORY",
    "QUARANTINE_DOCUMENT",
    "RECORD_REPORT",
    "RELEASE_DOCUMENT",
    "REMOVE_FILTER_RULE",
    "RESTORE_ENDPOINT",
    "RESTORE_KEY",
    "RESTORE_MODEL",
    "REVOKE_KEY",
    "ROLLBACK_MODEL",
    "SNAPSHOT_MEMORY",
    "STORE",
    "UNBLOCK_PRINCIPAL",
    "ActionResult",
    "AlertKind",
    "Choice",
    "ClockBasis",
    "ClockKind",
    "Contract",
    "Decision",
    "DocumentAction",
    "EndpointAction",
    "EndpointInfo",
    "Escalation",
    "EvidenceCapture",
    "EvidenceRef",
    "Fallback",
    "FilterRuleAction",
    "IncidentContext",
    "IncidentStart",
    "IncidentState",
    "IncidentStatus",
    "InventoryContext",
    "InventoryQuery",
    "KeptEvidence",
    "KeptMemory",
    "KeyAction",
    "KeyRef",
    "LeakAssessment",
    "MemoryAction",
    "MemoryPlan",
    "MemoryQuery",
    "ModelAction",
    "OnFailure",
    "Playbook",
    "PlaybookAborted",
    "PrincipalAction",
    "Rehearsal",
    "RetryClass",
    "Route",
    "Severity",
    "StopClock",
    "ToolCallsRequest",
    "playbook",
]
