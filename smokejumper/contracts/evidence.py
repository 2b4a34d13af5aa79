"""Evidence: capture content into the evidence store, the tool calls of an agent, and the
post-incident report."""

from __future__ import annotations

from datetime import UTC, datetime

from smokejumper.contracts.base import Contract, Rehearsal
from smokejumper.domain.evidence import EvidenceCapture, EvidenceRef
from smokejumper.domain.query_logs import KeptQueryLog, QueryLogRequest
from smokejumper.domain.response import KeptEvidence, ToolCallsRequest


def _rehearsed_capture(capture: EvidenceCapture, rehearsal: Rehearsal) -> EvidenceRef:
    # Nothing is stored: the reference says so, and carries no preview of the content.
    return EvidenceRef(
        incident_id=capture.incident_id,
        name=capture.name,
        kind=capture.kind,
        evidence_key=f"{capture.incident_id}:evidence:{capture.name}:rehearsed",
        sha256="",
        size=len(capture.content),
        uri="rehearsal:",
        redacted_preview="",
        captured_at=rehearsal.alert.occurred_at if rehearsal.alert else datetime.now(UTC),
        captured_by=capture.captured_by,
    )


CAPTURE_EVIDENCE = Contract(
    "capture_evidence",
    EvidenceCapture,
    EvidenceRef,
    rehearse=_rehearsed_capture,
    description="Keep content in the evidence store: hashed, redacted preview outside it.",
)
# A union is not a `type` to mypy: the result is annotated on the contract instead.
CAPTURE_TOOL_CALLS: Contract[ToolCallsRequest, KeptEvidence | None] = Contract(
    "capture_tool_calls",
    ToolCallsRequest,
    KeptEvidence | None,  # type: ignore[arg-type]
    description="Keep the tool calls the alerts report as evidence (None when there are none).",
)


def _rehearsed_query_log(request: QueryLogRequest, _: Rehearsal) -> KeptQueryLog:
    # A dry run cannot see the worker's [query_logs]: it rehearses a capture that applies.
    return KeptQueryLog(
        configured=True,
        source="rehearsal",
        window_start=request.first_seen,
        window_end=request.until,
        scanned=3,
        matched=2,
        kept=2,
        evidence=[request.name],
        sha256=[""],
    )


CAPTURE_QUERY_LOG = Contract(
    "capture_query_log",
    QueryLogRequest,
    KeptQueryLog,
    rehearse=_rehearsed_query_log,
    description="Keep the principal's requests in the incident's window from the "
    "application's query log as evidence.",
)
RECORD_REPORT = Contract(
    "record_report",
    int,
    KeptEvidence,
    rehearse=lambda incident_id, rehearsal: KeptEvidence(name=f"report-{rehearsal.ref}", sha256=""),
    description="Write the post-incident report as it stands and keep it as evidence.",
    reads_timeline=True,
)
