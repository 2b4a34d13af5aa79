"""Key containment: revoke a leaked key at its provider, and put it back."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from smokejumper.contracts.base import Contract, RetryClass
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import ActionResult, KeyAction, RevokedOnSight
from smokejumper.masking import mask

RESTORE_KEY = Contract(
    "restore_key",
    KeyAction,
    ActionResult,
    rehearse=rehearsed_action("restore_key"),
    description="Put the key back as its revocation recorded it before.",
)
REVOKE_KEY = Contract(
    "revoke_key",
    KeyAction,
    ActionResult,
    undo=RESTORE_KEY,
    rehearse=rehearsed_action("revoke_key"),
    description="Disable the key at its provider and check that it took.",
)

# One attempt, as a local activity in the run's first workflow task: the revoke steps that
# follow are the retries (each key's action row makes them finish what this began, not redo
# it), and a provider that hangs holds the first task no longer than this.
ON_SIGHT = RetryClass("on sight", RetryPolicy(maximum_attempts=1), timedelta(seconds=10))

REVOKE_LEAKED_KEYS = Contract(
    "revoke_leaked_keys",
    int,
    RevokedOnSight,
    retry=ON_SIGHT,
    rehearse=lambda incident_id, _: RevokedOnSight(incident_id=incident_id),
    description="Find the inventory's keys in the incident's leaked output and revoke them "
    "at once, before the evidence is captured; what it cannot, the revoke steps do.",
)


def revoke_step(key_id: str) -> str:
    """The name of the step that revokes `key_id`: on the timeline, the console and the
    report, which viewers read, so a key id shaped like a credential is masked
    (`AKIA…7Q2Z`); an inventory name (`key-support-web`) is not."""
    return f"revoke key {mask(key_id)}"
