"""Opsgenie's Alert API, the calls a mirror makes.

    POST /v2/alerts                                   202 {"result", "took", "requestId"}
    POST /v2/alerts/{identifier}/acknowledge?identifierType=alias|id|tiny   202
    POST /v2/alerts/{identifier}/close?identifierType=...                   202
    POST /v2/alerts/{identifier}/notes?identifierType=...   ({"note"})      202

Documented at https://docs.opsgenie.com/docs/alert-api,
https://docs.opsgenie.com/docs/alert-api#create-alert (`message` required, at most 130
characters; `alias` at most 512; `priority` P1 to P5),
https://docs.opsgenie.com/docs/alert-api#acknowledge-alert,
https://docs.opsgenie.com/docs/alert-api#close-alert,
https://docs.opsgenie.com/docs/alert-api-continued#add-note-to-alert (`note` required) and
https://docs.opsgenie.com/docs/authentication (`Authorization: GenieKey <api key>`).
Requests are processed asynchronously, so an action on an unknown alert is accepted (202)
and does nothing, as Opsgenie does; a malformed request is 422 with `{"message", "errors"}`.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.integrations.emulators.base import Answer, Emulator, Request

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


class OpsgenieAlerts(Emulator):
    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        # alias → the alert: message, priority, status (open, acked, closed), notes.
        self.alerts: dict[str, dict[str, Any]] = {}
        self.route("POST", "/v2/alerts", self._create)
        self.route(
            "POST", r"/v2/alerts/(?P<id>[^/]+)/(?P<action>acknowledge|close|notes)", self._act
        )

    def authorised(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"GenieKey {self.api_key}")

    def error(self, status: int, message: str) -> Answer:
        return status, {"message": message, "took": 0.001, "requestId": str(uuid.uuid4())}

    def _accepted(self) -> Answer:
        return 202, {
            "result": "Request will be processed",
            "took": 0.002,
            "requestId": str(uuid.uuid4()),
        }

    def _invalid(self, errors: dict[str, str]) -> Answer:
        status, body = self.error(422, "Request has validation errors")
        return status, {**body, "errors": errors}

    def _create(self, request: Request) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        errors: dict[str, str] = {}
        message = body.get("message")
        if not isinstance(message, str) or not message.strip():
            errors["message"] = "Message can not be empty."
        elif len(message) > 130:
            errors["message"] = "Message can not be longer than 130 characters."
        alias = body.get("alias")
        if alias is not None and (not isinstance(alias, str) or len(alias) > 512):
            errors["alias"] = "Alias can not be longer than 512 characters."
        if "priority" in body and body["priority"] not in PRIORITIES:
            errors["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]."
        if errors:
            return self._invalid(errors)
        key = alias or str(uuid.uuid4())
        known = self.alerts.get(key)
        if known is not None and known["status"] != "closed":
            known["count"] += 1  # Deduplicated on the alias.
        else:
            self.alerts[key] = {**body, "status": "open", "notes": [], "count": 1}
        return self._accepted()

    def _act(self, request: Request) -> Answer:
        kind = request.query.get("identifierType", "id")
        if kind not in ("id", "alias", "tiny"):
            return self._invalid({"identifierType": "Invalid identifierType."})
        body = request.body if isinstance(request.body, dict) else {}
        action = request.match["action"]
        if action == "notes" and not str(body.get("note") or "").strip():
            return self._invalid({"note": "Note can not be empty."})
        alert = self.alerts.get(request.match["id"]) if kind == "alias" else None
        if alert is not None:
            if action == "acknowledge" and alert["status"] == "open":
                alert["status"] = "acked"
            elif action == "close":
                alert["status"] = "closed"
            elif action == "notes":
                alert["notes"].append(body["note"])
        return self._accepted()

    def status(self, alias: str) -> str | None:
        with self._lock:
            alert = self.alerts.get(alias)
            return None if alert is None else str(alert["status"])
