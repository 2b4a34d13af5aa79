"""Sweeping an application's retrieval index after an indirect injection
(`sweep_retrieval_index`), its undo (`restore_retrieval_index`), and whether an index is
configured at all (`retrieval_index_plan`).

The sweep uses the same `actions` rows as containment (`activities.actions`: claim,
before, complete): what the first attempt found is recorded (counts only, never document
text) before anything moves, and a retry that finds the row completed returns it without
touching the store. The store itself keeps which documents a sweep moved: each carries the
sweep's business key in the quarantine collection, so a retry after a failure mid-sweep
moves the rest and nothing twice, and the restore puts back exactly those.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from activities.actions import ActionRows, Applied, Attempt, ConfiguredClaim, in_thread
from integrations.vectorstores.registry import VectorStores, not_configured
from integrations.vectorstores.sweep import plan_sweep, sweep_until_settled, verify_swept
from smokejumper.config import Settings
from smokejumper.contracts.retrieval import (
    RESTORE_RETRIEVAL_INDEX,
    RETRIEVAL_INDEX_PLAN,
    SWEEP_RETRIEVAL_INDEX,
)
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.retrieval import (
    RetrievalPlan,
    RetrievalQuery,
    RetrievalSweep,
    SweepRestored,
)
from smokejumper.settings.vectorstores import VectorStoreSettings
from smokejumper.store.db import Store

SWEEP = "sweep_retrieval_index"


class RetrievalActivities(ActionRows):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.settings = settings
        self.stores = VectorStores(settings)

    def _config(self, application: str) -> VectorStoreSettings:
        config = self.settings.vectorstores.get(application)
        if config is None:
            raise not_configured(application)
        return config

    @RETRIEVAL_INDEX_PLAN.implementation
    async def retrieval_index_plan(self, query: RetrievalQuery) -> RetrievalPlan:
        """Whether the application's retrieval index is configured (from the
        configuration; nothing is contacted)."""
        app = query.application
        if not app:
            return RetrievalPlan(reason="the alerts name no application")
        config = self.settings.vectorstores.get(app)
        if config is None:
            return RetrievalPlan(application=app, reason=f"no [vectorstores.{app}] is configured")
        return RetrievalPlan(
            configured=True, application=app, provider=config.provider, collection=config.collection
        )

    @SWEEP_RETRIEVAL_INDEX.implementation
    async def sweep_retrieval_index(self, sweep: RetrievalSweep) -> ActionResult:
        """Move the swept documents into the quarantine collection; once per business key."""
        return await in_thread(self._sweep, sweep)

    def _sweep(self, sweep: RetrievalSweep) -> ActionResult:
        configured = self.settings.vectorstores.get(sweep.application)
        claim = ConfiguredClaim(
            sweep.incident_id,
            sweep.step,
            configured.provider if configured else "none",
            sweep.business_key,
        )

        def move(attempt: Attempt) -> Applied:
            config = self._config(sweep.application)
            store = self.stores.get(sweep.application)
            plan = plan_sweep(store, config, sweep)
            # What the first attempt found: a retry, finding some documents moved already,
            # reports the sweep as a whole, not its own remainder.
            found = attempt.before(plan.counts)
            settled = sweep_until_settled(store, config, sweep, plan)
            if settled.counts.quarantined > found.quarantined:
                # A later look found more than the first (documents the first read missed,
                # or added since): the report counts what was moved.
                found = settled.counts
            return Applied(found, verify_swept(store, config, settled.ids), reversible=True)

        return self._apply(SWEEP, claim, sweep.target, move)

    @RESTORE_RETRIEVAL_INDEX.implementation
    async def restore_retrieval_index(self, sweep: RetrievalSweep) -> ActionResult:
        """Put back every document the sweep moved, as it was; once per business key."""
        return await in_thread(self._restore, sweep)

    def _restore(self, sweep: RetrievalSweep) -> ActionResult:
        def restore(_: dict[str, Any]) -> BaseModel:
            config = self._config(sweep.application)
            store = self.stores.get(sweep.application)
            restored = store.move_back(
                config.quarantine,
                config.collection,
                key=sweep.business_key,
                batch=config.batch_size,
            )
            return SweepRestored(collection=config.collection, restored=restored)

        return self._undo(
            sweep.business_key,
            "sweep",
            lambda: True,
            "",
            restore,
        )
