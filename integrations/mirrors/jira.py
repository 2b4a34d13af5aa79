"""Jira Cloud, through REST v3: an issue per incident (project, issue type and fields from
the settings, description in ADF), its status moved by the configured transitions, and
the incident's notes added as comments.

https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/#api-rest-api-3-issue-issueidorkey-comment-post

Plain httpx rather than the `jira` package: that one is synchronous (requests), retries
on its own and reads server info at construction; three calls do not need it.
"""

from __future__ import annotations

from typing import Any

import httpx

from integrations.mirrors import adf
from integrations.mirrors.base import (
    ExternalRef,
    IncidentFacts,
    MirrorEvent,
    MirrorRefused,
    Refs,
)
from integrations.mirrors.http import call
from smokejumper.settings.mirrors import JIRA_COMMENT_MARK, JiraSettings

SYSTEM = "jira"
# What our comments start with, so the webhook of a comment we made is not taken back in.
COMMENT_MARK = JIRA_COMMENT_MARK
_SUMMARY_LIMIT = 255


class JiraMirror:
    system = SYSTEM

    def __init__(self, settings: JiraSettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            base_url=settings.url.rstrip("/"),
            timeout=settings.timeout_seconds,
            auth=(settings.email, settings.api_token.get_secret_value()),
            headers={"accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def deliver(self, incident: IncidentFacts, event: MirrorEvent, refs: Refs) -> str | None:
        issue = refs.get()
        if issue is None:
            issue = await self._create(incident)
            refs.keep(issue)
        key = issue.external_id
        if event.kind == "incident.status":
            to = str(event.data.get("to") or "")
            wanted = self.settings.transitions.get(to)
            if wanted:
                await self._transition(key, wanted)
            return None
        if event.kind == "note.added":
            return await self._comment(key, incident, event)
        return None

    async def _create(self, incident: IncidentFacts) -> ExternalRef:
        description = adf.document(
            adf.paragraph(adf.text(incident.title)),
            adf.paragraph(
                adf.text(f"{incident.kind}, severity {incident.severity}. "),
                adf.text(f"{incident.ref} in smokejumper", link=incident.url),
            ),
        )
        fields: dict[str, Any] = {
            **self.settings.fields,
            "project": {"key": self.settings.project},
            "issuetype": {"name": self.settings.issue_type},
            "summary": f"{incident.ref}: {incident.title}"[:_SUMMARY_LIMIT],
            "description": description,
        }
        labels = list(fields.get("labels") or []) if isinstance(fields.get("labels"), list) else []
        fields["labels"] = [*labels, "smokejumper", incident.ref]
        response = await call(
            self.client,
            "POST",
            "/rest/api/3/issue",
            system=SYSTEM,
            operation="create issue",
            json={"fields": fields},
        )
        created = response.json()
        key = str(created["key"])
        return ExternalRef(key, f"{self.settings.url.rstrip('/')}/browse/{key}")

    async def _transition(self, key: str, name: str) -> None:
        response = await call(
            self.client,
            "GET",
            f"/rest/api/3/issue/{key}/transitions",
            system=SYSTEM,
            operation="list transitions",
        )
        wanted = name.casefold()
        for transition in response.json().get("transitions", []):
            to = str((transition.get("to") or {}).get("name") or "").casefold()
            if str(transition.get("name", "")).casefold() == wanted or to == wanted:
                await call(
                    self.client,
                    "POST",
                    f"/rest/api/3/issue/{key}/transitions",
                    system=SYSTEM,
                    operation="transition",
                    json={"transition": {"id": str(transition["id"])}},
                )
                return
        # Already there (the change came from Jira), or a workflow without that step.
        raise MirrorRefused(f"jira transition: {key} offers no transition {name!r}")

    async def _comment(self, key: str, incident: IncidentFacts, event: MirrorEvent) -> str:
        note = str(event.data.get("text") or event.message)
        body = adf.document(adf.paragraph(adf.text(f"{COMMENT_MARK}{event.actor}: {note}")))
        response = await call(
            self.client,
            "POST",
            f"/rest/api/3/issue/{key}/comment",
            system=SYSTEM,
            operation="comment",
            json={"body": body},
        )
        return str(response.json().get("id") or "")
