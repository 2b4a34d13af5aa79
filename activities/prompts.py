"""System prompts: the plan for a leaked prompt (inventory, registry, the credentials its
text holds), the canary check, and rotating the prompt with its undo.

The prompt's text is leaked data: it is read from the registry and scanned here, and only
kinds, counts and key ids leave this module (no log line, message or result carries it).
Rotation uses the same `actions` rows as keys and models (activities/actions.py), once per
incident, provider and `prompt@alias`: the alias's version before the rotation is recorded
first, so the undo puts back exactly that version.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.actions import ActionRows, Applied, Attempt, in_thread
from activities.evidence import EvidenceActivities
from integrations.prompts.base import (
    PromptNotFound,
    PromptProvider,
    PromptProviderError,
    PromptState,
)
from integrations.prompts.registry import PromptProviders
from smokejumper.assessment import categories_of, leak_of
from smokejumper.canary import CanaryDigest, canary_hits
from smokejumper.config import Settings
from smokejumper.contracts.prompts import (
    ASSESS_PROMPT_LEAK,
    CHECK_CANARY,
    PROMPT_PLAN,
    RESTORE_PROMPT,
    ROTATE_PROMPT,
)
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.evidence import EvidenceCapture
from smokejumper.domain.prompts import (
    CanaryCheck,
    CanaryQuery,
    PromptAction,
    PromptPlan,
    PromptQuery,
    unnamed_credentials,
)
from smokejumper.domain.response import KeptEvidence, KeyRef, LeakAssessment, listed_evidence
from smokejumper.inventory.key_prefixes import key_prefixes
from smokejumper.leakage import CREDENTIAL_KINDS, LeakClassifier, prefix_patterns
from smokejumper.redaction import Redactor
from smokejumper.store.db import Store
from smokejumper.store.tables import (
    AlertRow,
    Incident,
    InventoryApiKey,
    InventoryApplication,
    InventoryPrompt,
)

ROTATE = "rotate_prompt"
# A system prompt is a few kilobytes; one of megabytes is scanned this far (the plan says
# it was cut short, and the report asks for the rest to be checked by hand).
MAX_PROMPT_SCAN = 512_000
WITHHELD = "[withheld: a leaked system prompt; read it in the evidence store]"


class WithheldPreviews(Redactor):
    """Finds what the configured redactor finds, and previews nothing: once secrets are
    masked, a leaked system prompt's own words are still the leaked data."""

    def redact(self, text: str) -> str:
        return WITHHELD


class PromptActivities(ActionRows):
    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.settings = settings
        self.prompts = PromptProviders(settings)

    # -- assess -----------------------------------------------------------------------------

    @ASSESS_PROMPT_LEAK.implementation
    async def assess_prompt_leak(self, incident_id: int) -> LeakAssessment:
        """`assess_leak` for a system prompt: every alert's prompt and response kept as
        evidence (hashed, previews withheld), and what the responses gave away."""
        return await asyncio.to_thread(self._assess, incident_id)

    def _assess(self, incident_id: int) -> LeakAssessment:
        with self.store.session() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise ApplicationError(
                    f"no incident {incident_id}", type="UnknownIncident", non_retryable=True
                )
            kind = incident.kind
            rows = session.execute(
                select(AlertRow.id, AlertRow.normalized)
                .where(AlertRow.incident_id == incident_id)
                .order_by(AlertRow.received_at, AlertRow.id)
            ).all()
        alerts = [dict(normalized) for _, normalized in rows]
        prefixes = key_prefixes(self.store)
        patterns = {**self.settings.evidence.redaction_patterns, **prefix_patterns(prefixes)}
        captures = [
            EvidenceCapture(
                incident_id=incident_id,
                name=f"alert-{alert_id[:8]}-{field}",
                kind=f"alert.{field}",
                content=text,
                captured_by="playbook",
            )
            for alert_id, normalized in rows
            for field in ("prompt", "response")
            if (text := (normalized.get("evidence") or {}).get(field))
        ]
        refs = EvidenceActivities(self.store, self.settings).capture_many(
            captures, WithheldPreviews(patterns)
        )
        classifier = LeakClassifier(self.settings.evidence.redaction_patterns, prefixes)
        counts, key_ids, elicited = leak_of(kind, alerts, classifier)
        return LeakAssessment(
            incident_id=incident_id,
            categories=categories_of(counts),
            kinds=sorted(counts),
            keys=self._keys(key_ids),
            elicited=elicited,
            evidence=listed_evidence(
                [KeptEvidence(name=r.name, sha256=r.sha256, findings=r.findings) for r in refs]
            ),
            evidence_count=len(refs),
        )

    # -- plan -------------------------------------------------------------------------------

    @PROMPT_PLAN.implementation
    async def prompt_plan(self, query: PromptQuery) -> PromptPlan:
        """The leaked prompt in the inventory and its registry; what its text holds."""
        return await in_thread(self._plan, query)

    def _row(self, query: PromptQuery) -> tuple[InventoryPrompt | None, list[str], str | None]:
        """The inventory's prompt, its owners, and why there is none."""
        with self.store.session() as session:
            if query.prompt:
                rows = list(
                    session.scalars(
                        select(InventoryPrompt).where(InventoryPrompt.name == query.prompt)
                    )
                )
                missing = f"prompt {query.prompt} is not in the inventory"
            elif query.application:
                rows = list(
                    session.scalars(
                        select(InventoryPrompt)
                        .join(InventoryApplication)
                        .where(InventoryApplication.name == query.application)
                        .order_by(InventoryPrompt.name)
                    )
                )
                missing = f"the inventory records no prompt of application {query.application}"
            else:
                return None, [], "the alerts name no application or prompt"
            if not rows:
                return None, [], missing
            if len(rows) > 1:
                names = ", ".join(r.name for r in rows)
                return (
                    None,
                    [],
                    (
                        f"application {query.application} has several prompts ({names}); the "
                        "alert's `prompt` label must name the one that leaked"
                    ),
                )
            row = rows[0]
            owners = [row.owner] if row.owner else []
            if row.application_id is not None:
                app = session.get(InventoryApplication, row.application_id)
                if app is not None and app.owner and app.owner not in owners:
                    owners.append(app.owner)
            session.expunge(row)
            return row, owners, None

    def _plan(self, query: PromptQuery) -> PromptPlan:
        row, owners, why = self._row(query)
        if row is None:
            return PromptPlan(incident_id=query.incident_id, reason=why)
        plan = PromptPlan(
            incident_id=query.incident_id,
            prompt=row.name,
            provider=row.provider,
            alias=row.alias,
            owners=owners,
            canaries=len(row.canaries or []),
        )
        try:
            provider = self.prompts.get(row.provider)
            state = provider.state(row.name, row.alias)
        except PromptNotFound as exc:
            return plan.model_copy(update={"reason": str(exc)})
        if state.version is None:
            return plan.model_copy(
                update={"reason": f"{row.name}@{row.alias} points at no version at {row.provider}"}
            )
        text = provider.text(row.name, state.version)
        classifier = LeakClassifier(
            self.settings.evidence.redaction_patterns, key_prefixes(self.store)
        )
        found = classifier.classify(text[:MAX_PROMPT_SCAN])
        kinds = sorted(k for k in found.counts if k in CREDENTIAL_KINDS)
        update: dict[str, Any] = {
            "found": True,
            "serving_version": state.version,
            "secret_kinds": kinds,
            "keys": self._keys(found.key_ids),
            "unnamed_kinds": unnamed_credentials(kinds),
            "scanned_chars": min(len(text), MAX_PROMPT_SCAN),
            "truncated": len(text) > MAX_PROMPT_SCAN,
        }
        update.update(self._replacement(provider, row, state.version, classifier))
        return plan.model_copy(update=update)

    def _replacement(
        self,
        provider: PromptProvider,
        row: InventoryPrompt,
        serving: str,
        classifier: LeakClassifier,
    ) -> dict[str, Any]:
        version = row.replacement_version
        if version is None:
            return {}
        if version == serving:
            return {
                "replacement_problem": f"the inventory names version {version} as the "
                "replacement, and it is the version serving now"
            }
        try:
            text = provider.text(row.name, version)
        except PromptNotFound:
            return {
                "replacement_problem": f"the replacement version {version} does not exist at "
                f"{row.provider}"
            }
        found = classifier.classify(text[:MAX_PROMPT_SCAN])
        return {
            "replacement_version": version,
            "replacement_kinds": sorted(k for k in found.counts if k in CREDENTIAL_KINDS),
        }

    def _keys(self, key_ids: set[str]) -> list[KeyRef]:
        """Key ids with the provider that can revoke them: the inventory's, or AWS IAM for
        an access key id the inventory does not list (as the leak assessment does)."""
        if not key_ids:
            return []
        with self.store.session() as session:
            known = {
                row.key_id: row.provider
                for row in session.scalars(
                    select(InventoryApiKey).where(InventoryApiKey.key_id.in_(key_ids))
                )
            }
        return [KeyRef(provider=known.get(k, "aws_iam"), key_id=k) for k in sorted(key_ids)]

    # -- canary -----------------------------------------------------------------------------

    @CHECK_CANARY.implementation
    async def check_canary(self, query: CanaryQuery) -> CanaryCheck:
        """Whether any model output of the incident's alerts holds a canary of the prompt."""
        return await asyncio.to_thread(self._check_canary, query)

    def _check_canary(self, query: CanaryQuery) -> CanaryCheck:
        with self.store.session() as session:
            row = session.scalar(
                select(InventoryPrompt).where(InventoryPrompt.name == query.prompt)
            )
            canaries = [CanaryDigest.from_json(c) for c in (row.canaries if row else [])]
            alerts = session.scalars(
                select(AlertRow.normalized).where(AlertRow.incident_id == query.incident_id)
            ).all()
        outputs = [
            text
            for alert in alerts
            if isinstance(text := (alert.get("evidence") or {}).get("response"), str)
        ]
        hits = canary_hits(outputs, canaries)
        return CanaryCheck(
            incident_id=query.incident_id,
            prompt=query.prompt,
            canaries=len(canaries),
            hits=len(hits),
            outputs=len(outputs),
        )

    # -- rotate -----------------------------------------------------------------------------

    @ROTATE_PROMPT.implementation
    async def rotate_prompt(self, action: PromptAction) -> ActionResult:
        """Tag the leaked version and point the alias at the replacement; once per key."""
        return await in_thread(self._rotate, action)

    def _rotate(self, action: PromptAction) -> ActionResult:
        def rotate(attempt: Attempt) -> Applied:
            provider = self.prompts.get(action.provider)
            current = provider.state(action.prompt, action.alias)
            before = attempt.before(current)
            if before.version is None:
                raise PromptProviderError(
                    f"{action.provider}: {action.target} points at no version; nothing to rotate",
                    retryable=False,
                )
            if action.from_version is not None and before.version != action.from_version:
                # Someone moved the alias since the plan: their version may be the fix.
                raise PromptProviderError(
                    f"{action.target} points at version {before.version}, not "
                    f"{action.from_version} that leaked; not rotating over that",
                    retryable=False,
                )
            if before.version == action.to_version:
                raise PromptProviderError(
                    f"{action.target} already serves version {action.to_version}, the "
                    "replacement; name another replacement",
                    retryable=False,
                )
            # The leaked version is marked first: even if the move fails, nobody rolls the
            # alias back to it by mistake. Setting the same tag again changes nothing.
            provider.set_tag(action.prompt, before.version, action.leaked_tag, action.incident_ref)
            if current.version != action.to_version:
                provider.set_alias(action.prompt, action.alias, action.to_version)
            after = provider.state(action.prompt, action.alias)
            after.details.update(
                rotated_from=before.version,
                tagged={action.leaked_tag: action.incident_ref},
            )
            return Applied(after, after.version == action.to_version, provider.restorable)

        return self._apply(ROTATE, action, action.target, rotate)

    @RESTORE_PROMPT.implementation
    async def restore_prompt(self, action: PromptAction) -> ActionResult:
        """Point the alias back at the version the rotation found; once per business key."""
        return await in_thread(self._restore, action)

    def _restore(self, action: PromptAction) -> ActionResult:
        def restore(before: dict[str, Any]) -> BaseModel:
            provider = self.prompts.get(action.provider)
            prior = PromptState.model_validate(before)
            current = provider.state(action.prompt, action.alias)
            if current.version == prior.version:
                return current  # resumed after the alias was already moved back
            if current.version != action.to_version:
                # Someone published another version since; restoring would undo their fix.
                raise PromptProviderError(
                    f"{action.target} now points at version {current.version}, not "
                    f"{action.to_version} where the rotation left it; not restoring over "
                    f"that (it pointed at {prior.version} before)",
                    retryable=False,
                )
            if prior.version is None:
                raise ApplicationError(
                    f"{action.target} pointed at no version before", non_retryable=True
                )
            return provider.set_alias(action.prompt, action.alias, prior.version)

        return self._undo(
            action.business_key,
            "rotation",
            lambda: self.prompts.get(action.provider).restorable,
            f"prompt provider {action.provider} cannot move aliases back: {action.target} "
            "stays rotated",
            restore,
        )
