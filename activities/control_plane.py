"""Embedded control-plane actions: block a principal, add a temporary input-filter rule,
quarantine a retrieval document, and their undo.

Each runs once per business key on the `actions` table, with the same claim / before /
complete / undo bookkeeping as key revocation and endpoint isolation
(activities/actions.py): a retry that finds the row completed returns what it recorded,
one that finds it started looks at the target before writing again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.actions import ActionRows, Applied, Attempt, in_thread
from integrations.controls.local import (
    ACTIVE,
    BLOCKED,
    PROVIDER,
    QUARANTINED,
    ControlState,
    LocalDocuments,
    LocalFilterRules,
    LocalPrincipals,
    _Records,
    expired,
    expiry_text,
)
from smokejumper.config import Settings
from smokejumper.contracts.controls import (
    ADD_FILTER_RULE,
    BLOCK_PRINCIPAL,
    QUARANTINE_DOCUMENT,
    RELEASE_DOCUMENT,
    REMOVE_FILTER_RULE,
    UNBLOCK_PRINCIPAL,
)
from smokejumper.domain.containment import (
    ActionResult,
    DocumentAction,
    FilterRuleAction,
    PrincipalAction,
)
from smokejumper.store.db import Store

BLOCK = "block_principal"
ADD_RULE = "add_filter_rule"
QUARANTINE = "quarantine_document"


def _provider(name: str) -> None:
    if name != PROVIDER:
        raise ApplicationError(
            f"unknown control-plane provider {name!r}; known: {PROVIDER}",
            type="UnknownProvider",
            non_retryable=True,
        )


def _by(incident_id: int) -> str:
    return f"incident {incident_id}"


class ControlPlaneActivities(ActionRows):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.principals = LocalPrincipals(settings.local_principals_file)
        self.rules = LocalFilterRules(settings.local_filter_rules_file)
        self.documents = LocalDocuments(settings.local_documents_file)

    # -- block / unblock a principal ------------------------------------------------------

    @BLOCK_PRINCIPAL.implementation
    async def block_principal(self, action: PrincipalAction) -> ActionResult:
        """Refuse the principal's requests at the gateway; once per business key."""
        target = action.target

        def block() -> ControlState:
            return self.principals.block(
                target,
                by=_by(action.incident_id),
                reason=action.reason,
                expires_at=action.expires_at,
            )

        return await in_thread(
            self._contain,
            BLOCK,
            action,
            target,
            # Blocked already, and for as long: a throttle does not satisfy a block.
            lambda state: (
                state.status == BLOCKED
                and not expired(state.details)
                and state.details.get("expires_at") == expiry_text(action.expires_at)
            ),
            self.principals,
            block,
            lambda: self.principals.is_blocked(target),
        )

    @UNBLOCK_PRINCIPAL.implementation
    async def unblock_principal(self, action: PrincipalAction) -> ActionResult:
        """Put the principal back as the block found it."""
        return await in_thread(self._restore, action, "block", self.principals, action.target)

    # -- add / remove an input-filter rule ------------------------------------------------

    @ADD_FILTER_RULE.implementation
    async def add_filter_rule(self, action: FilterRuleAction) -> ActionResult:
        """Make the gateway refuse prompts matching the rule until it expires."""

        def add() -> ControlState:
            return self.rules.add(
                action.rule_id,
                kind=action.kind,
                pattern=action.pattern,
                by=_by(action.incident_id),
                reason=action.reason,
                expires_at=action.expires_at,
            )

        if action.kind == "pattern":
            _valid_regex(action)
        return await in_thread(
            self._contain,
            ADD_RULE,
            action,
            action.rule_id,
            lambda state: state.status == ACTIVE and not expired(state.details),
            self.rules,
            add,
            lambda: self.rules.is_active(action.rule_id),
        )

    @REMOVE_FILTER_RULE.implementation
    async def remove_filter_rule(self, action: FilterRuleAction) -> ActionResult:
        """Take the rule out before it expires (or put back the one it replaced)."""
        return await in_thread(self._restore, action, "filter rule", self.rules, action.rule_id)

    # -- quarantine / release a retrieval document ----------------------------------------

    @QUARANTINE_DOCUMENT.implementation
    async def quarantine_document(self, action: DocumentAction) -> ActionResult:
        """Keep the document out of retrieval results; once per business key."""

        def quarantine() -> ControlState:
            return self.documents.quarantine(
                action.document,
                source=action.source,
                by=_by(action.incident_id),
                reason=action.reason,
            )

        return await in_thread(
            self._contain,
            QUARANTINE,
            action,
            action.document,
            lambda state: state.status == QUARANTINED,
            self.documents,
            quarantine,
            lambda: self.documents.is_quarantined(action.document),
        )

    @RELEASE_DOCUMENT.implementation
    async def release_document(self, action: DocumentAction) -> ActionResult:
        """Return the document to retrieval as the quarantine found it."""
        return await in_thread(self._restore, action, "quarantine", self.documents, action.document)

    # -- shared -----------------------------------------------------------------------------

    def _contain(
        self,
        kind: str,
        action: PrincipalAction | FilterRuleAction | DocumentAction,
        target: str,
        contained: Callable[[ControlState], bool],
        records: _Records,
        apply: Callable[[], ControlState],
        verify: Callable[[], bool],
    ) -> ActionResult:
        _provider(action.provider)

        def change(attempt: Attempt) -> Applied:
            return attempt.contain(
                records.get(target), done=contained, apply=apply, verify=verify, reversible=True
            )

        return self._apply(kind, action, target, change)

    def _restore(
        self,
        action: PrincipalAction | FilterRuleAction | DocumentAction,
        what: str,
        records: _Records,
        target: str,
    ) -> ActionResult:
        _provider(action.provider)

        def restore(before: dict[str, Any]) -> BaseModel:
            return records.restore(target, ControlState.model_validate(before))

        return self._undo(action.business_key, what, lambda: True, "", restore)


def _valid_regex(action: FilterRuleAction) -> None:
    try:
        re.compile(action.pattern)
    except re.error as exc:
        raise ApplicationError(
            f"filter rule {action.rule_id}: pattern is not a valid regex: {exc}",
            type="InvalidFilterRule",
            non_retryable=True,
        ) from None
