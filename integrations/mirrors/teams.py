"""Microsoft Teams: one Adaptive Card (1.5) per incident, posted to a channel's Workflows
webhook (or a legacy incoming webhook) as an attachment of content type
`application/vnd.microsoft.card.adaptive`.

https://learn.microsoft.com/en-us/connectors/teams/?tabs=text1#microsoft-teams-webhook
https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook
https://adaptivecards.io/explorer/AdaptiveCard.html

A webhook cannot update what it posted, so the card is posted once, when the incident
first reaches the tool, and links to the console for what follows.
"""

from __future__ import annotations

from typing import Any

import httpx

from integrations.mirrors.base import ExternalRef, IncidentFacts, MirrorEvent, Refs, at_least
from integrations.mirrors.http import call
from smokejumper.settings.mirrors import TeamsSettings

SYSTEM = "teams"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
_COLOR = {"critical": "Attention", "high": "Attention", "medium": "Warning"}


def inert(text: str) -> str:
    """Alert text as text: TextBlocks render Markdown, and a title must not become a link
    (a word joiner keeps `[text](url)` from parsing)."""
    return text.replace("](", "]\u2060(")


def card(incident: IncidentFacts) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": CARD_TYPE,
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.5",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": f"{incident.severity.upper()} {incident.ref}",
                            "weight": "Bolder",
                            "size": "Medium",
                            "color": _COLOR.get(incident.severity, "Default"),
                        },
                        {"type": "TextBlock", "text": inert(incident.title), "wrap": True},
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "Kind", "value": incident.kind},
                                {"title": "Severity", "value": incident.severity},
                                {"title": "Status", "value": incident.status},
                            ],
                        },
                    ],
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "Open in smokejumper",
                            "url": incident.url,
                        }
                    ],
                },
            }
        ],
    }


class TeamsMirror:
    system = SYSTEM

    def __init__(self, settings: TeamsSettings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(timeout=settings.timeout_seconds)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def deliver(self, incident: IncidentFacts, event: MirrorEvent, refs: Refs) -> str | None:
        if refs.get() is not None or not at_least(incident.severity, self.settings.min_severity):
            return None
        await call(
            self.client,
            "POST",
            self.settings.webhook_url.get_secret_value(),
            system=SYSTEM,
            operation="post card",
            json=card(incident),
        )
        refs.keep(ExternalRef(incident.ref))
        return None
