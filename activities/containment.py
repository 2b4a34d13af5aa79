"""Containment actions on keys and endpoints (revoking keys, isolating endpoints) and their
undo, each call made once per incident, action, provider and target (the bookkeeping is
activities/actions.py's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.actions import ISOLATE, ActionRows, Applied, Attempt, in_thread
from integrations.endpoints.base import ISOLATED, EndpointNotFound, EndpointState
from integrations.endpoints.registry import EndpointProviders
from integrations.keys.base import KeyNotFound, KeyState
from integrations.keys.registry import KeyProviders
from smokejumper.config import Settings
from smokejumper.contracts.endpoints import ISOLATE_ENDPOINT, RESTORE_ENDPOINT
from smokejumper.contracts.keys import (
    RESTORE_KEY,
    RESTORE_KEYS,
    REVOKE_KEY,
    REVOKE_KEYS,
    revoke_step,
)
from smokejumper.domain.containment import (
    ActionResult,
    EndpointAction,
    KeyAction,
    KeysAction,
    KeysResult,
    KeyStatus,
)
from smokejumper.masking import mask
from smokejumper.store.db import Store

REVOKE = "revoke_key"
REVOKED = KeyStatus.INACTIVE

S = TypeVar("S", KeyState, EndpointState)


def _still_there(recorded: dict[str, Any], state: Callable[[], S], model: type[S]) -> S:
    """The target's current state. Providers whose containment deletes the target (OpenAI
    keys, Vault tokens, LiteLLM model routes) answer "not found" afterwards: when an earlier
    attempt of this same action recorded the target's state, it is gone because of that
    attempt (or since), which is contained, not unknown."""
    try:
        return state()
    except (KeyNotFound, EndpointNotFound):
        if not recorded:
            raise
        before = model.model_validate(recorded)
        wanted = ISOLATED if isinstance(before, EndpointState) else REVOKED
        return before.model_copy(
            update={"status": wanted, "details": {**before.details, "gone": True}}
        )


class ContainmentActivities(ActionRows):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.providers = KeyProviders(settings)
        self.endpoints = EndpointProviders(settings)

    # -- revoke ---------------------------------------------------------------------------

    @REVOKE_KEY.implementation
    async def revoke_key(self, action: KeyAction) -> ActionResult:
        """Disable the key at its provider; once per business key."""
        return await in_thread(self._revoke, action)

    def revoke_now(self, action: KeyAction) -> ActionResult:
        """The revocation, in the caller's thread (the on-sight revocation runs several in
        one); raises the Temporal failure the activity would."""
        return self._revoke(action)

    def _revoke(self, action: KeyAction) -> ActionResult:
        def revoke(attempt: Attempt) -> Applied:
            provider = self.providers.get(action.provider)
            return attempt.contain(
                _still_there(attempt.recorded, lambda: provider.state(action.key_id), KeyState),
                done=lambda state: state.status == REVOKED,
                apply=lambda: provider.revoke(action.key_id),
                verify=lambda: provider.verify_revoked(action.key_id),
                reversible=provider.restorable,
            )

        return self._apply(REVOKE, action, action.key_id, revoke)

    @REVOKE_KEYS.implementation
    async def revoke_keys(self, batch: KeysAction) -> KeysResult:
        """Disable each key of the batch at its provider, each once per business key."""
        return await in_thread(self._each, batch, "revoke_key", self._revoke)

    def _each(
        self, batch: KeysAction, action: str, apply: Callable[[KeyAction], ActionResult]
    ) -> KeysResult:
        """`apply` to every key of the batch, each under its own step's business key; one
        key failing does not stop the others. Raises, once all were tried, when any
        failed: the step is retried (the done ones are found done), then handed to people."""
        result = KeysResult(incident_id=batch.incident_id, provider=batch.provider, action=action)
        failed: dict[str, ApplicationError] = {}
        for each in batch.each(revoke_step):
            try:
                done = apply(each)
            except ApplicationError as exc:
                failed[mask(each.key_id)] = exc
                continue
            result.done += 1
            if done.verified is False:
                result.unverified.append(mask(each.key_id))
        if failed:
            reasons = "; ".join(f"{key}: {exc.message}" for key, exc in list(failed.items())[:5])
            more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
            raise ApplicationError(
                f"{len(failed)} of {len(batch.key_ids)} keys not done: {reasons}{more}",
                type="BatchIncomplete",
                # Worth another attempt unless no key's failure is.
                non_retryable=all(exc.non_retryable for exc in failed.values()),
            )
        result.verified = not result.unverified
        return result

    # -- isolate --------------------------------------------------------------------------

    @ISOLATE_ENDPOINT.implementation
    async def isolate_endpoint(self, action: EndpointAction) -> ActionResult:
        """Stop the endpoint serving at its provider; once per business key."""
        return await in_thread(self._isolate, action)

    def _isolate(self, action: EndpointAction) -> ActionResult:
        def isolate(attempt: Attempt) -> Applied:
            provider = self.endpoints.get(action.provider)
            return attempt.contain(
                _still_there(
                    attempt.recorded, lambda: provider.state(action.endpoint), EndpointState
                ),
                done=lambda state: state.status == ISOLATED,
                apply=lambda: provider.isolate(
                    action.endpoint, by=f"incident {action.incident_id}", reason=action.reason
                ),
                verify=lambda: provider.verify_isolated(action.endpoint),
                reversible=provider.restorable,
            )

        return self._apply(ISOLATE, action, action.endpoint, isolate)

    # -- restore --------------------------------------------------------------------------

    @RESTORE_KEY.implementation
    async def restore_key(self, action: KeyAction) -> ActionResult:
        """Put the key back as the revoke recorded it before; once per business key."""
        return await in_thread(self._restore_key, action)

    def _restore_key(self, action: KeyAction) -> ActionResult:
        def restore(before: dict[str, Any]) -> BaseModel:
            provider = self.providers.get(action.provider)
            return provider.restore(action.key_id, KeyState.model_validate(before))

        return self._undo(
            action.business_key,
            "revoke",
            lambda: self.providers.get(action.provider).restorable,
            f"key provider {action.provider} cannot restore keys: {action.key_id} stays "
            "revoked; issue a new key instead",
            restore,
        )

    @RESTORE_KEYS.implementation
    async def restore_keys(self, batch: KeysAction) -> KeysResult:
        """Put each key of the batch back as its revocation recorded it before."""
        return await in_thread(self._each, batch, "restore_key", self._restore_key)

    @RESTORE_ENDPOINT.implementation
    async def restore_endpoint(self, action: EndpointAction) -> ActionResult:
        """Put the endpoint back as the isolation recorded it before; once per business key."""
        return await in_thread(self._restore_endpoint, action)

    def _restore_endpoint(self, action: EndpointAction) -> ActionResult:
        def restore(before: dict[str, Any]) -> BaseModel:
            provider = self.endpoints.get(action.provider)
            return provider.restore(action.endpoint, EndpointState.model_validate(before))

        return self._undo(
            action.business_key,
            "isolation",
            lambda: self.endpoints.get(action.provider).restorable,
            f"endpoint provider {action.provider} cannot restore endpoints: "
            f"{action.endpoint} stays isolated",
            restore,
        )
