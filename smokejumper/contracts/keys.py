"""Key containment: revoke a leaked key at its provider, and put it back."""

from __future__ import annotations

from smokejumper.contracts.base import Contract
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import ActionResult, KeyAction

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
