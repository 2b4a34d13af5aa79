"""PagerDuty's Events API v2, and the V3 webhooks PagerDuty sends back.

    POST /v2/enqueue   {"routing_key", "event_action", "dedup_key", "payload", "links", ...}
                       202 {"status": "success", "message": "Event processed", "dedup_key"}
                       400 {"status": "invalid event", "message": "Event object is invalid",
                            "errors": [...]}

Documented at
https://developer.pagerduty.com/docs/events-api-v2/overview,
https://developer.pagerduty.com/docs/events-api-v2/trigger-events,
https://developer.pagerduty.com/docs/events-api-v2/acknowledge-events,
https://developer.pagerduty.com/docs/events-api-v2/resolve-events and
https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty:
the routing key (32 characters) authenticates, in the body; a trigger needs
`payload.summary` (at most 1024 characters), `payload.source` and `payload.severity`
(critical, error, warning or info); acknowledge and resolve need the `dedup_key` of an
alert; a dedup_key is at most 255 characters. An acknowledge or resolve of an unknown
dedup_key is accepted and does nothing, as PagerDuty does.

Webhooks: https://developer.pagerduty.com/docs/webhooks-overview (V3 payload,
`X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body under the subscription secret>`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")


class PagerDutyEvents(Emulator):
    def __init__(self, routing_key: str) -> None:
        super().__init__()
        assert len(routing_key) == 32
        self.routing_key = routing_key
        # dedup_key → the alert: status (triggered, acknowledged, resolved) and its trigger.
        self.alerts: dict[str, dict[str, Any]] = {}
        self.route("POST", "/v2/enqueue", self._enqueue)

    def authorised(self, headers: Any) -> bool:
        return True  # The routing key in the body authenticates.

    def error(self, status: int, message: str) -> Answer:
        return status, {"status": "error", "message": message, "errors": [message]}

    def _invalid(self, *errors: str) -> Answer:
        return 400, {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": list(errors),
        }

    def _enqueue(self, request: Request) -> Answer:
        event = request.body
        if not isinstance(event, dict):
            return self._invalid("Event object is invalid")
        if event.get("routing_key") != self.routing_key:
            return self._invalid("Invalid routing key")
        action = event.get("event_action")
        if action not in ACTIONS:
            return self._invalid(
                "'event_action' is invalid (must be one of trigger, acknowledge, resolve)"
            )
        dedup = event.get("dedup_key")
        if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
            return self._invalid("'dedup_key' must be a string of at most 255 characters")
        if action == "trigger":
            payload = event.get("payload")
            if not isinstance(payload, dict):
                return self._invalid("'payload' is missing")
            errors = []
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary:
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
            if not payload.get("source"):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append(
                    "'payload.severity' is invalid (must be one of critical, error, warning, info)"
                )
            if errors:
                return self._invalid(*errors)
            dedup = dedup or uuid.uuid4().hex
            alert = self.alerts.get(dedup)
            if alert is None or alert["status"] == "resolved":
                self.alerts[dedup] = {"status": "triggered", "trigger": event, "triggers": 1}
            else:
                alert["triggers"] += 1  # Deduplicated into the open alert.
        else:
            if not dedup:
                return self._invalid("'dedup_key' is required for " + str(action))
            alert = self.alerts.get(dedup)
            if alert is not None and alert["status"] != "resolved":
                alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup}

    def status(self, dedup_key: str) -> str | None:
        with self._lock:
            alert = self.alerts.get(dedup_key)
            return None if alert is None else str(alert["status"])


def webhook(
    event_type: str, dedup_key: str, secret: str, *, agent: str = "Dana Oncall"
) -> tuple[bytes, dict[str, str]]:
    """A V3 webhook delivery of an incident event: its body and headers, signed."""
    body = json.dumps(
        {
            "event": {
                "id": uuid.uuid4().hex[:26].upper(),
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": datetime.now(UTC).isoformat(),
                "agent": {
                    "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                    "id": "PLH1HKV",
                    "self": "https://api.pagerduty.com/users/PLH1HKV",
                    "summary": agent,
                    "type": "user_reference",
                },
                "client": None,
                "data": {
                    "id": "Q2LCNA5I0FG9XH",
                    "type": "incident",
                    "self": "https://api.pagerduty.com/incidents/Q2LCNA5I0FG9XH",
                    "html_url": "https://acme.pagerduty.com/incidents/Q2LCNA5I0FG9XH",
                    "number": 42,
                    "status": event_type.rsplit(".", 1)[-1],
                    "incident_key": dedup_key,
                    "title": "an incident",
                    "urgency": "high",
                },
            }
        }
    ).encode()
    return body, {"content-type": "application/json", **sign(body, secret)}


def sign(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-pagerduty-signature": f"v1={digest}"}
