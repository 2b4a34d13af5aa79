"""Recording the post-incident report: rendered (Markdown, redacted) and kept as evidence,
so the incident carries the report as it stood when its playbook finished, with a hash."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from activities.evidence import EvidenceActivities
from smokejumper.config import Settings
from smokejumper.contracts.evidence import RECORD_REPORT
from smokejumper.domain.evidence import EvidenceCapture
from smokejumper.domain.response import KeptEvidence
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.reports.render import incident_report
from smokejumper.store.db import Store


class ReportActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.evidence = EvidenceActivities(store, settings)

    @RECORD_REPORT.implementation
    async def record_report(self, incident_id: int) -> KeptEvidence:
        """Render the report and keep it as the evidence item `incident-report`."""
        return await asyncio.to_thread(self._record, incident_id)

    def _record(self, incident_id: int) -> KeptEvidence:
        redactor = redactor_for(self.store, self.settings)
        text = incident_report(self.store, incident_id, "md", redactor, datetime.now(UTC))
        ref = self.evidence.capture_many(
            [
                EvidenceCapture(
                    incident_id=incident_id,
                    name="incident-report",
                    kind="report",
                    content=text,
                    captured_by="playbook",
                )
            ],
            redactor,
        )[0]
        return KeptEvidence(name=ref.name, sha256=ref.sha256, findings=ref.findings)
