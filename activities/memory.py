"""Purging one conversation's memory and cache entries: whether it is configured for an
application (`memory_purge_plan`) and the purge itself (`purge_memory`), made once per
incident and target.

The purge uses the same `actions` rows as containment (`activities.actions`: claim,
before, complete): the keys found are recorded (counted, names hashed) before anything is
deleted, and a retry that finds the row completed returns it without touching the store.
A purge cannot be undone, so it declares no undo and its row says it is not reversible.
"""

from __future__ import annotations

from dataclasses import dataclass

from activities.actions import ActionRows, Applied, Attempt, in_thread
from integrations.memory.base import MemoryProviderError, MemoryScope
from integrations.memory.registry import MemoryProviders, not_configured
from smokejumper.config import Settings
from smokejumper.contracts.memory import MEMORY_PURGE_PLAN, PURGE_MEMORY
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.memory import MemoryAction, MemoryPlan, MemoryQuery, resolve_patterns
from smokejumper.store.db import Store

PURGE = "purge_memory"
NOT_RESTORABLE = "purged entries cannot be brought back"


class MemoryActivities(ActionRows):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.settings = settings
        self.memory = MemoryProviders(settings)

    def _scope(self, application: str, session: str | None, user: str | None) -> MemoryScope:
        config = self.settings.memory.get(application)
        if config is None:
            raise not_configured(application)
        patterns = resolve_patterns(config.key_patterns, session=session, user=user)
        if not patterns:
            raise MemoryProviderError(
                f"memory of {application}: none of its key patterns applies to a conversation "
                "known only by " + ("session" if session else "user" if user else "nothing"),
                retryable=False,
            )
        return MemoryScope(application=application, patterns=patterns)

    @MEMORY_PURGE_PLAN.implementation
    async def memory_purge_plan(self, query: MemoryQuery) -> MemoryPlan:
        """Whether the application's conversation memory can be purged for this
        conversation (from the configuration; nothing is contacted)."""
        app = query.application
        if not app:
            return MemoryPlan(reason="the alerts name no application")
        config = self.settings.memory.get(app)
        if config is None:
            return MemoryPlan(application=app, reason=f"no [memory.{app}] is configured")
        if not (query.session or query.user):
            return MemoryPlan(
                application=app,
                provider=config.provider,
                reason="the alerts name no session or user",
            )
        patterns = resolve_patterns(config.key_patterns, session=query.session, user=query.user)
        if not patterns:
            return MemoryPlan(
                application=app,
                provider=config.provider,
                reason=f"no key pattern of [memory.{app}] applies to the session or user known",
            )
        return MemoryPlan(
            configured=True, application=app, provider=config.provider, patterns=len(patterns)
        )

    @PURGE_MEMORY.implementation
    async def purge_memory(self, action: MemoryAction) -> ActionResult:
        """Delete the conversation's memory and cache entries; once per business key."""
        return await in_thread(self._purge, action)

    def _purge(self, action: MemoryAction) -> ActionResult:
        config = self.settings.memory.get(action.application)
        claim = _Claim(
            action.incident_id,
            action.step,
            config.provider if config else "none",
            action.business_key,
        )

        def purge(attempt: Attempt) -> Applied:
            scope = self._scope(action.application, action.session, action.user)
            provider = self.memory.get(action.application)
            if not attempt.recorded:
                attempt.record(provider.state(scope))
            # Deleting what an earlier attempt already deleted deletes nothing: no need to
            # look first, as revocation does.
            after = provider.purge(scope)
            after.details["restorable"] = False
            after.details["note"] = NOT_RESTORABLE
            return Applied(after, provider.verify_purged(scope), provider.restorable)

        return self._apply(PURGE, claim, action.target, purge)


@dataclass(frozen=True)
class _Claim:
    """What the `actions` row of a purge is claimed with (the provider named by config)."""

    incident_id: int
    step: str | None
    provider: str
    business_key: str
