"""Key containment: revoke a leaked key at its provider, and put it back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio.common import RetryPolicy

from smokejumper.contracts.base import CONTAINMENT, Contract, Rehearsal, RetryClass
from smokejumper.contracts.rehearsals import rehearsed_action
from smokejumper.domain.containment import (
    ActionResult,
    KeyAction,
    KeysAction,
    KeysResult,
    RevokedOnSight,
)
from smokejumper.masking import mask

# A leak's keys up to this many are revoked a step each (and on sight); the rest in batches
# of KEYS_IN_A_BATCH, a step per batch. A step costs the run about fourteen history events:
# thousands of keys (a dumped credentials file, or output stuffed with key-shaped strings)
# one step each would pass Temporal's limit of a run's history, and the run would end
# with most keys still live.
KEYS_ONE_BY_ONE = 20
KEYS_IN_A_BATCH = 100
# A leak's keys past this many (the inventory's first) are not revoked automatically: they
# are counted, and people are asked about them once. Output stuffed with tens of thousands
# of key-shaped strings (a hostile prompt can ask for them) would otherwise give an
# assessment too large for a Temporal payload, a report too large to keep, and hours of
# failing provider calls; no real leak of one organisation's keys needs more.
KEYS_AT_MOST = 1_000

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

# A batch calls its provider for each key in turn: the containment policy, with the time a
# hundred keys take. Its activity heartbeats every 2 s (activities.actions.HEARTBEAT_EVERY),
# so a killed worker's batch is taken over within 10 s: the rest of its keys are live
# until then.
CONTAINMENT_BATCH = RetryClass(
    "containment batch", CONTAINMENT.policy, timedelta(minutes=10), timedelta(seconds=10)
)


def _rehearsed_keys(action: str) -> Callable[[KeysAction, Rehearsal], KeysResult]:
    def answer(keys: KeysAction, _: Rehearsal) -> KeysResult:
        return KeysResult(
            incident_id=keys.incident_id,
            provider=keys.provider,
            action=action,
            done=len(keys.key_ids),
            verified=True,
        )

    return answer


RESTORE_KEYS = Contract(
    "restore_keys",
    KeysAction,
    KeysResult,
    retry=CONTAINMENT_BATCH,
    rehearse=_rehearsed_keys("restore_key"),
    description="Put each key of a batch back as its revocation recorded it before.",
)
REVOKE_KEYS = Contract(
    "revoke_keys",
    KeysAction,
    KeysResult,
    undo=RESTORE_KEYS,
    retry=CONTAINMENT_BATCH,
    rehearse=_rehearsed_keys("revoke_key"),
    description="Disable each key of a batch at its provider and check that it took; fails "
    "(and is retried, then handed to people) when any key could not be revoked.",
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


def batch_step(keys: list[str], first: int, total: int) -> str:
    """The name of the step that revokes a batch of a leak's keys: their places in the order
    all of them are revoked, and the first and last masked, e.g. `revoke keys 21-120 of 4000
    (AKIA…7Q2Z to AKIA…QQ01)`."""
    last = first + len(keys) - 1
    return f"revoke keys {first}-{last} of {total} ({_short(keys[0])} to {_short(keys[-1])})"


def _short(key_id: str) -> str:
    masked = mask(key_id)
    return masked if len(masked) <= 24 else masked[:23] + "…"
