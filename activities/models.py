"""Model rollback and its undo, each made once per incident, provider and `model@alias`.

The same `actions` rows as keys and endpoints (activities/actions.py): the alias's version
before the rollback is recorded first, so a resumed attempt rolls back from the version the
alias had when the incident touched it, not from the one it already moved it to, and a
restore puts back exactly that version.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select

from activities.actions import ActionRows, Applied, Attempt, in_thread
from integrations.digest import normalize_digest
from integrations.models.base import (
    ModelProvider,
    ModelProviderError,
    ModelState,
    NoKnownGoodVersion,
    last_known_good,
)
from integrations.models.registry import ModelProviders
from smokejumper.config import Settings
from smokejumper.contracts.models import RESTORE_MODEL, ROLLBACK_MODEL
from smokejumper.domain.containment import ActionResult, ModelAction
from smokejumper.store.db import Store
from smokejumper.store.tables import Action, InventoryModel, InventoryModelVersion

ROLLBACK = "rollback_model"


class ModelActivities(ActionRows):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.models = ModelProviders(settings)

    # -- roll back ------------------------------------------------------------------------

    @ROLLBACK_MODEL.implementation
    async def rollback_model(self, action: ModelAction) -> ActionResult:
        """Point the serving alias at the last known good version; once per business key."""
        return await in_thread(self._rollback, action)

    def _rollback(self, action: ModelAction) -> ActionResult:
        def roll_back(attempt: Attempt) -> Applied:
            provider = self.models.get(action.provider)
            current = provider.state(action.model, action.alias)
            before = attempt.before(current)
            if before.version is None:
                raise ModelProviderError(
                    f"{action.provider}: {action.target} points at no version; nothing to "
                    "roll back",
                    retryable=False,
                )
            target, evidence = self._target(provider, action, before.version)
            # Resuming after a crash: the alias may already be where this action put it.
            if current.version != target:
                provider.set_alias(action.model, action.alias, target)
            after = provider.state(action.model, action.alias)
            after.details.update(evidence, rolled_back_from=before.version)
            return Applied(after, after.version == target, provider.restorable)

        return self._apply(ROLLBACK, action, action.target, roll_back)

    def _target(
        self, provider: ModelProvider, action: ModelAction, current: str
    ) -> tuple[str, dict[str, Any]]:
        """The version to roll back to and what shows it is good (digest, versions skipped)."""
        expected = self._known_good_digests(action.model)
        if action.to_version is not None:
            wanted = expected.get(action.to_version)
            if wanted is None:
                raise NoKnownGoodVersion(
                    f"{action.model} version {action.to_version} is not known good in the "
                    "inventory (no digest recorded, or known_good is false)"
                )
            actual = provider.digest(action.model, action.to_version)
            if actual != wanted:
                raise NoKnownGoodVersion(
                    f"{action.model} version {action.to_version}: artifacts digest to "
                    f"{actual}, the inventory records {wanted}; not rolling back to it"
                )
            return action.to_version, {"digest": actual, "passed_over": []}
        found = last_known_good(provider, action.model, current, expected)
        if found.version is None:
            raise NoKnownGoodVersion(
                f"no known good version of {action.model} earlier than {current}; "
                f"passed over: {found.explain()}"
            )
        passed = [{"version": c.version, "why": c.verdict} for c in found.passed_over]
        return found.version, {"digest": found.digest, "passed_over": passed}

    def _known_good_digests(self, model: str) -> dict[str, str]:
        """Known-good versions of `model` (by inventory name or registry reference) and
        their recorded digests."""
        with self.store.session() as session:
            row = session.scalar(
                select(InventoryModel).where(
                    or_(InventoryModel.name == model, InventoryModel.registry_ref == model)
                )
            )
            if row is None:
                raise NoKnownGoodVersion(
                    f"model {model} is not in the inventory, so no version of it is known "
                    "good; import it or run `smokejumper inventory sync`"
                )
            versions = session.scalars(
                select(InventoryModelVersion).where(
                    InventoryModelVersion.model_id == row.id,
                    InventoryModelVersion.known_good.is_(True),
                    InventoryModelVersion.digest.is_not(None),
                )
            )
            found: dict[str, str] = {}
            for version in versions:
                digest = normalize_digest(version.digest or "")
                if digest is not None:
                    found[version.version] = digest
            return found

    # -- restore --------------------------------------------------------------------------

    @RESTORE_MODEL.implementation
    async def restore_model(self, action: ModelAction) -> ActionResult:
        """Point the alias back at the version the rollback recorded; once per business key."""
        return await in_thread(self._restore_model, action)

    def _restore_model(self, action: ModelAction) -> ActionResult:
        def restore(before: dict[str, Any]) -> BaseModel:
            provider = self.models.get(action.provider)
            prior = ModelState.model_validate(before)
            current = provider.state(action.model, action.alias)
            if current.version == prior.version:
                return current  # resumed after the alias was already moved back
            rolled_to = self._rolled_back_to(action.business_key)
            if current.version != rolled_to:
                # Someone deployed another version since; restoring would undo their fix.
                raise ModelProviderError(
                    f"{action.target} now points at version {current.version}, not "
                    f"{rolled_to} where the rollback left it; not restoring over that "
                    f"(it pointed at {prior.version} before)",
                    retryable=False,
                )
            return provider.set_alias(action.model, action.alias, prior.version)

        return self._undo(
            action.business_key,
            "rollback",
            lambda: self.models.get(action.provider).restorable,
            f"model provider {action.provider} cannot restore aliases: {action.target} stays "
            "rolled back",
            restore,
        )

    def _rolled_back_to(self, business_key: str) -> str | None:
        with self.store.session() as session:
            row = session.scalar(select(Action).where(Action.business_key == business_key))
            after = dict(row.after or {}) if row is not None else {}
        version = after.get("version")
        return None if version is None else str(version)
