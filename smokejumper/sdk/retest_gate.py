"""The retest gate: before containment that keeps attackers away is undone — a block
lifted, an isolated endpoint restored, a rolled-back model served again — the endpoint is
retested with the incident's own attack prompts and the probe set, and the undo goes on
only when the retest passes or two people other than the requester override it.

CoSAI's incident-response framework puts this in recovery: a system returns to service
once it is verified clean; NIST SP 800-61 asks the same of recovery ("confirm that the
affected systems are functioning normally" before restoring them).
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

from smokejumper.contracts.controls import UNBLOCK_PRINCIPAL
from smokejumper.contracts.endpoints import RESTORE_ENDPOINT
from smokejumper.contracts.models import RESTORE_MODEL
from smokejumper.contracts.retest import RETEST
from smokejumper.domain.retest import RetestPurpose, RetestRequest, RetestResult
from smokejumper.sdk.approvals import Fallback
from smokejumper.sdk.attempts import failure_message
from smokejumper.sdk.handoffs import Steps

# Undos that put the endpoint back in front of whoever attacked it.
RETEST_BEFORE = frozenset({RESTORE_ENDPOINT.name, UNBLOCK_PRINCIPAL.name, RESTORE_MODEL.name})
# Restoring what failed its retest takes two people who did not ask for it.
OVERRIDE_APPROVALS = 2
# Nobody overriding within this leaves the containment in force.
OVERRIDE_TIMEOUT = timedelta(days=1)


class RetestGate(Steps):
    """`_retest_gate`, called by a restore or a lift once it is approved."""

    # Undo contracts (by activity name) that wait for a retest; a playbook may widen it.
    retest_before: ClassVar[frozenset[str]] = RETEST_BEFORE
    # Retests asked in this run (an int default: each run counts its own from zero).
    _retests: int = 0

    async def _retest_gate(self, purpose: RetestPurpose, requested_by: str) -> bool:
        """Retest before undoing; True when the undo may go on. A retest that cannot run
        (no endpoint known, the activity failing) is a failed retest, never a pass."""
        gated = [undo for undo in self._undo if undo.contract.name in self.retest_before]
        if not gated:
            return True
        self._retests += 1
        # The whole restore waits on the retest: it undoes every step, gated or not.
        steps = ", ".join(undo.step for undo in reversed(self._undo))
        endpoints = sorted(
            {e for undo in gated if isinstance(e := getattr(undo.arg, "endpoint", None), str)}
        )
        request = RetestRequest(
            incident_id=self.incident.incident_id,
            purpose=purpose,
            attempt=f"{purpose}-{workflow.info().run_id}-{self._retests}",
            requested_by=requested_by,
            endpoints=endpoints,
        )
        # Without an isolated endpoint among the steps, the activity finds the incident's.
        target = ", ".join(endpoints) or "the incident's endpoint"
        await self.record(
            "retest.started", f"Retesting {target} before undoing {steps}", actor=requested_by
        )
        try:
            result = await RETEST.execute(request)
        except ActivityError as exc:
            result = RetestResult(
                incident_id=request.incident_id,
                business_key=request.business_key,
                endpoints=endpoints,
                reason=f"the retest could not run: {failure_message(exc)}",
            )
        said = result.reason or result.summary()
        data: dict[str, str | int | float | bool | None] = {
            "purpose": purpose,
            "passed": result.passed,
            "detector": result.detector,
            "endpoints": ", ".join(result.endpoints),
            "probes": len(result.probes),
            "flagged": sum(p.outcome == "flagged" for p in result.probes),
            "not_answered": sum(p.outcome == "no_answer" for p in result.probes),
            "withheld": result.withheld,
            "transcript": result.transcript.name if result.transcript else None,
        }
        if result.passed:
            await self.record("retest.passed", f"Retest passed: {said}", data=data)
            await self.audit("playbook.retest.passed", requested_by, data)
            return True
        await self.record("retest.failed", f"Retest failed: {said}", data=data)
        await self.audit("playbook.retest.failed", requested_by, data)
        return await self._override(purpose, requested_by, said, steps)

    async def _override(
        self, purpose: RetestPurpose, requested_by: str, why: str, steps: str
    ) -> bool:
        """Two people other than the requester may restore what failed its retest."""
        step = f"{purpose} override"
        while step in self._approvals:
            step = f"{purpose} override ({sum(s.startswith(purpose) for s in self._approvals)})"
        approvers = list(self.restore_approvers)
        try:
            others = [p for p in await self._resolve(approvers) if p != requested_by]
            problem = (
                None
                if len(others) >= OVERRIDE_APPROVALS
                else f"fewer than {OVERRIDE_APPROVALS} approvers besides {requested_by}"
            )
        except ActivityError as exc:
            problem = failure_message(exc)
        if problem is None:
            decision = await self.approve(
                step,
                question=f"The retest failed ({why}). Undo {steps} anyway?",
                risk="The endpoint goes back into service though it still fails its retest.",
                approvers=approvers,
                min_approvals=OVERRIDE_APPROVALS,
                timeout=OVERRIDE_TIMEOUT,
                fallback=Fallback.SKIP,
                requested_by=requested_by,
            )
            if decision.approved:
                who = ", ".join(decision.decided_by)
                await self.record(
                    "retest.overridden",
                    f"Retest failed; undo of {steps} approved anyway by {who}",
                    step=step,
                    actor=who,
                )
                return True
            problem = decision.reason or decision.outcome
        await self.record(
            "retest.held",
            f"Containment stays in force: the retest failed and no override ({problem})",
            actor=requested_by,
        )
        return False
