"""`model-extraction`: someone is harvesting the model — extraction, or unbounded
consumption at our cost.

OWASP LLM10 (Unbounded Consumption); ATLAS AML.T0024.002 (Extract AI Model), AML.T0034
(Cost Harvesting), AML.T0029 (Denial of AI Service).

1. Read the alerts and look the target up in the inventory.
2. Keep the principal's requests of the extraction window (from an hour before the
   incident opened to now) as evidence, from the application's query log
   (`[query_logs.<application>]`: JSONL files or an S3 prefix) — before anything
   throttles or blocks it, so the record of what was harvested is kept first.
3. Throttle: block the principal (API key, else user, else tenant) for a 15-minute
   cool-off — a gateway that checks the control plane refuses it meanwhile.
4. If it carries on (another alert arrives within the cool-off, or right after it ends):
   keep the query log again up to now, then block it until a responder lifts the block,
   and revoke its key (the owner is asked to rotate: a new key, issued to them, not to
   whoever was using this one).
5. Flag for review: owners and security on-call are told what was seen and done.
6. Report.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from playbooks.common import GenAIPlaybook
from smokejumper.sdk import (
    BLOCK_PRINCIPAL,
    CAPTURE_QUERY_LOG,
    AlertKind,
    IncidentContext,
    IncidentStart,
    IncidentStatus,
    InventoryContext,
    KeyRef,
    OnFailure,
    PrincipalAction,
    QueryLogRequest,
    Route,
    Severity,
    failure_message,
    playbook,
)

COOL_OFF = timedelta(minutes=15)
# Runs recorded before the query log was kept replay without it.
QUERY_LOG_PATCH = "extraction-query-log"
KEEP_LOG_STEP = "keep query log"
# Containment waits for the capture: a log that cannot be read in about a minute is left
# to a responder, and the throttle goes ahead.
QUERY_LOG_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=4,
)
QUERY_LOG_TIMEOUT = timedelta(seconds=60)


@playbook
class ModelExtraction(GenAIPlaybook):
    name = "model-extraction"
    version = "1"
    description = (
        "Model extraction or unbounded consumption: throttle the principal, block it and "
        "revoke its key if it carries on, flag it for review, report."
    )
    severity = "medium"
    owasp = ["LLM10"]
    atlas = ["AML.T0024.002", "AML.T0034", "AML.T0029"]
    triggers = [
        Route(
            playbook="model-extraction",
            kinds=(AlertKind.MODEL_EXTRACTION, AlertKind.UNBOUNDED_CONSUMPTION),
            min_severity=Severity.LOW,
        )
    ]

    async def respond(self, incident: IncidentStart) -> None:
        await self.set_status(IncidentStatus.ACKNOWLEDGED, "throttling the principal")
        context, inventory = await self.look(incident)
        principal = _principal(context)
        if principal is None:
            await self.missing("throttle principal", "the alerts name no key, user or tenant")
            await self.notify_owners(
                inventory, f"{incident.ref}: {incident.kind} with no principal named; review."
            )
            await self.write_report(incident)
            return
        kind, who = principal
        keeping = workflow.patched(QUERY_LOG_PATCH)
        if keeping:
            await self.keep_query_log(incident, context, inventory, kind, who, "query-log")
        throttle = PrincipalAction(
            incident_id=incident.incident_id,
            step="throttle principal",
            principal_type=kind,
            principal=who,
            expires_at=workflow.now() + COOL_OFF,
            reason=f"{incident.ref}: {incident.kind}, {COOL_OFF} cool-off",
        )
        # Not undone on abort or lift: the throttle lapses on its own after the cool-off.
        await self.step("throttle principal", BLOCK_PRINCIPAL, throttle, undo=None)
        seen = self.state().alerts_seen
        try:
            await workflow.wait_condition(lambda: self.state().alerts_seen > seen, timeout=COOL_OFF)
            carried_on = True
        except TimeoutError:
            carried_on = False

        if carried_on:
            await self.escalate(Severity.HIGH, "carried on while throttled")
            if keeping:
                await self.keep_query_log(
                    incident, context, inventory, kind, who, "query-log-before-block"
                )
            # No expiry this time: a responder lifts it after the review.
            block = throttle.model_copy(
                update={
                    "step": "block principal",
                    "expires_at": None,
                    "reason": f"{incident.ref}: carried on after a {COOL_OFF} cool-off",
                }
            )
            await self.step("block principal", BLOCK_PRINCIPAL, block)
            if context.api_key_id is not None:
                provider = next(
                    (k.provider for k in inventory.keys if k.key_id == context.api_key_id),
                    "local",
                )
                await self.revoke(
                    incident,
                    [KeyRef(provider=provider, key_id=context.api_key_id)],
                    "used for extraction",
                )
            await self.set_status(IncidentStatus.CONTAINED, f"{kind} {who} blocked")
        else:
            await self.record(
                "throttle.effective", f"No further alerts during the {COOL_OFF} cool-off"
            )
        usage = ", ".join(f"{k} {v:g}" for k, v in sorted(context.usage.items()))
        await self.notify_owners(
            inventory,
            f"{incident.ref}: review {kind} {who} for {incident.kind}"
            + (f" ({usage})" if usage else "")
            + ("; blocked and its key revoked" if carried_on else "; throttled, it stopped")
            + ".",
        )
        await self.write_report(incident)

    async def keep_query_log(
        self,
        incident: IncidentStart,
        context: IncidentContext,
        inventory: InventoryContext,
        kind: str,
        who: str,
        name: str,
    ) -> None:
        """The principal's requests so far, kept as evidence; what could not be kept is a
        follow-up, and containment goes on either way."""
        # The alerts may name only the endpoint: its one application, from the inventory.
        only = inventory.applications[0] if len(inventory.applications) == 1 else None
        request = QueryLogRequest(
            incident_id=incident.incident_id,
            application=context.application or only,
            principal_type=kind,
            principal=who,
            first_seen=incident.opened_at,
            until=workflow.now(),
            name=name,
        )
        by_hand = f"Keep the query log of {kind} {who} for {incident.ref} by hand"
        try:
            kept = await self.step(
                KEEP_LOG_STEP,
                CAPTURE_QUERY_LOG,
                request,
                retry=QUERY_LOG_RETRY,
                timeout=QUERY_LOG_TIMEOUT,
                on_failure=OnFailure.RAISE,
            )
        except ActivityError as exc:
            await self.follow_up(f"{by_hand}: reading it failed ({failure_message(exc)})")
            return
        if kept is None or not kept.configured:
            reason = kept.reason if kept is not None else "nothing was returned"
            await self.follow_up(f"{by_hand}: {reason}")
            return
        await self.record(
            "query_log.kept",
            kept.summary,
            step=KEEP_LOG_STEP,
            data={
                "matched": kept.matched,
                "kept": kept.kept,
                "unreadable": kept.unreadable,
                "evidence": ", ".join(kept.evidence),
                "window_start": kept.window_start.isoformat() if kept.window_start else None,
                "window_end": kept.window_end.isoformat() if kept.window_end else None,
            },
        )


def _principal(context: IncidentContext) -> tuple[str, str] | None:
    if context.api_key_id:
        return ("api_key", context.api_key_id)
    if context.user:
        return ("user", context.user)
    if context.tenant:
        return ("tenant", context.tenant)
    return None
