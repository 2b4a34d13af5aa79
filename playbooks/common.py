"""What the built-in GenAI playbooks share: looking at the incident before acting, the
containment steps they all take (revoke, block, notify owners), the privacy review, and
the closing report. Not a playbook itself (no @playbook): a base class for theirs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from playbooks.revoked import Revoked
from smokejumper.domain.prompts import unnamed_credentials
from smokejumper.leakage import CREDENTIAL_KINDS_FIRST
from smokejumper.masking import mask
from smokejumper.sdk import (
    ASSESS_LEAK,
    BLOCK_PRINCIPAL,
    INCIDENT_CONTEXT,
    INVENTORY_CONTEXT,
    KEYS_AT_MOST,
    KEYS_IN_A_BATCH,
    KEYS_ONE_BY_ONE,
    NOTIFY_SUPPLIERS,
    RECORD_REPORT,
    REVOKE_KEY,
    REVOKE_KEYS,
    ClockBasis,
    ClockKind,
    ComponentRef,
    Escalation,
    Fallback,
    IncidentContext,
    IncidentStart,
    IncidentStatus,
    InventoryContext,
    InventoryQuery,
    KeyAction,
    KeyRef,
    KeysAction,
    LeakAssessment,
    OnFailure,
    Playbook,
    PrincipalAction,
    Severity,
    SupplierNotice,
    batch_step,
    failure_message,
    revoke_step,
)

# Past KEYS_ONE_BY_ONE keys, a leak's keys are revoked a batch per step (runs recorded before
# revoked every key in a step of its own).
KEYS_IN_BATCHES_PATCH = "keys-in-batches"

# Approver groups the built-in playbooks ask (configure them under [approvers]).
SECURITY_ONCALL = "group:security-oncall"
DPO = "group:dpo"
INCIDENT_COMMANDERS = "group:incident-commanders"
ML_PLATFORM = "group:ml-platform"
# Legal / disclosure committee: decides whether an incident is material (SEC 8-K).
DISCLOSURE = "group:disclosure"

# The response waits for the mail to suppliers: an SMTP server that refuses for more than
# a few seconds leaves it to a responder (a follow-up) rather than hold up what comes next.
SUPPLIER_MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)
SUPPLIER_MAIL_TIMEOUT = timedelta(seconds=60)

# A block placed by a playbook lapses on its own: a responder extends it deliberately.
BLOCK_FOR = timedelta(hours=24)
DPO_ESCALATE_AFTER = timedelta(hours=24)
DPO_DECIDE_WITHIN = timedelta(hours=48)
# Nobody deciding materiality within a day brings in the incident commanders; there is no
# fallback, because only people can make the determination the 8-K clock runs from.
MATERIALITY_ESCALATE_AFTER = timedelta(hours=24)
# The shortest Art. 73 deadline is 2 days: each classification question gets 12 hours,
# then the stricter class is assumed, so the deadline is never later than the true one.
ART73_DECIDE_WITHIN = timedelta(hours=12)
MATERIALITY_STEP = "materiality"
ART73_WIDESPREAD_STEP = "art73 widespread"
ART73_DEATH_STEP = "art73 death"
PERSONAL_DATA = "personal_data"
CREDENTIALS = "credentials"


# Marks runs that count every credential detector's kind as credentials, and whose leak
# response hands credentials no key id names to a responder (see unnamed_credentials).
UNNAMED_CREDENTIALS_PATCH = "leak-every-credential-kind"
ROTATE_UNNAMED_STEP = "rotate leaked credentials"


class GenAIPlaybook(Playbook):
    """Helpers for the built-in playbooks; each step they take is on the timeline."""

    # A failed containment step is put to the on-call, and to the incident commanders when
    # nobody answers (see Playbook.step).
    handoff_approvers = [SECURITY_ONCALL]
    handoff_escalate_to = [INCIDENT_COMMANDERS]

    # What later alerts are compared with (revoke_later_keys): the keys `revoke` has dealt
    # with, how many it left out, the credential kinds handed on to rotate by hand, and
    # the inventory `look` read last. Set on the instance as the response goes.
    _keys_handled: frozenset[str] = frozenset()
    _left_out_handled = 0
    _unnamed_handled: frozenset[str] = frozenset()
    _inventory: InventoryContext | None = None

    async def revoke_later_keys(
        self, incident: IncidentStart, alert_ids: list[str], leak: LeakAssessment, why: str
    ) -> None:
        """For `on_later_alerts`: each key of `leak` (the incident's alerts classified again)
        not dealt with yet is revoked as the first ones were, credentials of a kind no key
        id names and not handed on yet go to a responder to rotate, the owners are told,
        and the status says acknowledged until it is done; nothing new, nothing but a
        timeline entry."""
        new, left_out, rotate = self.later_leak(leak)
        if not new and not left_out and not rotate:
            await self.record(
                "leak.later",
                f"The {len(alert_ids)} later alert(s) leaked no key not revoked already",
            )
            return
        keys = bool(new or left_out)
        await self.set_status(
            IncidentStatus.ACKNOWLEDGED,
            f"later alerts leaked {len(new) + left_out} more key(s): revoking"
            if keys
            else "later alerts leaked credentials to rotate by hand",
        )
        inventory = self._inventory
        if inventory is None:
            _, inventory = await self.look(incident)
        await self.contain_later_leak(
            incident, inventory, f"{len(alert_ids)} later alert(s)", (new, left_out, rotate), why
        )
        await self.set_status(
            IncidentStatus.CONTAINED,
            "keys leaked in later alerts revoked" if keys else "later credentials handed on",
        )

    def later_leak(self, leak: LeakAssessment) -> tuple[list[KeyRef], int, list[str]]:
        """What `leak` (the incident's alerts classified again) holds that was not dealt
        with yet: keys to revoke, keys left out, and credential kinds no key id names."""
        new = [key for key in leak.keys if key.key_id not in self._keys_handled]
        left_out = max(0, leak.keys_left_out - self._left_out_handled)
        return new, left_out, self.later_rotation(leak)

    async def contain_later_leak(
        self,
        incident: IncidentStart,
        inventory: InventoryContext,
        later: str,
        found: tuple[list[KeyRef], int, list[str]],
        why: str,
    ) -> None:
        """Revoke the keys `later` alerts leaked, hand the credentials no key id names to a
        responder to rotate, and tell the owners of each (see later_leak)."""
        new, left_out, rotate = found
        if new or left_out:
            revoked = await self.revoke(incident, new, why, left_out)
            await self.notify_owners(
                inventory, f"{incident.ref}: {later} leaked more keys. {revoked.told()}."
            )
        if rotate:
            await self.hand_rotation(f"{ROTATE_UNNAMED_STEP} ({', '.join(rotate)})", rotate)
            await self.notify_owners(
                inventory,
                f"{incident.ref}: {later} leaked credentials no key id here names "
                f"({', '.join(rotate)}): rotate them at their issuer.",
            )

    def later_alerts_memory(self) -> dict[str, Any]:
        return {
            "keys": sorted(self._keys_handled),
            "keys_left_out": self._left_out_handled,
            "unnamed": sorted(self._unnamed_handled),
            "inventory": self._inventory.model_dump(mode="json") if self._inventory else None,
        }

    def recall_later_alerts_memory(self, memory: dict[str, Any]) -> None:
        self._keys_handled = frozenset(memory.get("keys", []))
        self._left_out_handled = int(memory.get("keys_left_out", 0))
        self._unnamed_handled = frozenset(memory.get("unnamed", []))
        inventory = memory.get("inventory")
        self._inventory = InventoryContext.model_validate(inventory) if inventory else None

    def unnamed_kinds(self, kinds: list[str]) -> list[str]:
        """The credential kinds among `kinds` that no key id names (an Anthropic key, a JWT,
        a password): nothing here can revoke them. Runs started while fewer kinds counted
        as credentials keep their count."""
        every = unnamed_credentials(kinds)
        first = unnamed_credentials(kinds, CREDENTIAL_KINDS_FIRST)
        if every == first or workflow.patched(UNNAMED_CREDENTIALS_PATCH):
            return every
        return first

    async def hand_unnamed_credentials(self, leak: LeakAssessment) -> list[str]:
        """Hand the leak's credentials that no key id names to a responder, to rotate at
        their issuer: the incident is not contained until they have. Returns their kinds."""
        unnamed = self.later_rotation(leak)
        if unnamed:
            await self.hand_rotation(ROTATE_UNNAMED_STEP, unnamed)
        return unnamed

    def later_rotation(self, leak: LeakAssessment) -> list[str]:
        """The credential kinds of `leak` no key id names that were not handed on yet (all
        of them, in the first response)."""
        rotate = [k for k in unnamed_credentials(leak.kinds) if k not in self._unnamed_handled]
        return rotate if rotate and workflow.patched(UNNAMED_CREDENTIALS_PATCH) else []

    async def hand_rotation(self, step: str, kinds: list[str]) -> None:
        """Ask a responder to rotate credentials of `kinds` at their issuer, as `step`;
        remembered as handed on (revoke_later_keys)."""
        self._unnamed_handled = self._unnamed_handled | set(kinds)
        await self.missing(
            step,
            f"credentials no key id names leaked ({', '.join(kinds)}): rotate them at "
            "their issuer by hand",
        )

    async def look(self, incident: IncidentStart) -> tuple[IncidentContext, InventoryContext]:
        """What the alerts say, and what the inventory knows about their target."""
        context = await self.step("read alerts", INCIDENT_CONTEXT, incident.incident_id)
        if context is None:
            # Handed to people: go on with what the incident itself says, so that every
            # step that needs more is handed to them too.
            context = IncidentContext(
                incident_id=incident.incident_id,
                ref=incident.ref,
                kind=incident.kind,
                severity=incident.severity,
            )
        inventory = await self.step(
            "look up inventory",
            INVENTORY_CONTEXT,
            InventoryQuery(
                endpoint=context.endpoint,
                model=context.model,
                model_version=context.model_version,
                application=context.application,
                key_id=context.api_key_id,
            ),
        )
        self._inventory = inventory or InventoryContext()
        return context, self._inventory

    async def assess_leak(self, incident: IncidentStart) -> LeakAssessment:
        """Capture and hash the evidence, and classify what left; on the timeline."""
        leak = await self.classify_leak(incident)
        await self.record_leak(leak)
        return leak

    async def classify_leak(self, incident: IncidentStart) -> LeakAssessment:
        """Capture and hash the evidence, and classify what left."""
        # Handed to people, it classifies nothing: the evidence is on the timeline to read.
        return await self.step(
            "classify leak", ASSESS_LEAK, incident.incident_id
        ) or LeakAssessment.not_assessed(incident.incident_id)

    async def record_leak(self, leak: LeakAssessment) -> None:
        if not leak.assessed:
            await self.record(
                "leak.unclassified",
                "Not classified: the classification step failed and is with a responder; "
                "what left is not known",
            )
            return
        what = ", ".join(leak.categories) or "nothing sensitive"
        await self.record(
            "leak.classified",
            f"Leaked: {what}"
            + (f" ({', '.join(leak.kinds)})" if leak.kinds else "")
            + ("; elicited by the prompt" if leak.elicited else ""),
            data={
                "categories": ", ".join(leak.categories),
                "kinds": ", ".join(leak.kinds),
                "elicited": leak.elicited,
                "evidence": leak.evidence_count,
            },
        )

    async def revoke(
        self, incident: IncidentStart, keys: list[KeyRef], why: str, left_out: int = 0
    ) -> Revoked:
        """Revoke each key at once (containment first) and check it took; returns what was
        done to each (masked): a revocation not confirmed yet is re-checked by the SDK, a
        failed one is handed to people. Past KEYS_ONE_BY_ONE keys, the rest are revoked in
        batches: a step per batch of a provider's keys. `left_out` key ids the assessment
        found past KEYS_AT_MOST are handed to people, once for all. The keys, and the count
        left out, are remembered as dealt with (revoke_later_keys)."""
        one_by_one, batched = keys, []
        if len(keys) > KEYS_ONE_BY_ONE and workflow.patched(KEYS_IN_BATCHES_PATCH):
            one_by_one, batched = keys[:KEYS_ONE_BY_ONE], keys[KEYS_ONE_BY_ONE:]
        revoked = await self._revoke_each(incident, one_by_one)
        providers = sorted({key.provider for key in batched})
        place = len(one_by_one) + 1
        for provider in providers:
            ids = [key.key_id for key in batched if key.provider == provider]
            for start in range(0, len(ids), KEYS_IN_A_BATCH):
                chunk = ids[start : start + KEYS_IN_A_BATCH]
                name = batch_step(chunk, place, len(keys))
                place += len(chunk)
                batch = KeysAction(
                    incident_id=incident.incident_id, step=name, provider=provider, key_ids=chunk
                )
                result = await self.step(name, REVOKE_KEYS, batch)
                masked = [mask(key_id) for key_id in chunk]
                if result is None:
                    revoked.failed += masked
                    continue
                revoked.unverified += result.unverified
                revoked.done += [key for key in masked if key not in result.unverified]
        self._keys_handled = self._keys_handled | {key.key_id for key in keys}
        self._left_out_handled += left_out
        if left_out:
            revoked.left_out = left_out
            await self.missing(
                f"revoke {left_out} more keys",
                f"the output held {left_out} more key-shaped ids than the {KEYS_AT_MOST} "
                "revoked automatically (the inventory's keys first); read the evidence, and "
                "revoke those that are real by hand",
            )
        return revoked

    async def _revoke_each(self, incident: IncidentStart, keys: list[KeyRef]) -> Revoked:
        revoked = Revoked()
        for key in keys:
            # The action carries the real id; the name, which viewers read, masks it. The
            # same name as the on-sight revocation's: one action row.
            name = revoke_step(key.key_id)
            action = KeyAction(
                incident_id=incident.incident_id,
                step=name,
                provider=key.provider,
                key_id=key.key_id,
            )
            result = await self.step(name, REVOKE_KEY, action)
            if result is None:
                revoked.failed.append(mask(key.key_id))
            elif not result.verified:
                revoked.unverified.append(mask(key.key_id))
            else:
                revoked.done.append(mask(key.key_id))
        return revoked

    async def block(
        self,
        incident: IncidentStart,
        context: IncidentContext,
        reason: str,
        *,
        for_: timedelta | None = BLOCK_FOR,
        step: str = "block principal",
    ) -> PrincipalAction | None:
        """Block the most specific principal the alerts name: the user, else the session,
        else the API key; None when they name none."""
        principal: tuple[str, str] | None = None
        if context.user:
            principal = ("user", context.user)
        elif context.session_id:
            principal = ("session", context.session_id)
        elif context.api_key_id:
            principal = ("api_key", context.api_key_id)
        if principal is None:
            await self.missing(step, "the alerts name no user, session or key to block")
            return None
        action = PrincipalAction(
            incident_id=incident.incident_id,
            step=step,
            principal_type=principal[0],
            principal=principal[1],
            expires_at=workflow.now() + for_ if for_ is not None else None,
            reason=reason,
        )
        await self.step(step, BLOCK_PRINCIPAL, action)
        return action

    async def notify_owners(
        self, inventory: InventoryContext, message: str, also: list[str] | None = None
    ) -> None:
        """Owners from the inventory and the security on-call. The message carries kinds,
        ids and counts only: it goes to chat."""
        await self.notify(message, to=[*inventory.owners, SECURITY_ONCALL, *(also or [])])

    async def escalate(self, severity: Severity, reason: str) -> None:
        if self.incident_severity.rank < severity.rank:
            await self.set_severity(severity, reason)

    async def privacy_review(self, incident: IncidentStart, leak: LeakAssessment) -> None:
        """Personal data left: start GDPR Art. 33's 72 hours from awareness and ask the DPO
        whether the breach is notifiable. No answer in 48 h counts as notifiable."""
        if PERSONAL_DATA not in leak.categories:
            return
        clock = await self.start_clock(
            ClockKind.GDPR_ART33,
            started_at=incident.opened_at,
            basis=ClockBasis.AWARENESS,
            escalate_to=[DPO, INCIDENT_COMMANDERS],
        )
        kinds = ", ".join(k for k in leak.kinds) or "personal data"
        decision = await self.approve(
            "gdpr notification",
            question=f"Personal data ({kinds}) left through model output. Is the breach "
            "notifiable to the supervisory authority (GDPR Art. 33)?",
            risk="Approve: notifiable, the clock runs until the filing is recorded. "
            "Deny: not notifiable, the clock stops with your assessment on record.",
            approvers=[DPO],
            escalation=[Escalation(after=DPO_ESCALATE_AFTER, approvers=[INCIDENT_COMMANDERS])],
            timeout=DPO_DECIDE_WITHIN,
            fallback=Fallback.PROCEED,
        )
        if decision.approved:
            await self.record(
                "privacy.notifiable",
                "Breach assessed as notifiable: file with the supervisory authority and "
                f"record the filing on clock {clock}",
            )
            return
        who = ", ".join(decision.decided_by) or "the DPO"
        await self.stop_clock(
            clock,
            actor=who,
            reference=f"assessed not notifiable: {decision.reason or 'no reason given'}",
        )

    async def materiality_review(self, summary: str) -> str | None:
        """SEC Form 8-K Item 1.05: ask the disclosure group whether the incident is
        material. A "material" answer is the determination: the 8-K clock starts from it
        (end of the fourth US business day after it). Returns the clock's name, or None
        when the incident was assessed not material."""
        decision = await self.approve(
            MATERIALITY_STEP,
            question=f"{summary} Is this incident material to the company "
            "(SEC Form 8-K Item 1.05)?",
            risk="Approve: material. Your answer is the determination: file the 8-K by the "
            "end of the fourth business day after it (US Eastern time, federal holidays "
            "skipped). Deny: not material; your assessment is on record.",
            approvers=[DISCLOSURE],
            escalation=[
                Escalation(after=MATERIALITY_ESCALATE_AFTER, approvers=[INCIDENT_COMMANDERS])
            ],
        )
        who = ", ".join(decision.decided_by) or "nobody"
        if not decision.approved:
            await self.record(
                "disclosure.not_material",
                f"Assessed not material (SEC 8-K Item 1.05) by {who}"
                + (f": {decision.reason}" if decision.reason else ""),
                actor=who,
            )
            return None
        await self.record(
            "disclosure.material",
            f"Determined material (SEC 8-K Item 1.05) by {who} at "
            f"{decision.decided_at.isoformat()}; the 8-K clock runs from this determination",
            actor=who,
        )
        return await self.start_clock(
            ClockKind.SEC_8K_ITEM_105,
            started_at=decision.decided_at,
            basis=ClockBasis.DETERMINATION,
            escalate_to=[DISCLOSURE, INCIDENT_COMMANDERS],
        )

    async def ai_act_classification(self, incident: IncidentStart, summary: str) -> str:
        """EU AI Act Art. 73 for a high-risk system: ask which class of serious incident
        this is, as yes/no questions from the strictest deadline down, and start the
        matching clock from awareness (the incident's opening). Returns the clock's name.

        Widespread infringement or critical infrastructure (Art. 73(3)): 2 days; a death
        (Art. 73(4)): 10 days; any other serious incident (Art. 73(2)): 15 days.
        """
        widespread = await self.approve(
            ART73_WIDESPREAD_STEP,
            question=f"{summary} EU AI Act Art. 73: is this a widespread infringement, or "
            "a serious and irreversible disruption of critical infrastructure?",
            risk="Approve: report within 2 days of awareness (Art. 73(3)). Deny: the next "
            "question asks about a death. Unanswered in 12 hours: treated as yes.",
            approvers=[INCIDENT_COMMANDERS],
            timeout=ART73_DECIDE_WITHIN,
            fallback=Fallback.PROCEED,
        )
        answers = [widespread]
        if widespread.approved:
            kind, why = (
                ClockKind.EU_AI_ACT_ART73_WIDESPREAD,
                "widespread or critical infrastructure",
            )
        else:
            death = await self.approve(
                ART73_DEATH_STEP,
                question=f"{summary} EU AI Act Art. 73: did the incident lead, or may it "
                "have led, to the death of a person?",
                risk="Approve: report within 10 days of awareness (Art. 73(4)). Deny: "
                "another serious incident, within 15 days (Art. 73(2)). Unanswered in 12 "
                "hours: treated as yes.",
                approvers=[INCIDENT_COMMANDERS],
                timeout=ART73_DECIDE_WITHIN,
                fallback=Fallback.PROCEED,
            )
            answers.append(death)
            if death.approved:
                kind, why = ClockKind.EU_AI_ACT_ART73_DEATH, "a death"
            else:
                kind, why = ClockKind.EU_AI_ACT_ART73, "another serious incident"
        decided = "; ".join(
            f"{d.step}: {'yes' if d.approved else 'no'} "
            + (f"({', '.join(d.decided_by)})" if d.decided_by else "(no answer: assumed)")
            for d in answers
        )
        await self.record(
            "ai_act.classified",
            f"EU AI Act Art. 73: {why} ({decided})",
            data={"clock": kind.value},
        )
        return await self.start_clock(
            kind,
            started_at=incident.opened_at,
            basis=ClockBasis.AWARENESS,
            escalate_to=[INCIDENT_COMMANDERS],
        )

    async def follow_up(self, message: str) -> None:
        """Something left for a responder to do: the report lists it."""
        await self.record("follow_up", message)

    async def tell_suppliers(
        self, incident: IncidentStart, components: list[ComponentRef], finding: str, asked: str
    ) -> None:
        """E-mail the security contact of every supplier of `components` (from the
        inventory), once. Components without a supplier are ours: nobody is told. Mail
        that cannot go out is a follow-up, never a hold on containment."""
        if not components:
            return
        notice = SupplierNotice(
            incident_id=incident.incident_id,
            ref=incident.ref,
            components=components,
            finding=finding,
            asked=asked,
        )
        try:
            await self.step(
                "tell suppliers",
                NOTIFY_SUPPLIERS,
                notice,
                retry=SUPPLIER_MAIL_RETRY,
                timeout=SUPPLIER_MAIL_TIMEOUT,
                on_failure=OnFailure.RAISE,
            )
        except ActivityError as exc:
            await self.follow_up(
                f"Tell the suppliers of {', '.join(str(c) for c in components)} about "
                f"{incident.ref} by hand: {failure_message(exc)}"
            )

    async def write_report(self, incident: IncidentStart) -> None:
        """The post-incident report as it stands, kept as evidence (hash on the timeline)."""
        await self.step("write report", RECORD_REPORT, incident.incident_id)
