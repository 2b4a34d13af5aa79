"""Containment actions (revoking keys, isolating endpoints) and their undo, each call made
once per incident, action, provider and target.

The `actions` row is the idempotency record: written ("started") before the provider is
called, completed after. A retry that finds the row completed returns what it recorded
without calling the provider; one that finds it still "started" (the worker died between
the call and the completion) looks at the target first and only calls the provider if the
target is not yet in the wanted state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from integrations.endpoints.base import (
    ISOLATED,
    EndpointNotFound,
    EndpointProviderError,
    EndpointState,
)
from integrations.endpoints.registry import EndpointProviders
from integrations.keys.base import KeyNotFound, KeyProviderError, KeyState
from integrations.keys.registry import KeyProviders
from integrations.models.base import ModelProviderError
from smokejumper.config import Settings
from smokejumper.domain.containment import ActionResult, EndpointAction, KeyAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, TimelineEvent

log = logging.getLogger("smokejumper.containment")

REVOKE = "revoke_key"
REVOKED = "inactive"
ISOLATE = "isolate_endpoint"

_PROVIDER_ERRORS = (KeyProviderError, EndpointProviderError, ModelProviderError)
S = TypeVar("S", KeyState, EndpointState)


def _retryable(exc: Exception) -> bool:
    return exc.retryable if isinstance(exc, _PROVIDER_ERRORS) else True


def _result(row: Action) -> ActionResult:
    return ActionResult(
        incident_id=row.incident_id,
        step=row.step,
        provider=row.provider,
        key_id=row.target,
        endpoint=row.target if row.action == ISOLATE else None,
        business_key=row.business_key,
        action=row.action,
        status=row.status,
        before=dict(row.before or {}),
        after=dict(row.after or {}),
        verified=row.verified,
        reversible=row.reversible,
        restored_at=row.restored_at,
        error=row.error,
    )


def _still_there(row: Action, state: Callable[[], S], model: type[S]) -> S:
    """The target's current state. Providers whose containment deletes the target (OpenAI
    keys, Vault tokens, LiteLLM model routes) answer "not found" afterwards: when an earlier
    attempt of this same action recorded the target's state, it is gone because of that
    attempt (or since), which is contained, not unknown."""
    try:
        return state()
    except (KeyNotFound, EndpointNotFound):
        if not row.before:
            raise
        before = model.model_validate(row.before)
        wanted = ISOLATED if isinstance(before, EndpointState) else REVOKED
        return before.model_copy(
            update={"status": wanted, "details": {**before.details, "gone": True}}
        )


def _failure(exc: Exception) -> ApplicationError:
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not _retryable(exc))


def _nothing_to_restore(message: str) -> ApplicationError:
    return ApplicationError(message, type="NothingToRestore", non_retryable=True)


class ContainmentActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.providers = KeyProviders(settings)
        self.endpoints = EndpointProviders(settings)

    # -- revoke ---------------------------------------------------------------------------

    @activity.defn(name="revoke_key")
    async def revoke_key(self, action: KeyAction) -> ActionResult:
        """Disable the key at its provider; once per business key."""
        return await asyncio.to_thread(self._revoke, action)

    def _revoke(self, action: KeyAction) -> ActionResult:
        row = self._claim(
            REVOKE,
            action.incident_id,
            action.step,
            action.provider,
            action.key_id,
            action.business_key,
        )
        if row.status == "completed":
            return _result(row)
        try:
            provider = self.providers.get(action.provider)
            current = _still_there(row, lambda: provider.state(action.key_id), KeyState)
            if not row.before:
                self._record_before(row.business_key, current)
            # Resuming after a crash, or a key someone already disabled: calling again would
            # double-apply (and, for a restore, clobber the recorded before state).
            after = current if current.status == REVOKED else provider.revoke(action.key_id)
            verified = provider.verify_revoked(action.key_id)
        except Exception as exc:
            self._fail(row.business_key, exc)
            raise _failure(exc) from None
        return self._complete(row.business_key, after, verified, provider.restorable)

    # -- isolate --------------------------------------------------------------------------

    @activity.defn(name="isolate_endpoint")
    async def isolate_endpoint(self, action: EndpointAction) -> ActionResult:
        """Stop the endpoint serving at its provider; once per business key."""
        return await asyncio.to_thread(self._isolate, action)

    def _isolate(self, action: EndpointAction) -> ActionResult:
        row = self._claim(
            ISOLATE,
            action.incident_id,
            action.step,
            action.provider,
            action.endpoint,
            action.business_key,
        )
        if row.status == "completed":
            return _result(row)
        try:
            provider = self.endpoints.get(action.provider)
            current = _still_there(row, lambda: provider.state(action.endpoint), EndpointState)
            if not row.before:
                self._record_before(row.business_key, current)
            # As for keys: a resumed attempt must not overwrite who isolated it and why.
            after = (
                current
                if current.status == ISOLATED
                else provider.isolate(
                    action.endpoint, by=f"incident {action.incident_id}", reason=action.reason
                )
            )
            verified = provider.verify_isolated(action.endpoint)
        except Exception as exc:
            self._fail(row.business_key, exc)
            raise _failure(exc) from None
        return self._complete(row.business_key, after, verified, provider.restorable)

    # -- the row, shared by every action --------------------------------------------------

    def _claim(
        self,
        kind: str,
        incident_id: int,
        step: str | None,
        provider: str,
        target: str,
        key: str,
    ) -> Action:
        """The action's row: inserted as started, or the existing one with one more attempt."""
        for _ in range(2):
            try:
                with self.store.transaction() as session:
                    row = session.scalar(select(Action).where(Action.business_key == key))
                    if row is None:
                        row = Action(
                            incident_id=incident_id,
                            step=step,
                            action=kind,
                            target=target,
                            provider=provider,
                            business_key=key,
                            status="started",
                            attempts=1,
                            before={},
                            after={},
                        )
                        session.add(row)
                    elif row.status != "completed":
                        row.attempts += 1
                    session.flush()
                    return row
            except IntegrityError:
                # A concurrent attempt inserted the row first; read it on the next pass.
                continue
        raise ApplicationError(f"could not claim action {key}")

    def _record_before(self, business_key: str, before: BaseModel) -> None:
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            assert row is not None
            if not row.before:
                row.before = before.model_dump(mode="json")

    def _complete(
        self, business_key: str, after: BaseModel, verified: bool, reversible: bool
    ) -> ActionResult:
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            assert row is not None
            row.status = "completed"
            row.after = after.model_dump(mode="json")
            row.verified = verified
            row.reversible = reversible
            row.finished_at = datetime.now(UTC)
            # A target contained again after a restore can be restored again.
            row.restored_at = None
            row.error = None
            session.flush()
            return _result(row)

    def _fail(self, business_key: str, exc: Exception) -> None:
        retryable = _retryable(exc)
        message = str(exc)[:2000]
        # Provider messages are built from ids and error codes only; never from the secret.
        log.warning("containment %s failed (retryable=%s): %s", business_key, retryable, message)
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            if row is None:
                return
            row.error = message
            if not retryable:
                row.status = "failed"
                row.finished_at = datetime.now(UTC)
                return
            # Responders see a provider outage while it lasts, not only when retries run out.
            event_key = f"{business_key}:attempt:{row.attempts}"
            if session.scalar(select(TimelineEvent.id).where(TimelineEvent.event_key == event_key)):
                return
            session.add(
                TimelineEvent(
                    incident_id=row.incident_id,
                    kind="action.retrying",
                    step=row.step,
                    actor="smokejumper",
                    message=f"{row.action} of {row.target} at {row.provider} failed (attempt "
                    f"{row.attempts}): {message}; retrying with backoff",
                    data={"attempt": row.attempts, "provider": row.provider},
                    event_key=event_key,
                )
            )

    # -- restore --------------------------------------------------------------------------

    @activity.defn(name="restore_key")
    async def restore_key(self, action: KeyAction) -> ActionResult:
        """Put the key back as the revoke recorded it before; once per business key."""
        return await asyncio.to_thread(self._restore_key, action)

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

    @activity.defn(name="restore_endpoint")
    async def restore_endpoint(self, action: EndpointAction) -> ActionResult:
        """Put the endpoint back as the isolation recorded it before; once per business key."""
        return await asyncio.to_thread(self._restore_endpoint, action)

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

    def _undo(
        self,
        key: str,
        what: str,
        restorable: Callable[[], bool],
        not_restorable: str,
        restore: Callable[[dict[str, Any]], BaseModel],
    ) -> ActionResult:
        with self.store.session() as session:
            row = session.scalar(select(Action).where(Action.business_key == key))
        if row is None:
            raise _nothing_to_restore(f"nothing to restore: no {what} was recorded for {key}")
        if row.restored_at is not None:
            return _result(row)
        if not row.before:
            # The action failed before it learned the target's state, so it changed nothing.
            raise _nothing_to_restore(
                f"nothing to restore: the {what} of {key} recorded no prior state "
                f"(status {row.status})"
            )
        try:
            can_restore = restorable()
        except _PROVIDER_ERRORS as exc:
            raise _failure(exc) from None
        if not can_restore:
            raise ApplicationError(not_restorable, type="NotRestorable", non_retryable=True)
        try:
            after = restore(dict(row.before))
        except Exception as exc:
            self._record_restore_error(key, exc)
            raise _failure(exc) from None
        return self._mark_restored(key, after)

    def _record_restore_error(self, business_key: str, exc: Exception) -> None:
        log.warning("restore of %s failed: %s", business_key, exc)
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            if row is not None:
                row.error = f"restore: {exc}"[:2000]

    def _mark_restored(self, business_key: str, after: BaseModel) -> ActionResult:
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            assert row is not None
            if row.restored_at is None:
                row.restored_at = datetime.now(UTC)
                row.status = "restored"
                restored: dict[str, Any] = dict(row.after or {})
                restored["restored"] = after.model_dump(mode="json")
                row.after = restored
                row.error = None
            session.flush()
            return _result(row)
