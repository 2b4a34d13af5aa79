"""`model-compromise`: the model serving traffic is not the one that was reviewed — a
tampered artifact, a poisoned version or a compromised supply chain.

OWASP LLM03 (Supply Chain) and LLM04 (Data and Model Poisoning); ATLAS AML.T0018
(Manipulate AI Model), AML.T0010 (AI Supply Chain Compromise), AML.T0020 (Poison Training
Data), AML.T0058 (Publish Poisoned Models).

1. Read the alert and look the model version up in the inventory: the digest it should
   have, the endpoints serving it (blast radius), its last known good version, the keys
   that may write to its registry, whether the system is high-risk.
2. Verify the digest against the inventory; keep the alert's digests and the inventory's
   version history as evidence.
3. High-risk system (EU AI Act Annex III): start the Art. 73 clock from awareness.
4. Isolate every endpoint serving the version, with approval; unanswered in 15 minutes,
   critical incidents isolate anyway, others wait for a responder.
5. Roll back to the last known good version, with two approvals (ML platform and
   security).
6. Revoke the keys that could write to the registry.
7. Contained; report.
"""

from __future__ import annotations

import json
from datetime import timedelta

from playbooks.common import INCIDENT_COMMANDERS, ML_PLATFORM, SECURITY_ONCALL, GenAIPlaybook
from smokejumper.sdk import (
    CAPTURE_EVIDENCE,
    ISOLATE_ENDPOINT,
    ROLLBACK_MODEL,
    AlertKind,
    ClockBasis,
    ClockKind,
    EndpointAction,
    EndpointInfo,
    EvidenceCapture,
    Fallback,
    IncidentContext,
    IncidentStart,
    IncidentStatus,
    InventoryContext,
    ModelAction,
    Route,
    Severity,
    playbook,
)

ISOLATE_DECIDE_WITHIN = timedelta(minutes=15)
ROLLBACK_DECIDE_WITHIN = timedelta(hours=4)


@playbook
class ModelCompromise(GenAIPlaybook):
    name = "model-compromise"
    version = "1"
    description = (
        "Tampered or poisoned model: verify the digest, isolate the endpoints serving it, "
        "roll back to the last known good version, revoke registry write keys, run the EU "
        "AI Act clock for high-risk systems, report."
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
        await self.verify_digest(incident, context, inventory, version)
        if inventory.high_risk:
            await self.start_clock(
                ClockKind.EU_AI_ACT_ART73,
                started_at=incident.opened_at,
                basis=ClockBasis.AWARENESS,
                escalate_to=[INCIDENT_COMMANDERS],
            )

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
