"""Endpoint containment: stop a serving endpoint, and put it back."""

from __future__ import annotations

from smokejumper.contracts.base import Contract
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import ActionResult, EndpointAction

RESTORE_ENDPOINT = Contract(
    "restore_endpoint",
    EndpointAction,
    ActionResult,
    rehearse=rehearsed_action("restore_endpoint"),
    description="Put the endpoint back as its isolation recorded it before.",
)
ISOLATE_ENDPOINT = Contract(
    "isolate_endpoint",
    EndpointAction,
    ActionResult,
    undo=RESTORE_ENDPOINT,
    rehearse=rehearsed_action("isolate_endpoint"),
    description="Stop the endpoint serving at its provider and check that it took.",
)
