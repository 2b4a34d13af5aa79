"""Containment actions and their undo, each made once per business key, on the `actions`
table.

The row is the idempotency record: written ("started") before the provider is called,
completed after. A retry that finds the row completed returns what it recorded without
calling the provider; one that finds it still "started" (the worker died between the call
and the completion) looks at the target first and only calls the provider if the target is
not yet in the wanted state. The state before the first attempt is recorded once, so an
undo puts back what the incident found, not what a resumed attempt saw.

An activity class subclasses `ActionRows` and gives only the provider-specific parts:

    def _purge(self, action: PurgeAction) -> ActionResult:
        def purge(attempt: Attempt) -> Applied:
            # Resolved inside the change: an unknown provider is recorded on the row.
            memory = self.memories.get(action.provider)
            return attempt.contain(
                memory.state(action.target),
                done=lambda state: state.status == "purged",
                apply=lambda: memory.purge(action.target),
                verify=lambda: memory.verify_purged(action.target),
                reversible=memory.restorable,
            )

        return self._apply("purge_memory", action, action.target, purge)

`_apply(kind, action, target, change)` claims the row, returns the recorded result if it is
completed and verified, else runs `change` (which, for a completed action the provider did
not confirm, finds the target contained and only verifies it again) and completes the row
with the `Applied` it returns. Any exception from `change` is recorded on the row (and on
the timeline while retries last) and raised as the Temporal failure `failure(exc)`:
provider errors with `retryable=False` stop the retries (a new family of providers adds its
base error to `PROVIDER_ERRORS`).
`Attempt.contain` is the usual change (record the state before, apply unless the target is
already in the wanted state, verify); a change that needs the recorded state itself (a
rollback aims at what the alias pointed to first) calls `Attempt.before`.

`_undo(key, what, restorable, not_restorable, restore)` is the way back: `restore` gets
the recorded state before and returns the target's state after; the row is marked restored.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from integrations.endpoints.base import EndpointProviderError
from integrations.keys.base import KeyProviderError
from integrations.memory.base import MemoryProviderError
from integrations.models.base import ModelProviderError
from integrations.prompts.base import PromptProviderError
from integrations.vectorstores.base import VectorStoreError
from smokejumper.domain.containment import ActionResult
from smokejumper.observability.tracing import provider_call
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, Incident, TimelineEvent
from smokejumper.store.write_queue import as_urgent

log = logging.getLogger("smokejumper.containment")

PROVIDER_ERRORS = (
    KeyProviderError,
    EndpointProviderError,
    ModelProviderError,
    MemoryProviderError,
    PromptProviderError,
    VectorStoreError,
)
# The one kind whose result also names its target `endpoint` (see `ActionResult`).
ISOLATE = "isolate_endpoint"
S = TypeVar("S", bound=BaseModel)
R = TypeVar("R")
# While provider code runs in its thread, the activity heartbeats this often: a worker that
# dies mid-call stops heartbeating, and the step is attempted again (finishing, not
# redoing, what the action row records) once its heartbeat timeout passes.
HEARTBEAT_EVERY = 2.0


# Containment's own threads: the default executor (a handful of threads) is shared with
# every store write of the worker's bookkeeping, and a critical revocation must not wait
# for a thread behind a flood of low-severity incidents' timeline writes.
CONTAINMENT_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="containment")


def on_containment_thread(function: Callable[..., R], *args: Any) -> asyncio.Future[R]:
    """`function(*args)` on one of containment's own threads, in the caller's context (as
    `asyncio.to_thread`: the activity's trace span is the provider call's parent), its
    store writes ahead of bookkeeping writes."""
    context = contextvars.copy_context()
    return asyncio.get_running_loop().run_in_executor(
        CONTAINMENT_THREADS, functools.partial(context.run, as_urgent, function, *args)
    )


async def in_thread(function: Callable[..., R], *args: Any) -> R:
    """`function(*args)` on a containment thread (provider clients block), heartbeating."""
    return await heartbeating(on_containment_thread(function, *args))


async def heartbeating(awaited: Awaitable[R]) -> R:
    """`awaited`'s result; the activity heartbeats every HEARTBEAT_EVERY meanwhile."""
    work = asyncio.ensure_future(awaited)
    while True:
        done, _ = await asyncio.wait({work}, timeout=HEARTBEAT_EVERY)
        if done:
            return work.result()
        if activity.in_activity():
            activity.heartbeat()


class ActionMessage(Protocol):
    """What every containment message carries (`KeyAction`, `ModelAction`, …)."""

    @property
    def incident_id(self) -> int: ...
    @property
    def step(self) -> str | None: ...
    @property
    def provider(self) -> str: ...
    @property
    def business_key(self) -> str: ...


# Raised by our own code for a bad configuration or message (an unknown provider name, a
# malformed state file, a missing file): the same on every attempt.
CONFIGURATION_ERRORS = (
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    NotImplementedError,
    PermissionError,
    FileNotFoundError,
)


def retryable(exc: Exception) -> bool:
    """False when a retry cannot help: provider errors that say so (credentials, access
    denied, not found, a rejected request) and configuration errors; anything else (a
    network error, a timeout, a 5xx) may pass on a retry."""
    if isinstance(exc, PROVIDER_ERRORS):
        return exc.retryable
    return not isinstance(exc, CONFIGURATION_ERRORS)


@dataclass(frozen=True)
class ConfiguredClaim:
    """What an `actions` row is claimed with when the provider is the one configuration
    names for the target (a memory purge, a retrieval sweep), not one the message carries."""

    incident_id: int
    step: str | None
    provider: str
    business_key: str


def failure(exc: Exception) -> ApplicationError:
    """The Temporal failure an activity raises for `exc`, retryable as `exc` says."""
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=not retryable(exc))


def result_of(row: Action) -> ActionResult:
    """What the row records, as activities return it."""
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


@dataclass(frozen=True)
class Applied:
    """What a change left: the target's state after it, whether the provider confirms it,
    and whether the provider can undo it."""

    after: BaseModel
    verified: bool
    reversible: bool


@dataclass(frozen=True)
class Attempt:
    """One attempt at an action whose row is claimed and not yet completed."""

    business_key: str
    # The target's state an earlier attempt recorded before it called the provider ({}: none).
    recorded: dict[str, Any]
    record: Callable[[BaseModel], None]

    def before(self, current: S) -> S:
        """The target's state before this action: what an earlier attempt recorded, else
        `current`, recorded now."""
        if self.recorded:
            return type(current).model_validate(self.recorded)
        self.record(current)
        return current

    def contain(
        self,
        current: S,
        *,
        done: Callable[[S], bool],
        apply: Callable[[], BaseModel],
        verify: Callable[[], bool],
        reversible: bool,
    ) -> Applied:
        """Record `current` as the state before (once), call `apply` unless `done(current)`
        says the target is already as it would leave it, then `verify`."""
        if not self.recorded:
            self.record(current)
        # Resuming after a crash, or a target someone else already contained: calling again
        # would double-apply and overwrite who contained it, when and why.
        after = current if done(current) else apply()
        return Applied(after, verify(), reversible)


def nothing_to_restore(message: str) -> ApplicationError:
    return ApplicationError(message, type="NothingToRestore", non_retryable=True)


class ActionRows:
    """The `actions` rows of one store, for the activity classes that contain things."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _apply(
        self,
        kind: str,
        action: ActionMessage,
        target: str,
        change: Callable[[Attempt], Applied],
    ) -> ActionResult:
        """Make `change` once for `action.business_key` (see the module docstring)."""
        key = action.business_key
        row = self._claim(kind, action.incident_id, action.step, action.provider, target, key)
        if row.status == "completed" and row.verified is not False:
            return result_of(row)
        # Not completed, or completed without the provider confirming it: `change` looks at
        # the target first, so a re-check of an unverified action only verifies again.
        attempt = Attempt(
            key, dict(row.before or {}), lambda before: self._record_before(key, before)
        )
        try:
            with provider_call(
                kind, action.provider, incident_id=action.incident_id, step=action.step
            ):
                applied = change(attempt)
        except Exception as exc:
            self._fail(key, exc)
            raise failure(exc) from None
        return self._complete(key, applied.after, applied.verified, applied.reversible)

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
            return result_of(row)

    def _fail(self, business_key: str, exc: Exception) -> None:
        can_retry = retryable(exc)
        message = str(exc)[:2000]
        # Provider messages are built from ids and error codes only; never from the secret.
        log.warning("containment %s failed (retryable=%s): %s", business_key, can_retry, message)
        with self.store.transaction() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            if row is None:
                return
            row.error = message
            if not can_retry:
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

    # -- undo -------------------------------------------------------------------------------

    def _undo(
        self,
        key: str,
        what: str,
        restorable: Callable[[], bool],
        not_restorable: str,
        restore: Callable[[dict[str, Any]], BaseModel],
    ) -> ActionResult:
        """Put the target back as the action with business key `key` found it, once."""
        with self.store.session() as session:
            row = session.scalar(select(Action).where(Action.business_key == key))
        if row is None:
            raise nothing_to_restore(f"nothing to restore: no {what} was recorded for {key}")
        if row.restored_at is not None:
            return result_of(row)
        if not row.before:
            # The action failed before it learned the target's state, so it changed nothing.
            raise nothing_to_restore(
                f"nothing to restore: the {what} of {key} recorded no prior state "
                f"(status {row.status})"
            )
        holder = _held_elsewhere(self.store, row)
        if holder is not None:
            # Another open incident relies on the same containment (it found it in force
            # and kept it): putting the target back would lift that incident's too.
            raise ApplicationError(
                f"not undone: {row.target} is also held by {holder}, which is still open",
                type="HeldByAnotherIncident",
                non_retryable=True,
            )
        try:
            can_restore = restorable()
        except PROVIDER_ERRORS as exc:
            raise failure(exc) from None
        if not can_restore:
            raise ApplicationError(not_restorable, type="NotRestorable", non_retryable=True)
        try:
            with provider_call(
                f"restore {row.action}",
                row.provider,
                incident_id=row.incident_id,
                step=row.step,
            ):
                after = restore(dict(row.before))
        except Exception as exc:
            self._record_restore_error(key, exc)
            raise failure(exc) from None
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
            return result_of(row)


def _held_elsewhere(store: Store, row: Action) -> str | None:
    """The ref of another incident, not closed, whose same action on the same target is in
    force (completed, not restored); None when the undo concerns this incident alone."""
    with store.session() as session:
        ref = session.scalar(
            select(Incident.ref)
            .join(Action, Action.incident_id == Incident.id)
            .where(
                Action.action == row.action,
                Action.target == row.target,
                Action.incident_id != row.incident_id,
                Action.status == "completed",
                Action.restored_at.is_(None),
                Incident.status != "closed",
            )
            .limit(1)
        )
    return ref
