"""The playbook of docs/writing-playbooks.md: contain sensitive data leaking through model
output. A module of its own that imports only the SDK, because the workflow sandbox
re-imports it for every incident.

(`# --8<--` lines cut this file into the parts the guide shows;
tests/docs/test_doc_matches_code.py keeps both identical.)
"""

from __future__ import annotations

from datetime import timedelta

from smokejumper.sdk import (
    ISOLATE_ENDPOINT,
    AlertKind,
    ClockBasis,
    ClockKind,
    Contract,
    EndpointAction,
    Escalation,
    Fallback,
    IncidentStart,
    IncidentStatus,
    Playbook,
    Route,
    Severity,
    playbook,
)

# --8<--
# The team's own activities, declared once: name, argument type, result type, and the
# activity that undoes it. Their implementations run on the worker.
SNAPSHOT_CONVERSATION = Contract("snapshot_conversation", str, str)
NOTIFY_OWNER = Contract("notify_owner", str, str)
KEY_STILL_ACTIVE = Contract("key_still_active", str, bool)
RESTORE_API_KEY = Contract("restore_api_key", str, str)
REVOKE_API_KEY = Contract("revoke_api_key", str, str, undo=RESTORE_API_KEY)

# The endpoint this playbook takes offline (a playbook guarding many reads it from the
# alerts with INCIDENT_CONTEXT, as the built-in playbooks do).
ENDPOINT = "support-bot-prod"

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
            self.step("snapshot conversation", SNAPSHOT_CONVERSATION, incident.ref),
            self.step("notify owner", NOTIFY_OWNER, incident.ref),
        )
        # Personal data leaked: GDPR Art. 33 gives 72 hours from awareness to notify the
        # supervisory authority. The clock runs beside the playbook until the DPO files.
        await self.start_clock(
            ClockKind.GDPR_ART33,
            started_at=incident.opened_at,
            basis=ClockBasis.AWARENESS,
            escalate_to=["group:dpo"],
        )

        revoke: bool | None = True
        if incident.severity != Severity.CRITICAL:
            await self.wait(GRACE_PERIOD)
            revoke = await self.step("check key", KEY_STILL_ACTIVE, incident.ref)
        if revoke:
            await self.step("revoke key", REVOKE_API_KEY, incident.ref)
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
            isolation = EndpointAction(
                incident_id=incident.incident_id,
                step="isolate endpoint",
                provider="gateway",
                endpoint=ENDPOINT,
                reason=f"{incident.ref}: leaking sensitive data",
            )
            await self.step("isolate endpoint", ISOLATE_ENDPOINT, isolation)
            await self.set_status(
                IncidentStatus.CONTAINED, f"isolated with {', '.join(decision.decided_by)}"
            )
