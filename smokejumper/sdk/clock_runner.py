"""Regulatory clocks running beside a playbook: reminders, breach, and the filing that
stops them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from smokejumper.domain.incidents import ClockView
from smokejumper.sdk.approval_engine import Approvals
from smokejumper.sdk.clocks import (
    DEFAULT_REMINDERS,
    US_EASTERN,
    ClockBasis,
    ClockKind,
    ClockSpec,
    RunningClock,
    StopClock,
)


class Clocks(Approvals):
    """`start_clock`, `stop_clock` and the `stop-clock` handlers."""

    async def start_clock(
        self,
        kind: ClockKind,
        *,
        started_at: datetime,
        basis: ClockBasis,
        duration: timedelta | None = None,
        label: str = "",
        reminders: list[timedelta] | None = None,
        escalate_to: list[str] | None = None,
    ) -> str:
        """Start a regulatory clock from an explicit event (`started_at`, `basis`).

        Reminders fire before the deadline (default 24 h and 4 h), an escalation at breach;
        a responder stops it by recording the filing (`stop-clock`). Returns its name.
        """
        spec = ClockSpec(
            kind=kind,
            basis=basis,
            started_at=started_at,
            duration=duration,
            label=label,
            reminders=reminders if reminders is not None else list(DEFAULT_REMINDERS),
            escalate_to=escalate_to or [],
        )
        if spec.name in self._clocks:
            raise ValueError(f"clock {spec.name!r} is already running")
        clock = RunningClock(spec)
        self._clocks[spec.name] = clock
        deadline = spec.deadline.isoformat()
        if kind is ClockKind.SEC_8K_ITEM_105:
            # The filer counts in New York time: say the deadline as they will read it.
            deadline += f" ({spec.deadline.astimezone(US_EASTERN).isoformat()} in New York)"
        await self.record(
            "clock.started",
            f"Clock {spec.name} started ({basis.value} at {started_at.isoformat()}); "
            f"deadline {deadline}",
            data={"clock": spec.name, "deadline": spec.deadline.isoformat()},
        )
        clock.task = asyncio.create_task(self._run_clock(clock))
        return spec.name

    async def stop_clock(self, clock: str, *, actor: str, reference: str = "") -> ClockView:
        """Stop a running clock now, as filed (or assessed as needing no filing) by
        `actor`, with `reference` on record."""
        return await self._stop_clock(
            StopClock(clock=clock, actor=actor, filed_at=workflow.now(), reference=reference)
        )

    async def _run_clock(self, clock: RunningClock) -> None:
        spec = clock.spec
        for before in sorted(spec.reminders, reverse=True):
            due = spec.deadline - before
            if due <= workflow.now():
                continue
            if await self._until(lambda: clock.stop is not None, due):
                return
            clock.reminders_sent += 1
            await self.record(
                "clock.reminder",
                f"Clock {spec.name}: {before} left before the deadline {spec.deadline.isoformat()}",
                data={"clock": spec.name, "remaining_seconds": before.total_seconds()},
            )
        if await self._until(lambda: clock.stop is not None, spec.deadline):
            return
        clock.breached = True
        who = ", ".join(spec.escalate_to) or "the incident channel"
        await self.record(
            "clock.breached",
            f"Clock {spec.name} breached its deadline {spec.deadline.isoformat()}; "
            f"escalating to {who}",
            data={"clock": spec.name, "escalate_to": ", ".join(spec.escalate_to)},
        )

    async def _until(self, condition: Callable[[], bool], moment: datetime) -> bool:
        """Wait for `condition` until `moment`; True if it came true."""
        try:
            await workflow.wait_condition(condition, timeout=moment - workflow.now())
        except TimeoutError:
            return condition()
        return True

    async def _stop_clock(self, request: StopClock) -> ClockView:
        clock = self._clocks[request.clock]
        clock.stop = request
        await self.audit(
            "clock.stopped",
            request.actor,
            {
                "clock": request.clock,
                "filed_at": request.filed_at.isoformat(),
                "reference": request.reference,
            },
        )
        await self.record(
            "clock.stopped",
            f"Clock {request.clock} stopped: filed at {request.filed_at.isoformat()} by "
            f"{request.actor}" + (f" ({request.reference})" if request.reference else ""),
            actor=request.actor,
            data={"clock": request.clock, "on_time": request.filed_at <= clock.spec.deadline},
        )
        return clock.view()

    def _validate_stop_clock(self, request: StopClock) -> None:
        problem = self._clock_refusal(request)
        if problem is not None:
            raise ValueError(problem)

    async def _stop_clock_signal(self, request: StopClock) -> None:
        problem = self._clock_refusal(request)
        if problem is not None:
            await self.record(
                "clock.refused",
                f"Refused to stop a clock: {problem}",
                actor=request.actor,
                data={"clock": request.clock},
            )
            return
        await self._stop_clock(request)

    def _clock_refusal(self, request: StopClock) -> str | None:
        clock = self._clocks.get(request.clock)
        if clock is None:
            return f"no clock named {request.clock!r}"
        if clock.stop is not None:
            return f"clock {request.clock!r} was already stopped by {clock.stop.actor}"
        return None
