"""Reading the demo engine: its API as the operator, and its store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from smokejumper.config import Settings
from smokejumper.security.operator import operator_token
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, Incident
from workers.demo.examples import DemoError, ExampleAlert


@dataclass
class Fired:
    alert: ExampleAlert
    incident: str
    playbook: str
    deduplicated: bool


class DemoApi:
    def __init__(self, settings: Settings) -> None:
        self.base = settings.api_url
        self.http = httpx.Client(
            base_url=self.base,
            headers={"authorization": f"Bearer {operator_token(settings)}"},
            timeout=30,
        )

    def close(self) -> None:
        self.http.close()

    def fire(self, alert: ExampleAlert) -> Fired:
        response = self.http.post(
            alert.api_path,
            content=alert.path.read_bytes(),
            headers={"content-type": "application/json"},
        )
        if response.status_code != 202:
            raise DemoError(
                f"{alert.name} was refused (HTTP {response.status_code}): {response.text[:300]}"
            )
        body = response.json()
        return Fired(alert, body["incident_id"], body["playbook"], body["deduplicated"])

    def incidents(self) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/incidents", params={"limit": 200})
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return sorted(items, key=lambda item: item["number"])

    def detail(self, ref: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/incidents/{ref}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


_ENDED = {"playbook.finished", "playbook.failed", "playbook.aborted"}


def situation(detail: dict[str, Any]) -> str | None:
    """What the playbook waits for, or None while it is busy with a step."""
    kinds = {event["kind"] for event in detail["timeline"]}
    ended = kinds & _ENDED
    if ended:
        return f"playbook {min(ended).removeprefix('playbook.')}"
    live = detail.get("live") or {}
    if live.get("pending_approvals"):
        return "waits for approval"
    if "playbook.started" in kinds and live and live.get("current_step") is None:
        # Between two steps, or waiting for a timer or more alerts (model-extraction's
        # cool-off): the caller tells them apart by whether the timeline still grows.
        return "waits for further alerts or a timer"
    return None


def pending_approvals(detail: dict[str, Any]) -> list[str]:
    live = detail.get("live") or {}
    return list(live.get("pending_approvals", []))


def incident_actions(store: Store) -> list[tuple[str, str, str, str]]:
    """(incident, action, target, status) of every containment action."""
    with store.session() as session:
        rows = session.execute(
            select(Incident.ref, Action.action, Action.target, Action.status)
            .join(Incident, Incident.id == Action.incident_id)
            .order_by(Action.id)
        ).all()
    return [(str(ref), action, target, status) for ref, action, target, status in rows]


def has_incidents(store: Store) -> bool:
    with store.session() as session:
        return session.scalar(select(Incident.id).limit(1)) is not None
