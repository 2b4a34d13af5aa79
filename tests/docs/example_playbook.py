"""The playbook of docs/writing-playbooks.md: contain sensitive data leaking through model
output. A module of its own that imports only temporalio and smokejumper, because the
workflow sandbox re-imports it for every incident.

(`# --8<--` lines cut this file into the parts the guide shows;
tests/docs/test_doc_matches_code.py keeps both identical.)
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from smokejumper.domain.alerts import AlertKind, Severity
    from smokejumper.domain.incidents import IncidentStart, IncidentStatus
    from smokejumper.intake.routing import Route
    from smokejumper.sdk.approvals import Escalation, Fallback
    from smokejumper.sdk.clocks import ClockBasis, ClockKind
    from smokejumper.sdk.playbook import Playbook, playbook

# --8<--
# A high (not critical) leak may be a false positive: before cutting a key that production
# traffic depends on, its owner gets this long to rotate it themselves.
GRACE_PERIOD = timedelta(minutes=15)


@playbook
class ContainLeak(Playbook):
    name = "example-contain-leak"
    version = "1"
    description = (
        "Sensitive data in model output: keep the evidence, cut the leaking key, and take "
        "the endpoint offline if two responders agree."
    )
    severity = "high"
    owasp = ["LLM02"]
    atlas = ["AML.T0057"]
    triggers = [
        Route(
            playbook="example-contain-leak",
            kinds=(AlertKind.DATA_LEAKAGE,),
            min_severity=Severity.HIGH,
        )
    ]

    async def respond(self, incident: IncidentStart) -> None:
        await self.set_status(IncidentStatus.ACKNOWLEDGED, "containment started")
        # Evidence first, and the owner hears of it at once: neither waits for the other.
        await self.parallel(
            self.step("snapshot conversation", "snapshot_conversation", incident.ref),
            self.step("notify owner", "notify_owner", incident.ref),
        )
        # Personal data leaked: GDPR Art. 33 gives 72 hours from awareness to notify the
        # supervisory authority. The clock runs beside the playbook until the DPO files.
        await self.start_clock(
            ClockKind.GDPR_ART33,
            started_at=incident.opened_at,
            basis=ClockBasis.AWARENESS,
            escalate_to=["group:dpo"],
        )

        revoke = True
        if incident.severity != Severity.CRITICAL:
            await self.wait(GRACE_PERIOD)
            revoke = await self.step(
                "check key", "key_still_active", incident.ref, result_type=bool
            )
        if revoke:
            await self.step(
                "revoke key",
                "revoke_api_key",
                incident.ref,
                result_type=str,
                undo="restore_api_key",
            )
        decision = await self.approve(
            "isolate endpoint",
            question="Take the leaking endpoint offline?",
            risk="Every user of the endpoint loses service until it is restored",
            approvers=["group:oncall"],
            min_approvals=2,
            escalation=[Escalation(after=timedelta(minutes=15), approvers=["group:leads"])],
            timeout=timedelta(hours=1),
            fallback=Fallback.ABORT,
        )
        if decision.approved:
            await self.step(
                "isolate endpoint", "isolate_endpoint", incident.ref, undo="restore_endpoint"
            )
            await self.set_status(
                IncidentStatus.CONTAINED, f"isolated with {', '.join(decision.decided_by)}"
            )
