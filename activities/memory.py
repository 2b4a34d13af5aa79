"""Purging one conversation's memory and cache entries: whether it is configured for an
application (`memory_purge_plan`) and the purge itself (`purge_memory`), made once per
incident and target.

The purge uses the same `actions` rows as containment (`activities.actions`: claim,
before, complete): the keys found are recorded (counted, names hashed) before anything is
deleted, and a retry that finds the row completed returns it without touching the store.
A purge cannot be undone, so it declares no undo and its row says it is not reversible.
What it deletes is kept first: `snapshot_memory` stores the entries, values included, as
evidence for the approval card, and the purge itself snapshots again and deletes exactly
the entries that snapshot kept (an entry written after it stays, and the purge is then
not verified).
"""

from __future__ import annotations

from activities.actions import ActionRows, Applied, Attempt, ConfiguredClaim, failure, in_thread
from activities.evidence import EvidenceActivities
from integrations.memory.base import MemoryProviderError, MemoryScope, MemorySnapshot
from integrations.memory.registry import MemoryProviders, not_configured
from smokejumper.config import Settings
from smokejumper.contracts.memory import (
    MEMORY_PURGE_PLAN,
    PURGE_MEMORY,
    SNAPSHOT_EVIDENCE,
    SNAPSHOT_MEMORY,
)
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.evidence import CONTENT_MAX, EvidenceCapture
from smokejumper.domain.memory import (
    KeptMemory,
    MemoryAction,
    MemoryPlan,
    MemoryQuery,
    resolve_patterns,
)
from smokejumper.inventory.key_prefixes import redactor_for
from smokejumper.store.db import Store

PURGE = "purge_memory"
NOT_RESTORABLE = "purged entries cannot be brought back"


class MemoryActivities(ActionRows):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.settings = settings
        self.memory = MemoryProviders(settings)
        self.evidence = EvidenceActivities(store, settings)

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

    @SNAPSHOT_MEMORY.implementation
    async def snapshot_memory(self, action: MemoryAction) -> KeptMemory:
        """Keep the conversation's entries as evidence (hash, redacted preview; raw for
        responders), before anyone is asked to delete them."""
        try:
            return await in_thread(self._snapshot, action)
        except MemoryProviderError as exc:
            raise failure(exc) from None

    def _snapshot(self, action: MemoryAction) -> KeptMemory:
        scope = self._scope(action.application, action.session, action.user)
        return self._keep(action, self.memory.get(action.application).snapshot(scope))

    def _keep(self, action: MemoryAction, snapshot: MemorySnapshot) -> KeptMemory:
        if not snapshot.entries:
            return KeptMemory(keys=0)
        content = snapshot.content()
        if len(content) > CONTENT_MAX:
            # Nothing is deleted that cannot be kept first.
            raise MemoryProviderError(
                f"memory of {action.application}: the {len(snapshot.entries)} entries hold "
                f"{len(content):,} characters, more than one piece of evidence keeps "
                f"({CONTENT_MAX:,}); export them by hand before purging",
                retryable=False,
            )
        capture = EvidenceCapture(
            incident_id=action.incident_id,
            name=SNAPSHOT_EVIDENCE,
            kind="conversation_memory",
            content=content,
            captured_by=f"activity:{SNAPSHOT_MEMORY.name}",
        )
        [ref] = self.evidence.capture_many([capture], redactor_for(self.store, self.settings))
        return KeptMemory(
            keys=len(snapshot.entries),
            evidence_name=ref.name,
            sha256=ref.sha256,
            size=ref.size,
            redacted_preview=ref.redacted_preview,
        )

    @PURGE_MEMORY.implementation
    async def purge_memory(self, action: MemoryAction) -> ActionResult:
        """Delete the conversation's memory and cache entries; once per business key."""
        return await in_thread(self._purge, action)

    def _purge(self, action: MemoryAction) -> ActionResult:
        config = self.settings.memory.get(action.application)
        claim = ConfiguredClaim(
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
            # Kept first, then exactly what was kept is deleted. Deleting what an earlier
            # attempt already deleted deletes nothing: no need to look first, as
            # revocation does.
            snapshot = provider.snapshot(scope)
            kept = self._keep(action, snapshot)
            after = provider.purge(scope, only=snapshot.names)
            after.details["kept_sha256"] = kept.sha256
            after.details["restorable"] = False
            after.details["note"] = NOT_RESTORABLE
            return Applied(after, provider.verify_purged(scope), provider.restorable)

        return self._apply(PURGE, claim, action.target, purge)
