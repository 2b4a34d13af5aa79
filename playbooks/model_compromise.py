"""`model-compromise`: the model serving traffic is not the one that was reviewed — a
tampered artifact, a poisoned version or a compromised supply chain.

OWASP LLM03 (Supply Chain) and LLM04 (Data and Model Poisoning); ATLAS AML.T0018
(Manipulate AI Model), AML.T0010 (AI Supply Chain Compromise), AML.T0020 (Poison Training
Data), AML.T0058 (Publish Poisoned Models).

CoSAI incident-response phases: detection and analysis (steps 1-3), containment,
eradication and recovery (4), post-incident activity (5).

1. Read the alert and look the model version up in the inventory: the digest it should
   have, the endpoints serving it (blast radius), its last known good version, the keys
   that may write to its registry, whether the system is high-risk.
2. Verify provenance: hash the version's artifact and the datasets the inventory links it
   to, now, against the inventory's digests; keep both, and the alert's, as evidence.
3. Everything matches: a likely false alarm. A responder confirms it, and the incident
   is closed as "false alarm confirmed by <who>"; nothing is isolated or rolled back. A
   responder who says otherwise sends it down the compromise path.
4. Otherwise, at the same time:
   - the model does not match (or cannot be verified): isolate every endpoint serving
     the version, with approval (unanswered in 15 minutes, critical incidents isolate
     anyway, others wait); roll back to the last known good version with two approvals
     (ML platform and security); revoke the keys that could write to the registry;
     contained.
   - a training dataset does not match: data poisoning (LLM04, AML.T0020); the ML
     platform is asked to approve retraining from a verified copy.
   - high-risk system (EU AI Act Annex III): ask which Art. 73 class this is and start the
     matching clock from awareness.
   - ask the disclosure group whether the incident is material (SEC 8-K Item 1.05), and
     start the 8-K clock from that determination.
5. Report.

Incidents started before provenance was checked (version 1) replay behind
BRANCHES_PATCH: verify, Art. 73 clock of 15 days, isolate, roll back, revoke.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from temporalio import workflow

from playbooks.common import INCIDENT_COMMANDERS, ML_PLATFORM, SECURITY_ONCALL, GenAIPlaybook
from smokejumper.sdk import (
    CAPTURE_EVIDENCE,
    ISOLATE_ENDPOINT,
    ROLLBACK_MODEL,
    VERIFY_INTEGRITY,
    AlertKind,
    ClockBasis,
    ClockKind,
    ComponentRef,
    DigestCheck,
    DigestVerdict,
    EndpointAction,
    EndpointInfo,
    Escalation,
    EvidenceCapture,
    Fallback,
    IncidentContext,
    IncidentStart,
    IncidentStatus,
    IntegrityQuery,
    IntegrityReport,
    InventoryContext,
    ModelAction,
    Route,
    Severity,
    playbook,
)

ISOLATE_DECIDE_WITHIN = timedelta(minutes=15)
ROLLBACK_DECIDE_WITHIN = timedelta(hours=4)
# A likely false alarm waits for a person (nothing is contained meanwhile, and nothing
# needs to be): the on-call, then the incident commanders after an hour.
FALSE_ALARM_ESCALATE_AFTER = timedelta(hours=1)
RETRAINING_ESCALATE_AFTER = timedelta(hours=24)
# Marks runs that check provenance and branch on it (version 2); earlier runs replay the
# unconditional containment of version 1.
BRANCHES_PATCH = "model-compromise-branches"
# Runs recorded before suppliers were told replay without it.
SUPPLIERS_PATCH = "model-compromise-suppliers"
FALSE_ALARM_STEP = "confirm false alarm"
RETRAINING_STEP = "approve retraining"


@playbook
class ModelCompromise(GenAIPlaybook):
    name = "model-compromise"
    version = "2"
    description = (
        "Tampered or poisoned model: hash the artifact and its training data; a match is a "
        "false alarm a responder confirms; otherwise isolate the endpoints serving it, roll "
        "back to the last known good version, revoke registry write keys, ask who approves "
        "retraining on poisoned data, classify the EU AI Act Art. 73 incident and ask for "
        "the SEC 8-K materiality determination, each starting its clock, report."
    )
    severity = "critical"
    owasp = ["LLM03", "LLM04"]
    atlas = ["AML.T0018", "AML.T0010", "AML.T0020", "AML.T0058"]
    triggers = [
        Route(
            playbook="model-compromise",
            kinds=(AlertKind.MODEL_COMPROMISE,),
            min_severity=Severity.LOW,
        )
    ]

    async def respond(self, incident: IncidentStart) -> None:
        await self.set_status(IncidentStatus.ACKNOWLEDGED, "model compromise response started")
        context, inventory = await self.look(incident)
        version = f"{context.model}@{context.model_version}"
        if not workflow.patched(BRANCHES_PATCH):
            await self.respond_v1(incident, context, inventory, version)
            return
        integrity = await self.verify_provenance(incident, context, inventory, version)
        poisoned = integrity.poisoned
        tampered = integrity.model.verdict is not DigestVerdict.MATCH
        found = "failed its integrity check." if tampered else "was trained on data that changed."
        if not tampered and not poisoned:
            if await self.confirm_false_alarm(incident, integrity, version):
                return
            # A responder says otherwise: handled as a compromise.
            tampered, found = True, "matches its digests, but is not a false alarm."
        summary = f"{incident.ref}: {version} {found}"
        branches: list[Awaitable[Any]] = []
        if tampered:
            branches.append(self.contain(incident, context, inventory, version))
        if poisoned:
            branches.append(self.approve_retraining(context, poisoned, version))
        if inventory.high_risk:
            branches.append(self.ai_act_classification(incident, summary))
        branches.append(self.materiality_review(summary))
        if workflow.patched(SUPPLIERS_PATCH):
            branches.append(self.tell_model_suppliers(incident, context, poisoned, version))
        # Containment never waits for the regulatory questions, nor they for it.
        await self.parallel(*branches)
        await self.write_report(incident)

    async def verify_provenance(
        self,
        incident: IncidentStart,
        context: IncidentContext,
        inventory: InventoryContext,
        version: str,
    ) -> IntegrityReport:
        """Hash the artifact and its training data now; on the timeline and as evidence."""
        integrity = await self.step(
            "verify integrity",
            VERIFY_INTEGRITY,
            IntegrityQuery(
                incident_id=incident.incident_id,
                model=context.model,
                version=context.model_version,
                alert_digest=context.actual_digest,
            ),
        ) or IntegrityReport(
            # Handed to people: unverified, so the compromise path is taken.
            model=DigestCheck(subject=f"model:{version}", how="the check could not run")
        )
        model = integrity.model
        if model.verdict is DigestVerdict.MATCH:
            verdict = f"{version} matches the inventory's digest ({model.how})"
        elif model.verdict is DigestVerdict.MISMATCH:
            verdict = (
                f"{version} does not match the inventory's digest {model.expected} ({model.how})"
            )
        else:
            verdict = f"{version} could not be verified: {model.how}"
        await self.record(
            "digest.verified",
            verdict,
            data={
                "verdict": model.verdict.value,
                "expected": model.expected,
                "actual": model.actual,
                "registry_expected": context.expected_digest,
                "alert_actual": context.actual_digest,
            },
        )
        for dataset in integrity.datasets:
            await self.record(
                "dataset.verified",
                f"{dataset.subject}: {dataset.verdict.value} ({dataset.how})",
                data={
                    "dataset": dataset.subject,
                    "verdict": dataset.verdict.value,
                    "expected": dataset.expected,
                    "actual": dataset.actual,
                },
            )
        history = {
            "model": context.model,
            "version": context.model_version,
            "registry": context.registry,
            "alert_expected_digest": context.expected_digest,
            "alert_actual_digest": context.actual_digest,
            "inventory_digest": inventory.expected_digest,
            "last_known_good": inventory.last_known_good,
            "endpoints": [e.model_dump() for e in inventory.endpoints],
            "integrity": integrity.model_dump(mode="json"),
        }
        await self.keep_registry_state(incident, history)
        return integrity

    async def keep_registry_state(self, incident: IncidentStart, history: dict[str, Any]) -> None:
        """What the alert, the inventory and the check said of the version, as evidence."""
        await self.step(
            "capture registry state",
            CAPTURE_EVIDENCE,
            EvidenceCapture(
                incident_id=incident.incident_id,
                name="registry-state",
                kind="model_registry",
                content=json.dumps(history, indent=2, sort_keys=True),
                captured_by=f"playbook:{self.name}",
            ),
        )

    async def confirm_false_alarm(
        self, incident: IncidentStart, integrity: IntegrityReport, version: str
    ) -> bool:
        """Everything hashes as recorded: ask a responder to confirm the false alarm. True
        when confirmed (the incident is closed as such); False when they say otherwise."""
        data = (
            f"its {len(integrity.datasets)} training dataset(s) match or could not be read"
            if integrity.datasets
            else "the inventory links it to no training data"
        )
        unverified = [
            d.subject for d in integrity.datasets if d.verdict is DigestVerdict.UNVERIFIED
        ]
        await self.record(
            "false_alarm.suspected",
            f"{version} matches the inventory's digest ({integrity.model.how}) and {data}: "
            "likely a false alarm; asking a responder to confirm",
        )
        decision = await self.approve(
            FALSE_ALARM_STEP,
            question=f"{version} matches the digest the inventory records "
            f"({integrity.model.how}), and {data}"
            + (f" (not verified: {', '.join(unverified)})" if unverified else "")
            + ". Is this alert a false alarm?",
            risk="Approve: the incident is closed as a false alarm; nothing is isolated or "
            "rolled back. Deny: it is handled as a compromise (isolate, roll back, revoke).",
            approvers=[SECURITY_ONCALL],
            escalation=[
                Escalation(after=FALSE_ALARM_ESCALATE_AFTER, approvers=[INCIDENT_COMMANDERS])
            ],
        )
        who = ", ".join(decision.decided_by)
        if not decision.approved:
            await self.record(
                "false_alarm.rejected",
                f"Not a false alarm, says {who}"
                + (f": {decision.reason}" if decision.reason else "")
                + "; handled as a compromise",
                actor=who,
            )
            return False
        reason = f"false alarm confirmed by {who}" + (
            f": {decision.reason}" if decision.reason else ""
        )
        await self.set_status(IncidentStatus.RESOLVED, reason)
        await self.write_report(incident)
        self.close_when_finished(who, reason)
        return True

    async def contain(
        self,
        incident: IncidentStart,
        context: IncidentContext,
        inventory: InventoryContext,
        version: str,
    ) -> None:
        """Take the version out of service: isolate, roll back, revoke, tell the owners."""
        serving = [e for e in inventory.endpoints if e.serves == version] or [
            e for e in inventory.endpoints if e.name == context.endpoint
        ]
        if serving:
            await self.isolate(incident, serving, version)
        else:
            await self.missing(
                "isolate endpoints", f"no endpoint in the inventory serves {version}"
            )
        await self.roll_back(incident, context, inventory)
        await self.revoke(incident, inventory.registry_writers, "may write to the registry")
        await self.notify_owners(
            inventory,
            f"{incident.ref}: {version} failed its integrity check; "
            f"{len(serving)} endpoint(s) affected, last known good "
            f"{inventory.last_known_good or 'unknown'}, "
            f"{len(inventory.registry_writers)} registry write key(s) revoked.",
            also=[ML_PLATFORM],
        )
        await self.set_status(IncidentStatus.CONTAINED, f"{version} taken out of service")

    async def tell_model_suppliers(
        self,
        incident: IncidentStart,
        context: IncidentContext,
        poisoned: list[DigestCheck],
        version: str,
    ) -> None:
        """A third-party model or dataset: its supplier's security team hears it from us
        (supply-chain compromise, ATLAS AML.T0010)."""
        components = [ComponentRef(type="model", name=context.model)] if context.model else []
        components += [
            ComponentRef(type="dataset", name=d.subject.removeprefix("dataset:")) for d in poisoned
        ]
        changed = ", ".join(str(c) for c in components)
        await self.tell_suppliers(
            incident,
            components,
            finding=f"{version} failed our integrity check ({changed} no longer matches the "
            "digests we recorded when we reviewed it).",
            asked="Check whether your published artifacts or data were altered, tell us of "
            "any compromise on your side, and the digests we should expect.",
        )

    async def approve_retraining(
        self, context: IncidentContext, poisoned: list[DigestCheck], version: str
    ) -> None:
        """Training data changed since the version was recorded: data poisoning (OWASP
        LLM04, ATLAS AML.T0020). The ML platform decides whether to retrain, and who did
        is on record."""
        names = ", ".join(d.subject.removeprefix("dataset:") for d in poisoned)
        await self.escalate(Severity.CRITICAL, f"training data of {version} changed")
        await self.record(
            "data_poisoning.suspected",
            f"Training data of {version} no longer matches the inventory: {names} "
            "(LLM04:2025 Data and Model Poisoning; AML.T0020 Poison Training Data)",
            data={"datasets": names, "owasp": "LLM04", "atlas": "AML.T0020"},
        )
        decision = await self.approve(
            RETRAINING_STEP,
            question=f"The training data of {version} ({names}) no longer matches the "
            f"digests the inventory records: possible data poisoning. Approve retraining "
            f"{context.model or 'the model'} from a verified copy of the data?",
            risk="Approve: retraining is authorised by you, from data whose digests are "
            "verified first. Deny: no retraining; the model stays as it is.",
            approvers=[ML_PLATFORM],
            escalation=[
                Escalation(after=RETRAINING_ESCALATE_AFTER, approvers=[INCIDENT_COMMANDERS])
            ],
        )
        who = ", ".join(decision.decided_by)
        if decision.approved:
            await self.record(
                "retraining.approved",
                f"Retraining of {version} from verified data approved by {who}",
                actor=who,
            )
        else:
            await self.record(
                "retraining.refused",
                f"Retraining of {version} refused by {who}"
                + (f": {decision.reason}" if decision.reason else ""),
                actor=who,
            )

    async def respond_v1(
        self,
        incident: IncidentStart,
        context: IncidentContext,
        inventory: InventoryContext,
        version: str,
    ) -> None:
        """Version 1, for the incidents it started: contain whatever the digest says."""
        await self.verify_digest(incident, context, inventory, version)
        if inventory.high_risk:
            await self.start_clock(
                ClockKind.EU_AI_ACT_ART73,
                started_at=incident.opened_at,
                basis=ClockBasis.AWARENESS,
                escalate_to=[INCIDENT_COMMANDERS],
            )

        # The same commands as the version 2 containment branch.
        await self.contain(incident, context, inventory, version)
        await self.write_report(incident)

    async def verify_digest(
        self,
        incident: IncidentStart,
        context: IncidentContext,
        inventory: InventoryContext,
        version: str,
    ) -> None:
        expected = inventory.expected_digest
        actual = context.actual_digest
        if expected is None:
            verdict = f"{version} has no digest in the inventory to verify against"
        elif actual == expected:
            verdict = f"{version} matches the inventory's digest; the registry's record differs"
        else:
            verdict = f"{version} does not match the inventory's digest {expected}"
        await self.record(
            "digest.verified",
            verdict,
            data={
                "expected": expected,
                "actual": actual,
                "registry_expected": context.expected_digest,
            },
        )
        history = {
            "model": context.model,
            "version": context.model_version,
            "registry": context.registry,
            "alert_expected_digest": context.expected_digest,
            "alert_actual_digest": actual,
            "inventory_digest": expected,
            "last_known_good": inventory.last_known_good,
            "endpoints": [e.model_dump() for e in inventory.endpoints],
        }
        await self.keep_registry_state(incident, history)

    async def isolate(
        self, incident: IncidentStart, serving: list[EndpointInfo], version: str
    ) -> None:
        names = ", ".join(e.name for e in serving)
        critical = self.incident_severity is Severity.CRITICAL
        decision = await self.approve(
            "isolate endpoints",
            question=f"Isolate {names}, serving the compromised {version}?",
            risk="Those endpoints stop serving until restored",
            approvers=[SECURITY_ONCALL],
            timeout=ISOLATE_DECIDE_WITHIN,
            fallback=Fallback.PROCEED if critical else Fallback.SKIP,
        )
        if not decision.approved:
            return
        for endpoint in serving:
            name = f"isolate {endpoint.name}"
            action = EndpointAction(
                incident_id=incident.incident_id,
                step=name,
                provider=endpoint.provider,
                endpoint=endpoint.name,
                reason=f"{incident.ref}: serves compromised {version}",
            )
            await self.step(name, ISOLATE_ENDPOINT, action)

    async def roll_back(
        self, incident: IncidentStart, context: IncidentContext, inventory: InventoryContext
    ) -> None:
        if context.model is None or inventory.last_known_good is None:
            await self.missing(
                "roll back model",
                "no last known good version in the inventory: rebuild from a reviewed source",
            )
            return
        decision = await self.approve(
            "roll back model",
            question=f"Point {context.model}'s production alias at "
            f"{inventory.last_known_good}, the last known good version?",
            risk="Behaviour changes to the older version for every caller",
            approvers=[ML_PLATFORM, SECURITY_ONCALL],
            min_approvals=2,
            timeout=ROLLBACK_DECIDE_WITHIN,
            fallback=Fallback.SKIP,
        )
        if not decision.approved:
            return
        action = ModelAction(
            incident_id=incident.incident_id,
            step="roll back model",
            provider=inventory.model_provider or "local",
            model=context.model,
            to_version=inventory.last_known_good,
            reason=f"{incident.ref}: {context.model}@{context.model_version} compromised",
        )
        # Hashing a large model's artifacts takes minutes: the contract's retry class
        # allows 30 minutes, with a heartbeat.
        await self.step("roll back model", ROLLBACK_MODEL, action)
