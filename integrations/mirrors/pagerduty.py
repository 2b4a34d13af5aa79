"""PagerDuty, through the Events API v2: a page per incident at or above the configured
severity (dedup_key = the incident ref), acknowledged and resolved as the incident is.

https://developer.pagerduty.com/docs/events-api-v2/overview
https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty

Plain httpx rather than `pdpyras`/`pagerduty`: the Events API is one POST, and those
clients retry on their own, which would fight the relay's retry policy (the one owner of
retrying), and use `requests`, a second HTTP stack.
"""

from __future__ import annotations

from typing import Any

import httpx

from integrations.mirrors.base import (
    FINISHED,
    WORKED_ON,
    ExternalRef,
    IncidentFacts,
    MirrorEvent,
    Refs,
    at_least,
)
from integrations.mirrors.http import call
from smokejumper.settings.mirrors import PagerDutySettings

SYSTEM = "pagerduty"
# Our severities → the Events API's four.
SEVERITY = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "info": "info",
}
_SUMMARY_LIMIT = 1024


class PagerDutyMirror:
    system = SYSTEM

    def __init__(self, settings: PagerDutySettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            base_url=settings.events_url.rstrip("/"), timeout=settings.timeout_seconds
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def deliver(self, incident: IncidentFacts, event: MirrorEvent, refs: Refs) -> str | None:
        paged = refs.get() is not None
        if not paged:
            if incident.status in FINISHED or not at_least(
                incident.severity, self.settings.min_severity
            ):
                return None
            await self._send("trigger", incident, self._trigger_payload(incident))
            refs.keep(ExternalRef(incident.ref))
            if incident.status in WORKED_ON:
                await self._send("acknowledge", incident)
            return None
        if event.kind != "incident.status":
            return None
        to = str(event.data.get("to") or "")
        if to in FINISHED and event.data.get("from") not in FINISHED:
            await self._send("resolve", incident)
        elif to == "acknowledged":
            await self._send("acknowledge", incident)
        return None

    def _trigger_payload(self, incident: IncidentFacts) -> dict[str, Any]:
        return {
            "payload": {
                "summary": f"{incident.ref}: {incident.title}"[:_SUMMARY_LIMIT],
                "source": "smokejumper",
                "severity": SEVERITY.get(incident.severity, "info"),
                "timestamp": incident.opened_at.isoformat(),
                "component": incident.kind,
                "class": incident.kind,
                "custom_details": {
                    "incident": incident.ref,
                    "kind": incident.kind,
                    "severity": incident.severity,
                    "status": incident.status,
                },
            },
            "links": [{"href": incident.url, "text": f"{incident.ref} in smokejumper"}],
            "client": "smokejumper",
            "client_url": incident.url,
        }

    async def _send(
        self, action: str, incident: IncidentFacts, extra: dict[str, Any] | None = None
    ) -> None:
        body = {
            "routing_key": self.settings.routing_key.get_secret_value(),
            "event_action": action,
            "dedup_key": incident.ref,
            **(extra or {}),
        }
        await call(self.client, "POST", "/v2/enqueue", system=SYSTEM, operation=action, json=body)
