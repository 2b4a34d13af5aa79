"""What a step is made of: the attempt a responder can retry, the undo it leaves, what a
failure does, and how an activity's failure is told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from smokejumper.contracts.base import Contract
from smokejumper.domain.alerts import Severity
from smokejumper.temporal.priority import task_priority


class ContractUndo:
    """`step(undo=...)` left unset: the contract's own undo applies."""


class PlaybookAborted(Exception):
    """Raised inside `respond` to stop and undo what was done (or by a timed-out approval
    whose fallback is abort)."""


@dataclass
class Undo:
    step: str
    contract: Contract[Any, Any]
    arg: Any


class OnFailure(StrEnum):
    """What a failed step does: hand itself to people while the response goes on (the
    default), or raise into `respond` (for a step the rest cannot do without)."""

    HAND_OFF = "hand_off"
    RAISE = "raise"


@dataclass
class Attempted:
    """A step as `step()` was asked to run it, kept so that a responder can retry it."""

    name: str
    contract: Contract[Any, Any] | None
    arg: Any = None
    undo: Contract[Any, Any] | None = None
    retry: RetryPolicy | None = None
    timeout: timedelta | None = None
    heartbeat: timedelta | None = None
    # The incident's severity when the step was asked for: its activity's task priority.
    severity: Severity | None = None

    async def run(self, task_queue: str | None = None) -> Any:
        """Its activity, with the contract's retry class unless the step overrides it; on
        `task_queue`, else the playbook's."""
        contract = self.contract
        assert contract is not None, "a step with nothing to run is only handed over"
        return await contract.execute(
            self.arg,
            retry=self.retry,
            timeout=self.timeout,
            heartbeat=self.heartbeat,
            priority=task_priority(self.severity) if self.severity is not None else None,
            task_queue=task_queue,
        )


def failure_message(exc: BaseException) -> str:
    """Why a step failed, as the timeline says it: the activity's own message."""
    if isinstance(exc, ActivityError) and isinstance(exc.cause, ApplicationError):
        return exc.cause.message
    return str(exc) or type(exc).__name__


CONTRACT_UNDO: Final = ContractUndo()
