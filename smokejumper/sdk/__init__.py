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
from smokejumper.contracts.evidence import (
    CAPTURE_EVIDENCE,
    CAPTURE_QUERY_LOG,
    CAPTURE_TOOL_CALLS,
    RECORD_REPORT,
)
from smokejumper.contracts.integrity import VERIFY_INTEGRITY
from smokejumper.contracts.keys import (
    KEYS_AT_MOST,
    KEYS_IN_A_BATCH,
    KEYS_ONE_BY_ONE,
    RESTORE_KEY,
    RESTORE_KEYS,
    REVOKE_KEY,
    REVOKE_KEYS,
    REVOKE_LEAKED_KEYS,
    batch_step,
    revoke_step,
)
from smokejumper.contracts.memory import MEMORY_PURGE_PLAN, PURGE_MEMORY, SNAPSHOT_MEMORY
from smokejumper.contracts.models import RESTORE_MODEL, ROLLBACK_MODEL
from smokejumper.contracts.prompts import (
    ASSESS_PROMPT_LEAK,
    CHECK_CANARY,
    PROMPT_PLAN,
    RESTORE_PROMPT,
    ROTATE_PROMPT,
)
from smokejumper.contracts.retest import RETEST
from smokejumper.contracts.retrieval import (
    RESTORE_RETRIEVAL_INDEX,
    RETRIEVAL_INDEX_PLAN,
    SWEEP_RETRIEVAL_INDEX,
)
from smokejumper.contracts.suppliers import NOTIFY_SUPPLIERS
from smokejumper.domain.alerts import AlertKind, Severity
from smokejumper.domain.containment import (
    ActionResult,
    DocumentAction,
    EndpointAction,
    FilterRuleAction,
    KeyAction,
    KeysAction,
    KeysResult,
    ModelAction,
    PrincipalAction,
    RevokedOnSight,
)
from smokejumper.domain.evidence import EvidenceCapture, EvidenceRef
from smokejumper.domain.incidents import IncidentStart, IncidentState, IncidentStatus
from smokejumper.domain.integrity import (
    DigestCheck,
    DigestVerdict,
    IntegrityQuery,
    IntegrityReport,
)
from smokejumper.domain.memory import KeptMemory, MemoryAction, MemoryPlan, MemoryQuery
from smokejumper.domain.prompts import (
    CanaryCheck,
    CanaryQuery,
    PromptAction,
    PromptPlan,
    PromptQuery,
)
from smokejumper.domain.query_logs import KeptQueryLog, QueryLogRequest
from smokejumper.domain.response import (
    DOCUMENTS_AT_MOST,
    EndpointInfo,
    IncidentContext,
    InventoryContext,
    InventoryQuery,
    KeptEvidence,
    KeyRef,
    LeakAssessment,
    ToolCallsRequest,
)
from smokejumper.domain.retest import RetestRequest, RetestResult
from smokejumper.domain.retrieval import (
    RetrievalPlan,
    RetrievalQuery,
    RetrievalSweep,
    SweepCounts,
)
from smokejumper.domain.routing import Route
from smokejumper.domain.suppliers import ComponentRef, SupplierNotice, SuppliersTold
from smokejumper.domain.tasks import TaskResult
from smokejumper.sdk.approvals import Choice, Decision, Escalation, Fallback
from smokejumper.sdk.attempts import failure_message
from smokejumper.sdk.clocks import ClockBasis, ClockKind, StopClock
from smokejumper.sdk.playbook import OnFailure, Playbook, PlaybookAborted, playbook

__all__ = [
    "ADD_FILTER_RULE",
    "ASSESS_LEAK",
    "ASSESS_PROMPT_LEAK",
    "BLOCK_PRINCIPAL",
    "CAPTURE_EVIDENCE",
    "CAPTURE_QUERY_LOG",
    "CAPTURE_TOOL_CALLS",
    "CHECK_CANARY",
    "CONTAINMENT",
    "DOCUMENTS_AT_MOST",
    "INCIDENT_CONTEXT",
    "INVENTORY_CONTEXT",
    "ISOLATE_ENDPOINT",
    "KEYS_AT_MOST",
    "KEYS_IN_A_BATCH",
    "KEYS_ONE_BY_ONE",
    "MEMORY_PURGE_PLAN",
    "NOTIFY_SUPPLIERS",
    "PROMPT_PLAN",
    "PURGE_MEMORY",
    "QUARANTINE_DOCUMENT",
    "RECORD_REPORT",
    "RELEASE_DOCUMENT",
    "REMOVE_FILTER_RULE",
    "RESTORE_ENDPOINT",
    "RESTORE_KEY",
    "RESTORE_KEYS",
    "RESTORE_MODEL",
    "RESTORE_PROMPT",
    "RESTORE_RETRIEVAL_INDEX",
    "RETEST",
    "RETRIEVAL_INDEX_PLAN",
    "REVOKE_KEY",
    "REVOKE_KEYS",
    "REVOKE_LEAKED_KEYS",
    "ROLLBACK_MODEL",
    "ROTATE_PROMPT",
    "SNAPSHOT_MEMORY",
    "STORE",
    "SWEEP_RETRIEVAL_INDEX",
    "UNBLOCK_PRINCIPAL",
    "VERIFY_INTEGRITY",
    "ActionResult",
    "AlertKind",
    "CanaryCheck",
    "CanaryQuery",
    "Choice",
    "ClockBasis",
    "ClockKind",
    "ComponentRef",
    "Contract",
    "Decision",
    "DigestCheck",
    "DigestVerdict",
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
    "IntegrityQuery",
    "IntegrityReport",
    "InventoryContext",
    "InventoryQuery",
    "KeptEvidence",
    "KeptMemory",
    "KeptQueryLog",
    "KeyAction",
    "KeyRef",
    "KeysAction",
    "KeysResult",
    "LeakAssessment",
    "MemoryAction",
    "MemoryPlan",
    "MemoryQuery",
    "ModelAction",
    "OnFailure",
    "Playbook",
    "PlaybookAborted",
    "PrincipalAction",
    "PromptAction",
    "PromptPlan",
    "PromptQuery",
    "QueryLogRequest",
    "Rehearsal",
    "RetestRequest",
    "RetestResult",
    "RetrievalPlan",
    "RetrievalQuery",
    "RetrievalSweep",
    "RetryClass",
    "RevokedOnSight",
    "Route",
    "Severity",
    "StopClock",
    "SupplierNotice",
    "SuppliersTold",
    "SweepCounts",
    "TaskResult",
    "ToolCallsRequest",
    "batch_step",
    "failure_message",
    "playbook",
    "revoke_step",
]
