"""`prompt-injection`: a prompt injection or jailbreak, handled by the way it arrived.

OWASP LLM01 (Prompt Injection) and LLM06 (Excessive Agency); ATLAS AML.T0051.000/.001/.002
(LLM Prompt Injection: Direct, Indirect, Triggered), AML.T0054 (LLM Jailbreak), AML.T0053
(AI Agent Tool Invocation), AML.T0086 (Exfiltration via AI Agent Tool Invocation).

1. Read the alerts, look the target up in the inventory, capture and classify the evidence.
2. By vector:
   - direct (the user's own input): block the user (else session, else key) for 24 h, and
     add a 24-hour input-filter rule matching the attack text;
   - indirect (a retrieved document, web page or tool result): quarantine each document
     that carried it from retrieval (the first DOCUMENTS_AT_MOST, a step each; the rest
     are handed to a responder); then sweep the application's retrieval index (its
     vector store, when one is configured) for the other documents carrying the same
     instruction (exact copies, similar embeddings) or served by the same data source, and
     move them into a quarantine collection (OWASP LLM08, ATLAS AML.T0070; CoSAI
     eradication); flag the data source to its owners with what it served;
   - agentic (the agent executed tool calls): keep the tool calls as evidence, then — with
     approval, from two people when the endpoint serves production — revoke the agent's
     tool credentials and isolate its endpoint. Unanswered in 30 minutes: critical
     incidents proceed, others leave the agent running for a responder.
3. Data left: raise the severity, hand the leak to `sensitive-data-leakage` as a child
   (revoke, block, notify), then ask the privacy question here.
4. Notify owners; contained; report.
5. Alerts that join later: documents they name that were not quarantined yet are
   quarantined (indirect), an agent they show acting is frozen as in 2 (agentic), data
   they show leaving is handed on as in 3 (or, once handed, keys not revoked yet are
   revoked here); the status says acknowledged meanwhile. A duplicate costs a read and a
   classification of the alerts.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from temporalio import workflow

from playbooks.common import (
    INCIDENT_COMMANDERS,
    SECURITY_ONCALL,
    GenAIPlaybook,
)
from smokejumper.domain.prompts import unnamed_credentials
from smokejumper.sdk import (
    ADD_FILTER_RULE,
    CAPTURE_TOOL_CALLS,
    DOCUMENTS_AT_MOST,
    INCIDENT_CONTEXT,
    ISOLATE_ENDPOINT,
    QUARANTINE_DOCUMENT,
    RETRIEVAL_INDEX_PLAN,
    SWEEP_RETRIEVAL_INDEX,
    AlertKind,
    DocumentAction,
    EndpointAction,
    Escalation,
    Fallback,
    FilterRuleAction,
    IncidentContext,
    IncidentStart,
    IncidentStatus,
    InventoryContext,
    LeakAssessment,
    RetrievalQuery,
    RetrievalSweep,
    Route,
    Severity,
    SweepCounts,
    ToolCallsRequest,
    playbook,
)

FILTER_FOR = timedelta(hours=24)
FREEZE_DECIDE_WITHIN = timedelta(minutes=30)
FREEZE_ESCALATE_AFTER = timedelta(minutes=10)
# Marks runs that sweep the retrieval index after quarantining the named documents.
RETRIEVAL_SWEEP_PATCH = "injection-retrieval-sweep"


@playbook
class PromptInjection(GenAIPlaybook):
    name = "prompt-injection"
    version = "2"
    description = (
        "Prompt injection or jailbreak: block and filter a direct attack, quarantine the "
        "document of an indirect one, freeze an agent that acted on one; hand leaked data "
        "to the leakage playbook; report."
    )
    severity = "high"
    owasp = ["LLM01", "LLM06", "LLM08"]
    atlas = [
        "AML.T0051.000",
        "AML.T0051.001",
        "AML.T0051.002",
        "AML.T0054",
        "AML.T0053",
        "AML.T0086",
        "AML.T0070",
    ]
    answers_later_alerts = True
    triggers = [
        Route(
            playbook="prompt-injection",
            kinds=(AlertKind.PROMPT_INJECTION, AlertKind.JAILBREAK),
            min_severity=Severity.MEDIUM,
        )
    ]

    # What later alerts are compared with (on_later_alerts): the documents quarantined
    # or handed to a responder, the vector answered, and whether a leak was handed on
    # (its keys are then the leakage playbook's). Set as the response goes.
    _documents_handled: frozenset[str] = frozenset()
    _documents_left_out_handled = 0
    _vector: str | None = None
    _leak_handed = False

    def later_alerts_memory(self) -> dict[str, Any]:
        return {
            **super().later_alerts_memory(),
            "documents": sorted(self._documents_handled),
            "documents_left_out": self._documents_left_out_handled,
            "vector": self._vector,
            "leak_handed": self._leak_handed,
        }

    def recall_later_alerts_memory(self, memory: dict[str, Any]) -> None:
        super().recall_later_alerts_memory(memory)
        self._documents_handled = frozenset(memory.get("documents", []))
        self._documents_left_out_handled = int(memory.get("documents_left_out", 0))
        self._vector = memory.get("vector")
        self._leak_handed = bool(memory.get("leak_handed", False))

    async def respond(self, incident: IncidentStart) -> None:
        await self.set_status(IncidentStatus.ACKNOWLEDGED, "injection response started")
        context, inventory = await self.look(incident)
        self._vector = context.vector
        leak = await self.assess_leak(incident)
        await self.record(
            "injection.vector",
            f"Vector: {context.vector}"
            + (f"; {context.tool_calls} tool call(s) executed" if context.tool_calls else "")
            + (f"; {len(context.documents)} document(s)" if context.documents else ""),
            data={"vector": context.vector, "tool_calls": context.tool_calls},
        )
        if context.vector == "direct":
            await self.contain_direct(incident, context)
        elif context.vector == "indirect":
            await self.contain_indirect(incident, context, inventory)
        else:
            await self.contain_agentic(incident, context, inventory)

        if leak.leaked:
            await self.hand_leak(leak, "data left")
        await self.notify_owners(
            inventory,
            f"{incident.ref}: {context.vector} prompt injection against "
            f"{context.application or context.endpoint or 'a model'}"
            + (
                f"; {', '.join(leak.categories)} left"
                if leak.leaked
                else "; no data left"
                if leak.assessed
                else "; whether data left is not known (its classification failed)"
            )
            + ".",
        )
        await self.set_status(IncidentStatus.CONTAINED, f"{context.vector} injection contained")
        if leak.leaked:
            await self.privacy_review(incident, leak)
        await self.write_report(incident)

    async def contain_direct(self, incident: IncidentStart, context: IncidentContext) -> None:
        await self.block(incident, context, f"{incident.ref}: prompt injection")
        if context.attack_phrase is None:
            await self.record(
                "filter.skipped",
                "No attack text safe to filter on (none marked, or it holds personal data)",
            )
            return
        rule = FilterRuleAction(
            incident_id=incident.incident_id,
            step="add input filter",
            rule_id=f"{incident.ref}-injection",
            pattern="(?i)" + re.escape(context.attack_phrase),
            expires_at=workflow.now() + FILTER_FOR,
            reason=f"{incident.ref}: replay of a direct prompt injection",
        )
        await self.step("add input filter", ADD_FILTER_RULE, rule)

    async def contain_indirect(
        self, incident: IncidentStart, context: IncidentContext, inventory: InventoryContext
    ) -> None:
        if not context.documents:
            await self.missing(
                "quarantine documents",
                "the alerts name no document that carried the injection (no id, no content)",
            )
        await self.quarantine(incident, context, context.documents, context.documents_left_out)
        if workflow.patched(RETRIEVAL_SWEEP_PATCH):
            await self.sweep_index(incident, context, inventory)
            return
        source = context.data_source or "the retrieval source"
        await self.record(
            "datasource.flagged",
            f"Data source {source} flagged: it served {len(context.documents)} document(s) "
            "carrying instructions; review what else it ingested",
        )
        await self.notify_owners(
            inventory,
            f"{incident.ref}: {source} served a document carrying a prompt injection; "
            f"{len(context.documents)} document(s) quarantined. Review its other content.",
        )

    async def quarantine(
        self, incident: IncidentStart, context: IncidentContext, documents: list[str], left_out: int
    ) -> None:
        """Quarantine each of `documents`, a step each numbered on from those before, and
        hand the `left_out` ones to a responder in one step; all remembered as dealt with."""
        first = len(self._documents_handled) + 1
        self._documents_handled |= set(documents)
        self._documents_left_out_handled += left_out
        for number, document in enumerate(documents, start=first):
            name = f"quarantine document {number}"
            action = DocumentAction(
                incident_id=incident.incident_id,
                step=name,
                document=document,
                source=context.data_source,
                reason=f"{incident.ref}: carried an indirect prompt injection",
            )
            await self.step(name, QUARANTINE_DOCUMENT, action)
        if left_out:
            await self.missing(
                f"quarantine {left_out} more documents",
                f"the alerts name {left_out} document(s) beyond the {DOCUMENTS_AT_MOST} a "
                "playbook quarantines a step each; their ids are in the alerts",
            )

    async def hand_leak(self, leak: LeakAssessment, why: str) -> None:
        """Raise the severity and hand the leak to `sensitive-data-leakage` (revoke, block,
        notify); its keys are then dealt with."""
        self._leak_handed = True
        self._keys_handled = frozenset(key.key_id for key in leak.keys)
        self._left_out_handled = leak.keys_left_out
        self._unnamed_handled = frozenset(unnamed_credentials(leak.kinds))
        await self.escalate(Severity.CRITICAL, f"{why}: {', '.join(leak.categories)}")
        await self.child("sensitive-data-leakage", suffix="leakage")

    async def on_later_alerts(self, incident: IncidentStart, alert_ids: list[str]) -> None:
        """A later alert can name another poisoned document, show the agent acting on the
        injection, or carry data out (a key): none may stay live behind a status that says
        contained."""
        context = await self.step("read alerts", INCIDENT_CONTEXT, incident.incident_id)
        if context is None:
            return  # with a responder, on the timeline
        leak = await self.classify_leak(incident)
        indirect = context.vector == "indirect"
        documents = [d for d in context.documents if d not in self._documents_handled]
        documents = documents if indirect else []
        left_out = (
            max(0, context.documents_left_out - self._documents_left_out_handled) if indirect else 0
        )
        agent = context.vector == "agentic" and self._vector != "agentic"
        first_leak = leak.leaked and not self._leak_handed
        # Once a leak was handed on, what later alerts leak besides is dealt with here.
        found = self.later_leak(leak) if self._leak_handed else ([], 0, [])
        more_leaked = any(found)
        later = f"{len(alert_ids)} later alert(s)"
        if not (documents or left_out or agent or first_leak or more_leaked):
            await self.record(
                "injection.later",
                f"The {later} named no document not quarantined already, no agent acting "
                "and no data left not dealt with",
            )
            return
        shown = [
            what
            for what, shown in (
                (f"{context.vector} injection", documents or left_out or agent),
                ("data left", first_leak or more_leaked),
            )
            if shown
        ]
        await self.set_status(
            IncidentStatus.ACKNOWLEDGED, f"later alerts show more to contain: {', '.join(shown)}"
        )
        inventory = self._inventory or (await self.look(incident))[1]
        if documents or left_out:
            await self.quarantine(incident, context, documents, left_out)
            await self.notify_owners(
                inventory,
                f"{incident.ref}: {later} named {len(documents) + left_out} more document(s) "
                f"carrying a prompt injection; {len(documents)} quarantined"
                + (f", {left_out} handed to a responder" if left_out else "")
                + ".",
            )
        if agent:
            self._vector = "agentic"
            await self.contain_agentic(incident, context, inventory)
        if first_leak:
            await self.record_leak(leak)
            await self.hand_leak(leak, "data left in later alerts")
        if more_leaked:
            await self.contain_later_leak(
                incident, inventory, later, found, "leaked in model output"
            )
        await self.set_status(IncidentStatus.CONTAINED, "what later alerts showed is contained")
        if first_leak:
            await self.privacy_review(incident, leak)

    async def sweep_index(
        self, incident: IncidentStart, context: IncidentContext, inventory: InventoryContext
    ) -> None:
        """Eradicate at the source: sweep the application's retrieval index for what else
        carries the instruction or came from the same data source, and tell its owners
        what the source served."""
        named = len(context.documents)
        source = context.data_source or "the retrieval source"
        plan = await self.step(
            "check retrieval index",
            RETRIEVAL_INDEX_PLAN,
            RetrievalQuery(application=context.application),
        )
        counts: SweepCounts | None = None
        if plan is not None and plan.configured and context.application is not None:
            sweep = RetrievalSweep(
                incident_id=incident.incident_id,
                step="sweep retrieval index",
                application=context.application,
                documents=context.documents,
                data_source=context.data_source,
                instruction=context.labels.get("instruction"),
                reason=f"{incident.ref}: indirect prompt injection",
            )
            result = await self.step("sweep retrieval index", SWEEP_RETRIEVAL_INDEX, sweep)
            if result is not None:
                counts = SweepCounts.model_validate(result.after)
        elif plan is not None:
            await self.record(
                "retrieval.not_swept",
                f"Retrieval index not swept: {plan.reason}; only the named document(s) are "
                "quarantined",
            )
        if counts is None:
            await self.record(
                "datasource.flagged",
                f"Data source {source} flagged: it served {named} document(s) carrying "
                "instructions; review what else it ingested",
                data={"data_source": context.data_source, "carrying": named, "quarantined": named},
            )
            await self.notify_owners(
                inventory,
                f"{incident.ref}: {source} served a document carrying a prompt injection; "
                f"{named} document(s) quarantined. Review its other content.",
            )
            return
        sources = ", ".join(counts.data_sources) or source
        await self.record(
            "datasource.flagged",
            f"Data source {sources} flagged: it served {counts.carrying_from_source} "
            f"document(s) carrying the injected instruction ({counts.source_documents} in "
            f"all); {counts.carrying} carried it in the index {counts.collection}; "
            f"{counts.quarantined} moved to {counts.quarantine_collection}"
            + (
                f"; {counts.named_already_quarantined} named document(s) were already "
                "quarantined by an earlier sweep"
                if counts.named_already_quarantined
                else ""
            )
            + (
                f"; {counts.named_missing - counts.named_already_quarantined} named "
                "document(s) are not in the index"
                if counts.named_missing > counts.named_already_quarantined
                else ""
            )
            + ("; more similar documents may remain" if counts.similar_truncated else ""),
            data={
                "data_source": sources,
                "collection": counts.collection,
                "quarantine_collection": counts.quarantine_collection,
                "served": counts.source_documents,
                "carrying": counts.carrying,
                "carrying_from_source": counts.carrying_from_source,
                "quarantined": counts.quarantined,
                "similar_truncated": counts.similar_truncated,
                **{f"swept_{reason}": n for reason, n in sorted(counts.by_reason.items())},
            },
        )
        await self.notify_owners(
            inventory,
            f"{incident.ref}: {sources} served {counts.carrying_from_source} document(s) "
            f"carrying a prompt injection; {counts.quarantined} document(s) moved out of "
            f"retrieval ({counts.collection} to {counts.quarantine_collection}). Review "
            "its other content before restoring anything.",
        )

    async def contain_agentic(
        self, incident: IncidentStart, context: IncidentContext, inventory: InventoryContext
    ) -> None:
        calls = await self.step(
            "capture tool calls",
            CAPTURE_TOOL_CALLS,
            ToolCallsRequest(incident_id=incident.incident_id, captured_by="playbook"),
        )
        target = context.endpoint or "the agent's endpoint"
        critical = self.incident_severity is Severity.CRITICAL
        decision = await self.approve(
            "freeze agent",
            question=f"The agent behind {target} executed {context.tool_calls} tool call(s) "
            "under injected instructions. Revoke its tool credentials and isolate it?",
            risk="The agent stops serving until restored"
            + ("; it serves production" if inventory.production else ""),
            approvers=[SECURITY_ONCALL],
            min_approvals=2 if inventory.production else 1,
            escalation=[Escalation(after=FREEZE_ESCALATE_AFTER, approvers=[INCIDENT_COMMANDERS])],
            timeout=FREEZE_DECIDE_WITHIN,
            fallback=Fallback.PROCEED if critical else Fallback.SKIP,
        )
        if calls is not None:
            await self.record(
                "evidence.tool_calls",
                f"Tool calls kept as evidence {calls.name} (sha256 {calls.sha256})",
            )
        if not decision.approved:
            return
        await self.revoke(incident, inventory.application_keys, "agent tool credentials")
        if context.endpoint is None:
            await self.missing("isolate agent", "the alerts name no endpoint to isolate")
            return
        provider = next(
            (e.provider for e in inventory.endpoints if e.name == context.endpoint), "local"
        )
        action = EndpointAction(
            incident_id=incident.incident_id,
            step="isolate agent",
            provider=provider,
            endpoint=context.endpoint,
            reason=f"{incident.ref}: agent executed injected tool calls",
        )
        await self.step("isolate agent", ISOLATE_ENDPOINT, action)
