"""Opsgenie, through its Alert API: an alert per incident at or above the configured
severity (alias = the incident ref), acknowledged and closed as the incident is, its
notes added to the alert.

https://docs.opsgenie.com/docs/alert-api
https://docs.opsgenie.com/docs/authentication

Plain httpx: the official `opsgenie-sdk` is a generated synchronous client, no longer
maintained; these are four POSTs.
"""

from __future__ import annotations

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
from smokejumper.settings.mirrors import OpsgenieSettings

SYSTEM = "opsgenie"
PRIORITY = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4", "info": "P5"}
_MESSAGE_LIMIT = 130
_NOTE_LIMIT = 25000


class OpsgenieMirror:
    system = SYSTEM

    def __init__(self, settings: OpsgenieSettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/"),
            timeout=settings.timeout_seconds,
            headers={"authorization": f"GenieKey {settings.api_key.get_secret_value()}"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def deliver(self, incident: IncidentFacts, event: MirrorEvent, refs: Refs) -> str | None:
        if refs.get() is None:
            if incident.status in FINISHED or not at_least(
                incident.severity, self.settings.min_severity
            ):
                return None
            await self._create(incident)
            refs.keep(ExternalRef(incident.ref))
            if incident.status in WORKED_ON:
                await self._act(incident, "acknowledge", {"source": "smokejumper"})
            return None
        if event.kind == "incident.status":
            to = str(event.data.get("to") or "")
            if to in FINISHED and event.data.get("from") not in FINISHED:
                await self._act(incident, "close", {"source": "smokejumper", "note": to})
            elif to == "acknowledged":
                await self._act(incident, "acknowledge", {"source": "smokejumper"})
        elif event.kind == "note.added":
            note = str(event.data.get("text") or event.message)
            await self._act(
                incident,
                "notes",
                {"note": f"{event.actor}: {note}"[:_NOTE_LIMIT], "source": "smokejumper"},
            )
        return None

    async def _create(self, incident: IncidentFacts) -> None:
        await call(
            self.client,
            "POST",
            "/v2/alerts",
            system=SYSTEM,
            operation="create alert",
            json={
                "message": f"{incident.ref}: {incident.title}"[:_MESSAGE_LIMIT],
                "alias": incident.ref,
                "description": f"{incident.title}\n{incident.kind}, severity "
                f"{incident.severity}\n{incident.url}",
                "source": "smokejumper",
                "tags": ["smokejumper", incident.kind],
                "details": {"incident": incident.ref, "url": incident.url},
                "priority": PRIORITY.get(incident.severity, "P3"),
            },
        )

    async def _act(self, incident: IncidentFacts, action: str, body: dict[str, str]) -> None:
        await call(
            self.client,
            "POST",
            f"/v2/alerts/{incident.ref}/{action}",
            system=SYSTEM,
            operation=action,
            params={"identifierType": "alias"},
            json=body,
        )
