"""A child playbook's approvals, answered at the parent: the child announces each, the
parent lists it, checks votes against it and passes them on."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import FailureError

from smokejumper.domain.incidents import SIGNAL_CHILD_APPROVAL, SIGNAL_DECIDE
from smokejumper.sdk.approvals import (
    ChildApproval,
    DecisionRequest,
    PendingApproval,
    VoteReceipt,
    tally,
)
from smokejumper.sdk.patches import CHILD_APPROVALS_PATCH
from smokejumper.sdk.run_state import RunState


class ChildApprovals(RunState):
    """Announcing a child's approvals to its parent, and forwarding votes to the child."""

    async def _announce(self, pending: PendingApproval) -> None:
        """Tell the parent playbook how this approval stands, when this run is a child.

        Responders answer the incident's own workflow, the parent, which lists the approval,
        checks votes against it and passes them on here. Runs recorded before children did
        this replay unchanged behind the patch.
        """
        if workflow.info().parent is None or not workflow.patched(CHILD_APPROVALS_PATCH):
            return
        self._announced += 1
        await self._tell_parent(
            ChildApproval(
                workflow_id=workflow.info().workflow_id,
                seq=self._announced,
                pending=pending.model_copy(deep=True),
            )
        )

    async def _tell_parent(self, message: ChildApproval) -> None:
        parent = workflow.info().parent
        assert parent is not None
        self._told_parent = True
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                SIGNAL_CHILD_APPROVAL, message
            )
        except FailureError:
            # The parent has gone (terminated): nobody can answer there; the approval still
            # times out in the child with its declared fallback.
            return

    async def _child_approval_signal(self, message: ChildApproval) -> None:
        key = (message.workflow_id, message.pending.spec.step)
        known = self._child_approvals.get(key)
        if known is None or message.seq > known.seq:
            self._child_approvals[key] = message
        if workflow.info().parent is not None:
            # A grandchild's approval goes on up to the incident's workflow, which then
            # forwards votes to the grandchild itself.
            await self._tell_parent(message)

    def _mirrored(self, step: str) -> ChildApproval | None:
        """A child's approval of this step: the undecided one if there is one."""
        found = [known for (_, name), known in self._child_approvals.items() if name == step]
        undecided = [known for known in found if known.pending.decision is None]
        candidates = undecided or found
        return candidates[0] if candidates else None

    def _approval(self, step: str) -> PendingApproval | None:
        """The approval a responder's `step` means: this playbook's own first, then a
        child's."""
        own = self._approvals.get(step)
        if own is not None:
            return own
        mirrored = self._mirrored(step)
        return mirrored.pending if mirrored is not None else None

    async def _forward(self, request: DecisionRequest) -> VoteReceipt:
        """Pass a checked vote on to the child that asked; answer with what it will make of
        it (the child runs the same rules on the same votes, and records the vote)."""
        mirrored = self._mirrored(request.step)
        assert mirrored is not None  # refused before this by `refusal`
        pending = mirrored.pending
        pending.add_vote(request, workflow.now())
        if pending.decision is None:
            pending.decision = tally(pending, workflow.now())
        try:
            await workflow.get_external_workflow_handle(mirrored.workflow_id).signal(
                SIGNAL_DECIDE, request
            )
        except FailureError:
            del self._child_approvals[(mirrored.workflow_id, request.step)]
            await self.record(
                "approval.refused",
                f"Refused a decision from {request.actor}: the child playbook "
                f"{mirrored.workflow_id} that asked for {request.step} is no longer running",
                step=request.step,
                actor=request.actor,
            )
            return VoteReceipt(
                step=request.step, recorded=False, decision=None, approvals_missing=0
            )
        return pending.receipt(forwarded_to=mirrored.workflow_id)
