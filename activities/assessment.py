"""Looking before acting: what an incident's alerts say (`incident_context`), what leaked
(`assess_leak`) and which tool calls an agent made (`capture_tool_calls`).

These read the raw alerts from the store and hand the workflow only identifiers, counts,
hashes and redacted previews: raw evidence goes to the evidence store (through the evidence
activity's capture, so it is hashed and deduplicated the same way) and never into a
workflow history, a log line or a notification.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.actions import heartbeating
from activities.evidence import EvidenceActivities
from smokejumper.assessment import categories_of, context_of, json_tool_calls, leak_of
from smokejumper.config import Settings
from smokejumper.contracts.assessment import ASSESS_LEAK, INCIDENT_CONTEXT
from smokejumper.contracts.evidence import CAPTURE_TOOL_CALLS
from smokejumper.contracts.keys import KEYS_AT_MOST
from smokejumper.domain.evidence import EvidenceCapture
from smokejumper.domain.response import (
    IncidentContext,
    KeptEvidence,
    KeyRef,
    LeakAssessment,
    ToolCallsRequest,
    listed_evidence,
)
from smokejumper.inventory.key_prefixes import key_prefixes, redactor_for
from smokejumper.leakage import LeakClassifier
from smokejumper.store.db import Store
from smokejumper.store.tables import AlertRow, Incident, InventoryApiKey

_LOOKED_UP_AT_ONCE = 10_000


class AssessmentActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.evidence = EvidenceActivities(store, settings)
        # Built again only when the inventory's prefixes change: compiling a classifier for
        # hundreds of key formats costs more than classifying one alert.
        self._classifier: tuple[tuple[tuple[str, str], ...], LeakClassifier] | None = None

    def _alerts(self, incident_id: int) -> tuple[Incident, list[dict[str, Any]], list[str]]:
        with self.store.session() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise ApplicationError(
                    f"no incident {incident_id}", type="UnknownIncident", non_retryable=True
                )
            rows = session.scalars(
                select(AlertRow)
                .where(AlertRow.incident_id == incident_id)
                .order_by(AlertRow.received_at, AlertRow.id)
            ).all()
            session.expunge(incident)
            return incident, [dict(row.normalized) for row in rows], [row.id for row in rows]

    def _capture(self, incident_id: int, pieces: list[tuple[str, str, str]]) -> list[KeptEvidence]:
        """(name, kind, content) pieces as evidence of the incident, in one write."""
        # Previews are redacted with the inventory's key formats too (read now: the
        # inventory changes while the worker runs).
        refs = self.evidence.capture_many(
            [
                EvidenceCapture(
                    incident_id=incident_id,
                    name=name,
                    kind=kind,
                    content=content,
                    captured_by="playbook",
                )
                for name, kind, content in pieces
            ],
            redactor_for(self.store, self.settings),
        )
        return [
            KeptEvidence(name=ref.name, sha256=ref.sha256, findings=ref.findings) for ref in refs
        ]

    @INCIDENT_CONTEXT.implementation
    async def incident_context(self, incident_id: int) -> IncidentContext:
        """Who, what and how, from the incident and its alerts (no evidence content)."""
        return await asyncio.to_thread(self._context, incident_id)

    def _context(self, incident_id: int) -> IncidentContext:
        incident, alerts, _ = self._alerts(incident_id)
        return context_of(
            incident_id=incident.id,
            ref=incident.ref or str(incident.id),
            kind=incident.kind,
            severity=incident.severity,
            alerts=alerts,
        )

    @ASSESS_LEAK.implementation
    async def assess_leak(self, incident_id: int) -> LeakAssessment:
        """Capture every alert's prompt and response as evidence and classify what the
        responses (or, for a prompt-side DLP alert, the prompts) gave away."""
        return await heartbeating(asyncio.to_thread(self._assess, incident_id))

    def _assess(self, incident_id: int) -> LeakAssessment:
        incident, alerts, ids = self._alerts(incident_id)
        evidence = self._capture(
            incident_id,
            [
                (f"alert-{alert_id[:8]}-{field}", f"alert.{field}", text)
                for alert, alert_id in zip(alerts, ids, strict=True)
                for field in ("prompt", "response")
                if (text := (alert.get("evidence") or {}).get(field))
            ],
        )
        counts, key_ids, elicited = leak_of(incident.kind, alerts, self.classifier())
        keys = self._keys(key_ids)
        return LeakAssessment(
            incident_id=incident_id,
            categories=categories_of(counts),
            kinds=sorted(counts),
            keys=keys[:KEYS_AT_MOST],
            keys_left_out=max(0, len(keys) - KEYS_AT_MOST),
            elicited=elicited,
            evidence=listed_evidence(evidence),
            evidence_count=len(evidence),
        )

    def classifier(self) -> LeakClassifier:
        """The configured patterns and the inventory's key prefixes as they are now."""
        prefixes = tuple(sorted(key_prefixes(self.store).items()))
        if self._classifier is None or self._classifier[0] != prefixes:
            built = LeakClassifier(self.settings.evidence.redaction_patterns, dict(prefixes))
            self._classifier = (prefixes, built)
        return self._classifier[1]

    def leaked_keys(self, incident_id: int) -> list[KeyRef]:
        """The keys in the incident's leaked output, found without keeping anything: the
        first look at a leak, before its evidence is captured."""
        incident, alerts, _ = self._alerts(incident_id)
        _, key_ids, _ = leak_of(incident.kind, alerts, self.classifier())
        return self._keys(key_ids)[:KEYS_AT_MOST]

    def _keys(self, key_ids: set[str]) -> list[KeyRef]:
        """Leaked key ids with the provider that can revoke them: the inventory's, or AWS
        IAM for an access key id the inventory does not list. The inventory's keys come
        first (then by id): they are revoked first, on sight and a step each, however many
        key-shaped strings (`AKIA…` sorts before `sk-…`) the output holds besides."""
        wanted = sorted(key_ids)
        known: dict[str, str] = {}
        with self.store.session() as session:
            # In slices: PostgreSQL takes at most 65,535 bound values in a statement.
            for start in range(0, len(wanted), _LOOKED_UP_AT_ONCE):
                ids = wanted[start : start + _LOOKED_UP_AT_ONCE]
                for row in session.scalars(
                    select(InventoryApiKey).where(InventoryApiKey.key_id.in_(ids))
                ):
                    known[row.key_id] = row.provider
        return [
            KeyRef(provider=known.get(key_id, "aws_iam"), key_id=key_id)
            for key_id in sorted(key_ids, key=lambda key_id: (key_id not in known, key_id))
        ]

    @CAPTURE_TOOL_CALLS.implementation
    async def capture_tool_calls(self, request: ToolCallsRequest) -> KeptEvidence | None:
        """The tool calls the agent made in the alerts' window, as one piece of evidence."""
        return await asyncio.to_thread(self._capture_tool_calls, request)

    def _capture_tool_calls(self, request: ToolCallsRequest) -> KeptEvidence | None:
        _, alerts, ids = self._alerts(request.incident_id)
        content = json_tool_calls(alerts, ids)
        if not content:
            return None
        return self._capture(request.incident_id, [("tool-calls", "tool_calls", content)])[0]
