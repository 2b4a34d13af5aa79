"""`sensitive-data-leakage`: sensitive data left through model output.

OWASP LLM02 (Sensitive Information Disclosure) and LLM07 (System Prompt Leakage); ATLAS
AML.T0057 (LLM Data Leakage), AML.T0056 (Extract LLM System Prompt), AML.T0024
(Exfiltration via AI Inference API).

1. Capture and hash the evidence (redacted previews only outside the evidence store) and
   classify what leaked: credentials, personal data, system prompt, proprietary data.
2. Credentials: revoke every leaked key at once — no approval, containment first, before
   anything else is written or read — and verify each revocation at the provider. Then
   the status (acknowledged) and the classification go on the timeline.
3. Read the alerts and look the target up in the inventory (owners, keys).
4. Elicited (the prompt asked for it): block the user (else session, else key) for 24 h.
5. Notify the owners and the security on-call (kinds and counts, never the data).
6. Contained.
7. The conversation's memory and caches, where `[memory.<application>]` is configured and
   the alerts name the session or user: keep their entries as evidence first (hashed,
   redacted preview, raw for responders only), then ask the security on-call whether to
   purge them (the leaked data is in them, and the model reads it back), with the
   snapshot's hash on the card. The purge deletes exactly what a snapshot kept. No
   answer in 1 h: nothing is deleted, and the report lists it to do by hand, as when
   purging is not configured, the snapshot failed, or the purge is denied.
8. Personal data: GDPR Art. 33 clock from awareness, and ask the DPO whether it is
   notifiable (escalating to incident commanders after 24 h; unanswered in 48 h counts as
   notifiable).
9. The report is written and kept as evidence.

Run as a child of `prompt-injection` (data left through an injection), it contains and
returns: the parent asks the privacy question (one place to ask it, and the clock's filing
goes to the incident's own workflow); the memory purge is left on the report's follow-ups.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from playbooks.common import (
    CREDENTIALS,
    PERSONAL_DATA,
    SECURITY_ONCALL,
    GenAIPlaybook,
)
from playbooks.revoked import Revoked
from smokejumper.masking import mask
from smokejumper.sdk import (
    MEMORY_PURGE_PLAN,
    PURGE_MEMORY,
    REVOKE_LEAKED_KEYS,
    SNAPSHOT_MEMORY,
    AlertKind,
    ComponentRef,
    Fallback,
    IncidentContext,
    IncidentStart,
    IncidentStatus,
    LeakAssessment,
    MemoryAction,
    MemoryQuery,
    RevokedOnSight,
    Route,
    Severity,
    failure_message,
    playbook,
)

# Runs recorded before the purge step existed replay without it.
MEMORY_PURGE_PATCH = "leakage-memory-purge"
# Runs recorded when the inventory was read before the revocation replay in that order.
CONTAINMENT_FIRST_PATCH = "leakage-containment-first"
# Runs recorded before the memory was kept ahead of its purge replay without the snapshot.
MEMORY_SNAPSHOT_PATCH = "leakage-memory-snapshot"
SNAPSHOT_STEP = "keep memory snapshot"
# Runs recorded before keys were revoked on sight (in the first workflow task, before the
# evidence is captured) replay without it.
ON_SIGHT_PATCH = "leakage-revoke-on-sight"
# Runs recorded before suppliers were told replay without it.
SUPPLIERS_PATCH = "leakage-tell-suppliers"
PURGE_APPROVAL = "purge memory"
PURGE_STEP = "purge conversation memory"
# The on-call was just notified of the leak. Unanswered, nothing is deleted (a purge
# cannot be undone) and the report says to do it by hand; the DPO's question comes next
# (the GDPR clock counts from the incident's opening, so the wait costs it nothing).
PURGE_DECIDE_WITHIN = timedelta(hours=1)
# A store outage is retried for a few minutes, then the purge is left to a responder; a
# configuration problem fails at once.
PURGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=6,
)
PURGE_TIMEOUT = timedelta(minutes=2)


def _conversation(context: IncidentContext) -> str:
    named = (("session", context.session_id), ("user", context.user))
    return " and ".join(f"{kind} {value}" for kind, value in named if value) or "the conversation"


@playbook
class SensitiveDataLeakage(GenAIPlaybook):
    name = "sensitive-data-leakage"
    version = "1"
    description = (
        "Sensitive data in model output: capture and classify it, revoke leaked credentials "
        "at once, block the principal that elicited it, notify owners, purge the "
        "conversation's memory on approval, run the GDPR clock and ask the DPO, and report."
    )
    severity = "high"
    owasp = ["LLM02", "LLM07"]
    atlas = ["AML.T0057", "AML.T0056", "AML.T0024"]
    triggers = [
        Route(
            playbook="sensitive-data-leakage",
            kinds=(AlertKind.DATA_LEAKAGE,),
            min_severity=Severity.LOW,
        )
    ]

    async def on_sight(self, incident: IncidentStart) -> None:
        """Revoke the leaked keys this worker can reach before anything else is done; the
        revoke steps below record them (or finish, and retry, what this could not)."""
        self._on_sight: RevokedOnSight | str | None = None
        if not workflow.patched(ON_SIGHT_PATCH):
            return
        try:
            self._on_sight = await REVOKE_LEAKED_KEYS.execute_local(incident.incident_id)
        except ActivityError as exc:
            self._on_sight = failure_message(exc)

    async def record_on_sight(self) -> None:
        seen = getattr(self, "_on_sight", None)
        if isinstance(seen, str):
            await self.record(
                "containment.on_sight",
                f"Revoking leaked keys on sight failed ({seen}); the revoke steps do it",
            )
        elif seen is not None and (seen.revoked or seen.left):
            revoked = ", ".join(mask(r.key_id) for r in seen.revoked) or "none"
            left = "; ".join(f"{key}: {why}" for key, why in seen.left.items())
            over = seen.left_over
            await self.record(
                "containment.on_sight",
                f"Revoked on sight, before the evidence was captured: {revoked}"
                + (f"; left to the revoke steps: {left}" if left else "")
                + (f"; {over} more keys left to the revoke steps" if over else ""),
                data={"revoked": len(seen.revoked), "left": len(seen.left) + over},
            )

    async def respond(self, incident: IncidentStart) -> None:
        child = workflow.info().parent is not None
        await self.record_on_sight()
        containment_first = workflow.patched(CONTAINMENT_FIRST_PATCH)
        if containment_first:
            # Every millisecond a leaked key stays live it can be used: classify and revoke
            # before anything else is written or read.
            leak = await self.classify_leak(incident)
            revoked = await self.revoke(
                incident, leak.keys, "leaked in model output", leak.keys_left_out
            )
            if not child:
                await self.set_status(IncidentStatus.ACKNOWLEDGED, "leak response started")
            await self.record_leak(leak)
            context, inventory = await self.look(incident)
        else:
            if not child:
                await self.set_status(IncidentStatus.ACKNOWLEDGED, "leak response started")
            context, inventory = await self.look(incident)
            leak = await self.assess_leak(incident)
            revoked = Revoked()
        if not leak.leaked:
            await self.notify_owners(
                inventory,
                f"{incident.ref}: a leak was reported but the evidence holds nothing the "
                "detectors recognise; a responder should confirm it is a false positive."
                if leak.assessed
                else f"{incident.ref}: a leak was reported and could not be classified (the "
                "step is with a responder): read the evidence, and revoke what it shows.",
            )
            return

        if CREDENTIALS in leak.categories or PERSONAL_DATA in leak.categories:
            await self.escalate(Severity.HIGH, f"{', '.join(leak.categories)} leaked")
        if not containment_first:
            revoked = await self.revoke(
                incident, leak.keys, "leaked in model output", leak.keys_left_out
            )
        unnamed = await self.hand_unnamed_credentials(leak)
        if leak.elicited:
            await self.block(incident, context, f"{incident.ref}: elicited a data leak")
        await self.notify_owners(
            inventory,
            f"{incident.ref}: {', '.join(leak.categories)} leaked through "
            f"{context.application or context.endpoint or 'a model'} "
            f"({', '.join(leak.kinds)}). {revoked.told()}."
            + (
                f" To rotate at their issuer (no key id here names them): {', '.join(unnamed)}."
                if unnamed
                else ""
            ),
        )
        purging = workflow.patched(MEMORY_PURGE_PATCH)
        if child:
            if purging:
                await self.follow_up(
                    f"Purge the conversation memory and caches of {_conversation(context)} "
                    "by hand where the application keeps them (not asked: the leak was "
                    "handled inside another playbook)"
                )
            return
        await self.set_status(IncidentStatus.CONTAINED, "leaked credentials revoked")
        if workflow.patched(SUPPLIERS_PATCH):
            await self.tell_leak_suppliers(incident, context, leak)
        if purging:
            await self.purge_memory(incident, context)
        await self.privacy_review(incident, leak)
        await self.write_report(incident)

    answers_later_alerts = True

    async def on_later_alerts(self, incident: IncidentStart, alert_ids: list[str]) -> None:
        """Alerts that joined after the response began can leak what the first did not
        (another key, from the same conversation): see GenAIPlaybook.revoke_later_keys."""
        leak = await self.classify_leak(incident)
        await self.revoke_later_keys(incident, alert_ids, leak, "leaked in model output")

    async def tell_leak_suppliers(
        self, incident: IncidentStart, context: IncidentContext, leak: LeakAssessment
    ) -> None:
        """A hosted model or endpoint from a third party leaked: its supplier's security
        team is told what kind of data, never the data."""
        components = [
            ComponentRef(type=kind, name=name)
            for kind, name in (("endpoint", context.endpoint), ("model", context.model))
            if name
        ]
        await self.tell_suppliers(
            incident,
            components,
            finding=f"{', '.join(leak.categories)} left through model output "
            f"({', '.join(leak.kinds)}); the credentials involved are revoked.",
            asked="Check your logs and caches for the same output, tell us whether it was "
            "retained or used for training, and of anything on your side that caused it.",
        )

    async def purge_memory(self, incident: IncidentStart, context: IncidentContext) -> None:
        """Ask whether to purge the conversation's memory and caches, and purge them on
        approval. Anything short of a purge leaves a follow-up."""
        who = _conversation(context)
        app = context.application or "the application"
        plan = await self.step(
            "check memory purge",
            MEMORY_PURGE_PLAN,
            MemoryQuery(
                application=context.application, session=context.session_id, user=context.user
            ),
        )
        by_hand = f"Purge the conversation memory and caches of {who} in {app} by hand"
        if plan is None:
            await self.follow_up(f"{by_hand}: could not check whether purging is configured")
            return
        if not plan.configured or context.application is None:
            await self.follow_up(f"{by_hand}: not automated here ({plan.reason})")
            return
        action = MemoryAction(
            incident_id=incident.incident_id,
            step=PURGE_STEP,
            application=context.application,
            session=context.session_id,
            user=context.user,
        )
        kept_now = (
            "the alert's prompt and output are already kept as evidence, the rest of the "
            "conversation is not"
        )
        if workflow.patched(MEMORY_SNAPSHOT_PATCH):
            # Preserve before destroying: what the purge would delete is evidence.
            kept = await self.step(
                SNAPSHOT_STEP, SNAPSHOT_MEMORY, action.model_copy(update={"step": SNAPSHOT_STEP})
            )
            if kept is None:
                await self.follow_up(
                    f"{by_hand}, after keeping its entries: the snapshot before the purge "
                    "did not complete (see the timeline), so nothing was deleted"
                )
                return
            if kept.keys == 0:
                await self.record(
                    "memory.empty",
                    f"Nothing to purge: {app}'s {plan.provider or 'store'} holds no entries "
                    f"of {who}",
                    step=SNAPSHOT_STEP,
                )
                return
            await self.record(
                "memory.kept",
                f"Kept {kept.keys} memory and cache entries of {who} as evidence "
                f"{kept.evidence_name} ({kept.short_hash}) before asking to purge them",
                step=SNAPSHOT_STEP,
                data={"keys": kept.keys, "sha256": kept.sha256, "size": kept.size},
            )
            kept_now = (
                f"their {kept.keys} entries are kept first as evidence {kept.evidence_name} "
                f"({kept.short_hash}; raw for responders only), and the purge deletes "
                "exactly those"
            )
        decision = await self.approve(
            PURGE_APPROVAL,
            question=f"Purge the conversation memory and caches of {who} in {app}?",
            risk=f"Approve: the entries are deleted from {app}'s {plan.provider or 'store'} "
            f"and cannot be restored; {kept_now}. Deny, or no "
            f"answer in {PURGE_DECIDE_WITHIN.total_seconds() / 3600:g} h: nothing is deleted, "
            "the leaked data stays in "
            "the conversation's memory, and the report lists the purge.",
            approvers=[SECURITY_ONCALL],
            timeout=PURGE_DECIDE_WITHIN,
            fallback=Fallback.SKIP,
        )
        if not decision.approved:
            why = decision.why_not
            await self.follow_up(f"{by_hand} once it is no longer needed: the purge was {why}")
            return
        # A purge that fails is handed to people (retry, done by hand, skip); it must not
        # undo the containment before it. Runs from before hand-offs raise here instead.
        try:
            result = await self.step(
                PURGE_STEP,
                PURGE_MEMORY,
                action,
                retry=PURGE_RETRY,
                timeout=PURGE_TIMEOUT,
            )
        except ActivityError:
            await self.follow_up(f"{by_hand}: the purge failed (see the timeline)")
            return
        if result is None:  # handed to people
            return
        before = int(result.before.get("keys", 0))
        await self.record(
            "memory.purged",
            f"Purged {result.after.get('keys', 0)} of {before} memory and cache keys of {who} "
            f"in {app} ({result.provider}); not restorable"
            + ("" if result.verified else "; the store still holds matching keys"),
            step=PURGE_STEP,
            data={"keys": before, "verified": result.verified},
        )
