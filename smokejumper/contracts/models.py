"""Model registry containment: point a model's serving alias back at a good version."""

from __future__ import annotations

from datetime import timedelta

from smokejumper.contracts.base import CONTAINMENT, Contract, RetryClass
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import ActionResult, ModelAction

# Hashing a large model's artifacts takes minutes; the activity heartbeats, so a killed
# worker's rollback is attempted again within the heartbeat, not the timeout.
ROLLBACK = RetryClass(
    "rollback", CONTAINMENT.policy, timedelta(minutes=30), heartbeat=timedelta(seconds=15)
)

RESTORE_MODEL = Contract(
    "restore_model",
    ModelAction,
    ActionResult,
    rehearse=rehearsed_action("restore_model"),
    description="Point the alias back at the version it served before the rollback.",
)
ROLLBACK_MODEL = Contract(
    "rollback_model",
    ModelAction,
    ActionResult,
    undo=RESTORE_MODEL,
    retry=ROLLBACK,
    rehearse=rehearsed_action("rollback_model"),
    description="Point the serving alias at the last known good version, digests checked.",
)
