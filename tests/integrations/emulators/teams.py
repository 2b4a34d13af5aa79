"""A Microsoft Teams channel's webhook (a Workflows "post to a channel when a webhook
request is received" flow, or a legacy incoming webhook).

    POST /workflows/{id}/triggers/manual/paths/invoke?...&sig=<signature>
         {"type": "message", "attachments": [{"contentType":
          "application/vnd.microsoft.card.adaptive", "content": <Adaptive Card>}]}
         202 (accepted)

Documented at
https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook
(the message and attachment shape), https://learn.microsoft.com/en-us/connectors/teams/
(Workflows webhooks: the URL's `sig` query parameter authenticates; a wrong one is 401) and
https://adaptivecards.io/explorer/AdaptiveCard.html (`type` AdaptiveCard, a `version`,
`body` elements each with a `type`; Teams renders up to version 1.5).
"""

from __future__ import annotations

import secrets
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")


class TeamsWebhook(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.flow = secrets.token_hex(16)
        self.signature = secrets.token_urlsafe(32)
        self.cards: list[dict[str, Any]] = []
        self.route(
            "POST", r"/workflows/(?P<flow>[0-9a-f]+)/triggers/manual/paths/invoke", self._post
        )

    @property
    def webhook_url(self) -> str:
        return (
            f"{self.url}/workflows/{self.flow}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}"
        )

    def authorised(self, headers: Any) -> bool:
        return True  # The URL's signature authenticates (checked per request).

    def _post(self, request: Request) -> Answer:
        if request.match["flow"] != self.flow or request.query.get("sig") != self.signature:
            return self.error(401, "The provided signature is invalid.")
        body = request.body
        if not isinstance(body, dict) or body.get("type") != "message":
            return self.error(400, "'type' must be 'message'")
        attachments = body.get("attachments")
        if not isinstance(attachments, list) or not attachments:
            return self.error(400, "'attachments' must hold at least one card")
        for attachment in attachments:
            if not isinstance(attachment, dict) or attachment.get("contentType") != CARD_TYPE:
                return self.error(400, f"attachment contentType must be {CARD_TYPE}")
            card = attachment.get("content")
            if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
                return self.error(400, "attachment content must be an AdaptiveCard")
            if card.get("version") not in SUPPORTED_VERSIONS:
                return self.error(400, "AdaptiveCard version must be 1.0 to 1.5")
            if not all(isinstance(e, dict) and "type" in e for e in card.get("body", [])):
                return self.error(400, "every body element needs a type")
        self.cards.extend(a["content"] for a in attachments)
        return 202, None
