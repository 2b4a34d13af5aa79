"""Approval rules: who may decide, when a request is decided, what a timeout does.

Pure functions of the workflow's state, so the same checks run in the update validator
(before anything reaches history), in the signal handler and in tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class Fallback(StrEnum):
    """What happens when nobody decides before the timeout: always declared, never implied."""

    PROCEED = "proceed"
    SKIP = "skip"
    ABORT = "abort"


class Choice(StrEnum):
    """The answers to a hand-off: a step that failed, or that the playbook could not take,
    put to people instead of ending the response."""

    RETRY = "retry"
    DONE = "done"  # done by hand, outside smokejumper; the note says what was done
    SKIP = "skip"


HANDOFF_CHOICES = [Choice.RETRY, Choice.DONE, Choice.SKIP]


class Escalation(BaseModel):
    """After `after` (from the request) without a decision, also ask `approvers`."""

    after: timedelta
    approvers: list[str] = Field(min_length=1)


class ApprovalSpec(BaseModel):
    step: str = Field(min_length=1, max_length=100)
    question: str = Field(min_length=1)
    risk: str = ""
    approvers: list[str] = Field(min_length=1)
    min_approvals: int = Field(default=1, ge=1)
    timeout: timedelta | None = None
    escalation: list[Escalation] = Field(default_factory=list)
    fallback: Fallback | None = None
    requested_by: str
    # A hand-off: answered with one of these instead of approve/deny (empty: an approval).
    choices: list[Choice] = Field(default_factory=list)

    @model_validator(mode="after")
    def _declared(self) -> ApprovalSpec:
        if self.timeout is not None and self.fallback is None:
            raise ValueError("an approval with a timeout must declare its fallback")
        afters = [tier.after for tier in self.escalation]
        if afters != sorted(afters):
            raise ValueError("escalation tiers must be in order of `after`")
        if self.timeout is not None and any(after >= self.timeout for after in afters):
            raise ValueError("every escalation must come before the timeout")
        return self


class DecisionRequest(BaseModel):
    """A responder's answer, from Slack, the CLI or the console."""

    step: str = Field(min_length=1, max_length=100)
    approve: bool
    actor: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)
    via: str = Field(default="api", max_length=40)
    # For a hand-off; without it, approve means retry and deny means skip.
    choice: Choice | None = None


class Vote(BaseModel):
    actor: str
    approve: bool
    reason: str
    via: str
    at: datetime
    choice: Choice | None = None


class Decision(BaseModel):
    """What `approve()` returns to the playbook."""

    step: str
    outcome: Literal["approved", "denied", "timed_out"]
    approved: bool
    decided_by: list[str]
    decided_at: datetime
    reason: str = ""
    fallback: Fallback | None = None
    # What a hand-off was answered with (None for approvals, and for a withdrawn hand-off).
    choice: Choice | None = None

    @property
    def why_not(self) -> str:
        """Why it was not approved, for a follow-up: who denied it, or that nobody answered."""
        if self.outcome == "denied":
            return f"denied by {', '.join(self.decided_by)}"
        return "not answered in time"


class VoteReceipt(BaseModel):
    """What a responder's update returns: their vote is in; the decision, if it is made."""

    step: str
    recorded: bool
    decision: Decision | None
    approvals_missing: int
    # The child playbook's workflow id when the approval is a child's: the incident's
    # workflow checked the vote and passed it on; `decision` is what it makes there.
    forwarded_to: str | None = None


class PendingApproval(BaseModel):
    spec: ApprovalSpec
    requested_at: datetime
    eligible: list[str]
    tier: int = 0
    votes: list[Vote] = Field(default_factory=list)
    decision: Decision | None = None

    @property
    def deadline(self) -> datetime | None:
        return self.requested_at + self.spec.timeout if self.spec.timeout else None

    def add_vote(self, request: DecisionRequest, at: datetime) -> None:
        self.votes.append(
            Vote(
                actor=request.actor,
                approve=request.approve,
                reason=request.reason,
                via=request.via,
                at=at,
                choice=chosen(self.spec, request),
            )
        )

    def receipt(self, forwarded_to: str | None = None) -> VoteReceipt:
        approvals = sum(1 for vote in self.votes if vote.approve)
        return VoteReceipt(
            step=self.spec.step,
            recorded=True,
            decision=self.decision,
            approvals_missing=max(0, self.spec.min_approvals - approvals),
            forwarded_to=forwarded_to,
        )


class ChildApproval(BaseModel):
    """A child playbook's approval as it stands, signalled to its parent.

    Responders address the incident's own workflow (the parent), which lists, checks and
    passes on votes for it. `seq` orders the child's announcements: signals sent from
    concurrent handlers may arrive out of order, and an older one must not win.
    """

    workflow_id: str
    seq: int
    pending: PendingApproval


def chosen(spec: ApprovalSpec, request: DecisionRequest) -> Choice | None:
    """A hand-off's answer: the choice given, else approve as retry and deny as skip."""
    if not spec.choices:
        return None
    if request.choice is not None:
        return request.choice
    return Choice.RETRY if request.approve else Choice.SKIP


def _choice_refusal(spec: ApprovalSpec, request: DecisionRequest) -> str | None:
    if not spec.choices:
        if request.choice is not None:
            return f"step {request.step!r} asks to approve or deny, not {request.choice.value}"
        return None
    choice = chosen(spec, request)
    if choice not in spec.choices:
        offered = ", ".join(c.value for c in spec.choices)
        return f"step {request.step!r} can be answered with {offered}, not {choice}"
    if choice is Choice.DONE and not request.reason.strip():
        return "say what was done by hand (a note is required)"
    if choice is Choice.SKIP and not request.reason.strip():
        return "give the reason for skipping it (a reason is required)"
    return None


def refusal(pending: PendingApproval | None, request: DecisionRequest, now: datetime) -> str | None:
    """Why this decision must be refused, or None when it may be recorded."""
    if pending is None:
        return f"no approval is pending for step {request.step!r}"
    problem = _choice_refusal(pending.spec, request)
    if problem is not None:
        return problem
    if pending.decision is not None:
        return f"step {request.step!r} was already decided ({pending.decision.outcome})"
    deadline = pending.deadline
    if deadline is not None and now >= deadline:
        return f"the approval for step {request.step!r} has timed out"
    if request.actor == pending.spec.requested_by:
        return "a requester cannot approve their own request"
    if request.actor not in pending.eligible:
        return f"{request.actor} is not an approver for step {request.step!r}"
    if any(vote.actor == request.actor for vote in pending.votes):
        return f"{request.actor} has already answered step {request.step!r}"
    return None


def tally(pending: PendingApproval, now: datetime) -> Decision | None:
    """The decision the votes so far make, if any: one deny denies; approvals need
    `min_approvals` distinct people. A hand-off is decided by its first answer."""
    if pending.spec.choices and pending.votes:
        vote = pending.votes[0]
        return Decision(
            step=pending.spec.step,
            outcome="denied" if vote.choice is Choice.SKIP else "approved",
            approved=vote.choice is not Choice.SKIP,
            decided_by=[vote.actor],
            decided_at=now,
            reason=vote.reason,
            choice=vote.choice,
        )
    denial = next((vote for vote in pending.votes if not vote.approve), None)
    if denial is not None:
        return Decision(
            step=pending.spec.step,
            outcome="denied",
            approved=False,
            decided_by=[denial.actor],
            decided_at=now,
            reason=denial.reason,
        )
    approvers = [vote.actor for vote in pending.votes if vote.approve]
    if len(approvers) >= pending.spec.min_approvals:
        return Decision(
            step=pending.spec.step,
            outcome="approved",
            approved=True,
            decided_by=approvers,
            decided_at=now,
            reason="; ".join(vote.reason for vote in pending.votes if vote.reason),
        )
    return None


def timed_out(pending: PendingApproval, now: datetime) -> Decision:
    fallback = pending.spec.fallback or Fallback.ABORT
    return Decision(
        step=pending.spec.step,
        outcome="timed_out",
        approved=fallback is Fallback.PROCEED,
        decided_by=[],
        decided_at=now,
        reason=f"no decision before the timeout; fallback {fallback.value}",
        fallback=fallback,
    )
