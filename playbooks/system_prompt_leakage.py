"""`system-prompt-leakage`: an application's system prompt came out through model output.

OWASP LLM07 (System Prompt Leakage); ATLAS AML.T0056 (Extract LLM System Prompt) and
AML.T0057 (LLM Data Leakage). CoSAI incident-response phases: containment (revoke, block,
rotate) and eradication (the leaked version is tagged and no longer served).

Routed here: a data-leakage alert that names LLM07 or AML.T0056 (`Route.taxonomy`); any
other leak stays with `sensitive-data-leakage`, red-team findings with triage.

1. Capture and classify the leaked output (evidence hashed, its previews withheld: the
   prompt's words are the leaked data); revoke every key in it at once (no approval,
   before anything else is written or read), as `sensitive-data-leakage` does.
2. Read the alerts and the inventory: which prompt (the alert's `prompt` label, else the
   application's prompt), its registry, the alias production reads, the replacement
   version, its canaries.
3. Scan the prompt's serving version in the registry for embedded credentials: the
   output may hold part of it, the rest can be extracted the same way. Revoke those a key
   id names; credentials no key id names are left to a responder (the incident is not
   contained until one confirms them rotated).
4. Canaries: a canary of the prompt in the model output confirms the leak (raises the
   severity to high). Compared after normalizing, so spacing and look-alike characters
   do not hide it.
5. Elicited: block the user (else session, else key) for 24 h. Notify owners and on-call.
6. Rotate, with the on-call's approval: tag the leaked version `leaked=<incident>` and
   point the alias at the replacement (a version without the secret; the inventory
   names it). Undo (abort, restore) moves the alias back. Unanswered in 1 h, denied, or no
   replacement named: not rotated, and a responder is asked to do it by hand or skip it.
7. Contained (when every step above is verified); report.
"""

from __future__ import annotations

from datetime import timedelta

from playbooks.common import SECURITY_ONCALL, GenAIPlaybook
from playbooks.revoked import Revoked
from smokejumper.sdk import (
    ASSESS_PROMPT_LEAK,
    CHECK_CANARY,
    PROMPT_PLAN,
    ROTATE_PROMPT,
    AlertKind,
    CanaryQuery,
    Fallback,
    IncidentStart,
    IncidentStatus,
    LeakAssessment,
    PromptAction,
    PromptPlan,
    PromptQuery,
    Route,
    Severity,
    playbook,
)

ROTATE_APPROVAL = "approve prompt rotation"
ROTATE_STEP = "rotate system prompt"
UNNAMED_STEP = "revoke prompt credentials"
# The leaked prompt keeps serving until the alias moves; the on-call has this long to
# agree before it is left to a responder (the keys in it are revoked already).
ROTATE_DECIDE_WITHIN = timedelta(hours=1)
LEAKED_TAG = "leaked"


@playbook
class SystemPromptLeakage(GenAIPlaybook):
    name = "system-prompt-leakage"
    version = "1"
    description = (
        "System prompt leaked through model output: revoke the credentials in the output "
        "and in the prompt itself, confirm the leak with the prompt's canaries, block who "
        "elicited it, rotate the prompt to a version without the secret on approval "
        "(undo moves it back), report."
    )
    severity = "high"
    owasp = ["LLM07"]
    atlas = ["AML.T0056", "AML.T0057"]
    triggers = [
        Route(
            playbook="system-prompt-leakage",
            kinds=(AlertKind.DATA_LEAKAGE,),
            taxonomy=("LLM07", "AML.T0056"),
            min_severity=Severity.LOW,
        )
    ]

    async def respond(self, incident: IncidentStart) -> None:
        # Containment first: a key in the output is usable the moment it is read.
        leak = await self.classify_prompt_leak(incident)
        revoked = await self.revoke(
            incident, leak.keys, "leaked in a system prompt", leak.keys_left_out
        )
        await self.set_status(IncidentStatus.ACKNOWLEDGED, "system prompt leak response started")
        await self.record_leak(leak)
        context, inventory = await self.look(incident)
        plan = await self.step(
            "look up prompt",
            PROMPT_PLAN,
            PromptQuery(
                incident_id=incident.incident_id,
                application=context.application,
                prompt=context.labels.get("prompt"),
            ),
        ) or PromptPlan(incident_id=incident.incident_id, reason="the lookup was handed over")
        await self.record_plan(plan)

        # The whole prompt is exposed, not only what this output held: revoke every key
        # its serving version names.
        seen = {key.key_id for key in leak.keys}
        more = [key for key in plan.keys if key.key_id not in seen]
        revoked += await self.revoke(incident, more, "embedded in a leaked system prompt")
        # Credentials no key id names, in the output or in the prompt: nobody can revoke
        # them from here, and the incident is not contained until a responder has.
        unnamed = sorted({*self.unnamed_kinds(leak.kinds), *plan.unnamed_kinds})
        if unnamed:
            await self.hand_rotation(UNNAMED_STEP, unnamed)

        confirmed = await self.check_canaries(incident, plan)
        if leak.elicited:
            await self.block(incident, context, f"{incident.ref}: extracted a system prompt")
        await self.notify_owners(
            inventory,
            self.summary(incident, plan, revoked, unnamed, confirmed),
            also=plan.owners,
        )
        await self.rotate(incident, plan)
        await self.set_status(IncidentStatus.CONTAINED, "credentials revoked, prompt rotated")
        await self.write_report(incident)

    async def record_plan(self, plan: PromptPlan) -> None:
        if not plan.found:
            await self.record(
                "prompt.unknown",
                f"The leaked prompt is not one the playbook can rotate: {plan.reason}",
                data={"prompt": plan.prompt or ""},
            )
            return
        await self.record(
            "prompt.found",
            f"Prompt {plan.prompt}@{plan.alias} serves version {plan.serving_version} at "
            f"{plan.provider}; credentials in its text: "
            f"{', '.join(plan.secret_kinds) or 'none'}"
            + (
                f" (only the first {plan.scanned_chars} characters scanned)"
                if plan.truncated
                else ""
            )
            + "; replacement: "
            + (plan.replacement_version or plan.replacement_problem or "none named"),
            data={
                "prompt": plan.prompt or "",
                "serving": plan.serving_version or "",
                "replacement": plan.replacement_version or "",
                "keys": len(plan.keys),
                "unnamed": ", ".join(plan.unnamed_kinds),
                "canaries": plan.canaries,
                "truncated": plan.truncated,
            },
        )

    async def check_canaries(self, incident: IncidentStart, plan: PromptPlan) -> bool:
        """True when a canary of the prompt is in the model output: the leak is confirmed."""
        if not plan.found or plan.prompt is None or plan.canaries == 0:
            return False
        check = await self.step(
            "check canaries",
            CHECK_CANARY,
            CanaryQuery(incident_id=incident.incident_id, prompt=plan.prompt),
        )
        if check is None:
            return False
        if check.confirmed:
            await self.record(
                "leak.confirmed",
                f"Confirmed: {check.hits} of {check.canaries} canaries of prompt {plan.prompt} "
                f"are in the model output ({check.outputs} outputs scanned)",
                data={"hits": check.hits, "canaries": check.canaries},
            )
            await self.escalate(Severity.HIGH, "canary confirms the system prompt leaked")
            return True
        await self.record(
            "leak.unconfirmed",
            f"No canary of prompt {plan.prompt} in the model output ({check.outputs} "
            "scanned): it may paraphrase the prompt, or hold another text",
            data={"hits": 0, "canaries": check.canaries},
        )
        return False

    async def classify_prompt_leak(self, incident: IncidentStart) -> LeakAssessment:
        """Classify what left, the prompt's own words included; handed to people, nothing."""
        return await self.step(
            "classify leak", ASSESS_PROMPT_LEAK, incident.incident_id
        ) or LeakAssessment.not_assessed(incident.incident_id)

    answers_later_alerts = True

    async def on_later_alerts(self, incident: IncidentStart, alert_ids: list[str]) -> None:
        """A later alert of the same leak can show a key the first did not: revoked as the
        first ones were (GenAIPlaybook.revoke_later_keys). The prompt is rotated once."""
        leak = await self.classify_prompt_leak(incident)
        await self.revoke_later_keys(incident, alert_ids, leak, "leaked in a system prompt")

    def summary(
        self,
        incident: IncidentStart,
        plan: PromptPlan,
        revoked: Revoked,
        unnamed: list[str],
        confirmed: bool,
    ) -> str:
        """For chat: ids, kinds and counts, never the prompt."""
        what = f"prompt {plan.prompt}" if plan.prompt else "a system prompt"
        return (
            f"{incident.ref}: {what} leaked through model output"
            + (" (confirmed by canary)" if confirmed else "")
            + f". {revoked.told()}"
            + (f"; credentials to rotate by hand: {', '.join(unnamed)}" if unnamed else "")
            + "."
        )

    async def rotate(self, incident: IncidentStart, plan: PromptPlan) -> None:
        """Move the alias to the replacement version with approval; else leave it to people."""
        if not plan.found or plan.prompt is None or plan.provider is None:
            await self.missing(ROTATE_STEP, plan.reason or "the prompt is unknown")
            return
        target = f"{plan.prompt}@{plan.alias}"
        if plan.replacement_version is None:
            await self.missing(
                ROTATE_STEP,
                plan.replacement_problem
                or f"the inventory names no replacement version for {target}: publish one "
                "without the secret and point the alias at it",
            )
            return
        if plan.replacement_kinds:
            await self.missing(
                ROTATE_STEP,
                f"the replacement version {plan.replacement_version} holds credentials too "
                f"({', '.join(plan.replacement_kinds)}); publish a clean one",
            )
            return
        decision = await self.approve(
            ROTATE_APPROVAL,
            question=f"Rotate the leaked system prompt: point {target} at version "
            f"{plan.replacement_version} (from {plan.serving_version}) and tag "
            f"{plan.serving_version} {LEAKED_TAG}={incident.ref}?",
            risk=f"Approve: the application serves version {plan.replacement_version} from "
            "its next prompt load; undo moves the alias back. Deny, or no answer in "
            f"{ROTATE_DECIDE_WITHIN.total_seconds() / 3600:g} h: the leaked version keeps "
            "serving and a responder is asked to rotate it by hand.",
            approvers=[SECURITY_ONCALL],
            timeout=ROTATE_DECIDE_WITHIN,
            fallback=Fallback.SKIP,
        )
        if not decision.approved:
            why = decision.why_not
            await self.missing(ROTATE_STEP, f"the rotation of {target} was {why}")
            return
        await self.step(
            ROTATE_STEP,
            ROTATE_PROMPT,
            PromptAction(
                incident_id=incident.incident_id,
                step=ROTATE_STEP,
                provider=plan.provider,
                prompt=plan.prompt,
                alias=plan.alias or "production",
                to_version=plan.replacement_version,
                from_version=plan.serving_version,
                leaked_tag=LEAKED_TAG,
                incident_ref=incident.ref,
            ),
        )
