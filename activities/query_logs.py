"""Keeping the query log of an extraction window as evidence: the principal's requests to
the application, read from the log its gateway writes (`[query_logs.<application>]`).

The evidence rows are the idempotency record: the same records make the same content, so a
retry stores nothing twice. A window still open (`until` is the capture's own time) is
fixed by the workflow, so a retry reads the same window.
"""

from __future__ import annotations

from datetime import timedelta

from activities.actions import failure, in_thread
from activities.evidence import EvidenceActivities
from integrations.query_logs.base import QueryLogError, select
from integrations.query_logs.registry import query_log
from smokejumper.config import Settings
from smokejumper.contracts.evidence import CAPTURE_QUERY_LOG
from smokejumper.domain.evidence import CONTENT_MAX, EvidenceCapture
from smokejumper.domain.query_logs import KeptQueryLog, QueryLogRequest
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.store.db import Store


class QueryLogActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.evidence = EvidenceActivities(store, settings)

    @CAPTURE_QUERY_LOG.implementation
    async def capture_query_log(self, request: QueryLogRequest) -> KeptQueryLog:
        """Keep the principal's requests in the window; not configured: say why."""
        try:
            return await in_thread(self._capture, request)
        except QueryLogError as exc:
            raise failure(exc) from None

    def _capture(self, request: QueryLogRequest) -> KeptQueryLog:
        app = request.application
        config = self.settings.query_logs.get(app) if app else None
        if config is None:
            return KeptQueryLog(
                reason=f"no [query_logs.{app}] is configured"
                if app
                else "the alerts name no application"
            )
        if request.principal_type is None or request.principal is None:
            return KeptQueryLog(reason="the alerts name no key, user or tenant")
        field = config.principal_fields.get(request.principal_type)
        if field is None:
            return KeptQueryLog(
                reason=f"[query_logs.{app}] names no field for a {request.principal_type}"
            )
        start = request.first_seen - timedelta(minutes=config.lookback_minutes)
        source = query_log(config)
        chosen = select(
            source.lines(start),
            start=start,
            end=request.until,
            timestamp_field=config.timestamp_field,
            principal_field=field,
            principal=request.principal,
            limit=config.max_records,
        )
        captures = [
            EvidenceCapture(
                incident_id=request.incident_id,
                name=request.name if index == 0 else f"{request.name}-{index + 1}",
                kind="query_log",
                content=piece,
                captured_by=f"activity:{CAPTURE_QUERY_LOG.name}",
            )
            for index, piece in enumerate(_pieces(chosen.records))
        ]
        refs = self.evidence.capture_many(captures, redactor_for(self.store, self.settings))
        return KeptQueryLog(
            configured=True,
            source=source.name,
            window_start=start,
            window_end=request.until,
            scanned=chosen.scanned,
            matched=chosen.matched,
            kept=len(chosen.records),
            unreadable=chosen.unreadable,
            evidence=[ref.name for ref in refs],
            sha256=[ref.sha256 for ref in refs],
        )


def _pieces(records: list[bytes]) -> list[str]:
    """JSONL pieces, each within what one piece of evidence keeps, records never split."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for raw in records:
        line = raw.decode("utf-8", errors="replace")[: CONTENT_MAX - 1]
        if current and size + len(line) + 1 > CONTENT_MAX:
            pieces.append("\n".join(current) + "\n")
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        pieces.append("\n".join(current) + "\n")
    return pieces
