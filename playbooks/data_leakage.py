"""`sensitive-data-leakage`: sensitive data left through model output.

OWASP LLM02 (Sensitive Information Disclosure) and LLM07 (System Prompt Leakage); ATLAS
AML.T0057 (LLM Data Leakage), AML.T0056 (Extract LLM System Prompt), AML.T0024
(Exfiltration via AI Inference API).

1. Read the alerts and look the target up in the inventory (owners, keys).
2. Capture and hash the evidence (redacted previews only outside the evidence store) and
   classify what leaked: credentials, personal data, system prompt, proprietary data.
3. Credentials: revoke every leaked key at once — no approval, containment first — and
   verify each revocation at the provider.
4. Elicited (the prompt asked for it): block the user (else session, else key) for 24 h.
5. Notify the owners and the security on-call (kinds and counts, never the data).
6. Personal data: GDPR Art. 33 clock from awareness, and ask the DPO whether it is
   notifiable (escalating to incident commanders after 24 h; unanswered in 48 h counts as
   notifiable).
7. Contained; the report is written and kept as evidence.

Run as a child of `prompt-injection` (data left through an injection), it contains and
returns: the parent asks the privacy question, since responders answer the incident's own
workflow.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from playbooks.common import CREDENTIALS, PERSONAL_DATA, GenAIPlaybook
    from smokejumper.domain.alerts import AlertKind, Severity
    from smokejumper.domain.incidents import IncidentStart, IncidentStatus
    from smokejumper.intake.routing import Route
    from smokejumper.sdk.playbook import playbook


@playbook
class SensitiveDataLeakage(GenAIPlaybook):
    name = "sensitive-data-leakage"
    version = "1"
    description = (
        "Sensitive data in model output: capture and classify it, revoke leaked credentials "
        "at once, block the principal that elicited it, notify owners, run the GDPR clock "
        "and ask the DPO, and report."
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

    async def respond(self, incident: IncidentStart) -> None:
        child = workflow.info().parent is not None
        if not child:
            await self.set_status(IncidentStatus.ACKNOWLEDGED, "leak response started")
        context, inventory = await self.look(incident)
        leak = await self.assess_leak(incident)
        if not leak.leaked:
            await self.notify_owners(
                inventory,
                f"{incident.ref}: a leak was reported but the evidence holds nothing the "
                "detectors recognise; a responder should confirm it is a false positive.",
            )
            return

        if CREDENTIALS in leak.categories or PERSONAL_DATA in leak.categories:
            await self.escalate(Severity.HIGH, f"{', '.join(leak.categories)} leaked")
        unverified = await self.revoke(incident, leak.keys, "leaked in model output")
        if leak.elicited:
            await self.block(incident, context, f"{incident.ref}: elicited a data leak")
        await self.notify_owners(
            inventory,
            f"{incident.ref}: {', '.join(leak.categories)} leaked through "
            f"{context.application or context.endpoint or 'a model'} "
            f"({', '.join(leak.kinds)}). Keys revoked: "
            f"{', '.join(k.key_id for k in leak.keys) or 'none'}"
            + (f"; NOT confirmed revoked: {', '.join(unverified)}" if unverified else "")
            + ".",
        )
        if child:
            return
        await self.set_status(IncidentStatus.CONTAINED, "leaked credentials revoked")
        await self.privacy_review(incident, leak)
        await self.write_report(incident)
