"""Revoking and restoring keys, each call made once per incident, key and provider.

The `actions` row is the idempotency record: written ("started") before the provider is
called, completed after. A retry that finds the row completed returns what it recorded
without calling the provider; one that finds it still "started" (the worker died between
the call and the completion) looks at the key first and only calls the provider if the
key is not yet in the wanted state.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from integrations.keys.base import KeyProvider, KeyProviderError, KeyState
from integrations.keys.registry import KeyProviders
from smokejumper.config import Settings
from smokejumper.domain.containment import ActionResult, KeyAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action

log = logging.getLogger("smokejumper.containment")

REVOKE = "revoke_key"
REVOKED = "inactive"


def _result(row: Action) -> ActionResult:
    return ActionResult(
        incident_id=row.incident_id,
        step=row.step,
        provider=row.provider,
        key_id=row.target,
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


def _failure(exc: Exception) -> ApplicationError:
    retryable = exc.retryable if isinstance(exc, KeyProviderError) else True
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not retryable)


class ContainmentActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.providers = KeyProviders(settings)

    # -- revoke ---------------------------------------------------------------------------

    @activity.defn(name="revoke_key")
    async def revoke_key(self, action: KeyAction) -> ActionResult:
        """Disable the key at its provider; once per business key."""
        return await asyncio.to_thread(self._revoke, action)

    def _revoke(self, action: KeyAction) -> ActionResult:
        row = self._claim(action)
        if row.status == "completed":
            return _result(row)
        try:
            provider = self.providers.get(action.provider)
            current = provider.state(action.key_id)
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

    def _claim(self, action: KeyAction) -> Action:
        """The action's row: inserted as started, or the existing one with one more attempt."""
        key = action.business_key
        for _ in range(2):
            try:
                with self.store.transaction() as session:
                    row = session.scalar(select(Action).where(Action.business_key == key))
                    if row is None:
                        row = Action(
                            incident_id=action.incident_id,
                            step=action.step,
                            action=REVOKE,
                            target=action.key_id,
                            provider=action.provider,
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

    def _record_before(self, business_key: str, before: KeyState) -> None:
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            assert row is not None
            if not row.before:
                row.before = before.model_dump(mode="json")

    def _complete(
        self, business_key: str, after: KeyState, verified: bool, reversible: bool
    ) -> ActionResult:
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            assert row is not None
            row.status = "completed"
            row.after = after.model_dump(mode="json")
            row.verified = verified
            row.reversible = reversible
            row.finished_at = datetime.now(UTC)
            # A key revoked again after a restore can be restored again.
            row.restored_at = None
            row.error = None
            session.flush()
            return _result(row)

    def _fail(self, business_key: str, exc: Exception) -> None:
        retryable = exc.retryable if isinstance(exc, KeyProviderError) else True
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

    # -- restore --------------------------------------------------------------------------

    @activity.defn(name="restore_key")
    async def restore_key(self, action: KeyAction) -> ActionResult:
        """Put the key back as the revoke recorded it before; once per business key."""
        return await asyncio.to_thread(self._restore, action)

    def _restore(self, action: KeyAction) -> ActionResult:
        key = action.business_key
        with self.store.session() as session:
            row = session.scalar(select(Action).where(Action.business_key == key))
        if row is None:
            raise ApplicationError(
                f"nothing to restore: no revoke was recorded for {key}",
                type="NothingToRestore",
                non_retryable=True,
            )
        if row.restored_at is not None:
            return _result(row)
        if not row.before:
            # The revoke failed before it learned the key's state, so it changed nothing.
            raise ApplicationError(
                f"nothing to restore: the revoke of {key} recorded no prior state "
                f"(status {row.status})",
                type="NothingToRestore",
                non_retryable=True,
            )
        try:
            provider: KeyProvider = self.providers.get(action.provider)
        except KeyProviderError as exc:
            raise _failure(exc) from None
        if not provider.restorable:
            raise ApplicationError(
                f"key provider {action.provider} cannot restore keys: {action.key_id} stays "
                "revoked; issue a new key instead",
                type="NotRestorable",
                non_retryable=True,
            )
        before = KeyState.model_validate(row.before)
        try:
            after = provider.restore(action.key_id, before)
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

    def _mark_restored(self, business_key: str, after: KeyState) -> ActionResult:
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
