"""Feed a poller's records into intake, one at a time, each committed with its cursor.

An alert (or dead letter) and the cursor that covers it commit in one transaction, so a crash
between records neither loses nor repeats one. The write also checks that the stored cursor is
still the one this run started from: should two instances ever run one poller at once (a lease
lost mid-run), the slower one's transaction rolls back instead of storing a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integrations.pollers.base import Checkpoint, Cursor, Item, Poller, RunCounts
from smokejumper.domain.alerts import Alert
from smokejumper.domain.source_context import SourceContext, apply
from smokejumper.intake import json_body
from smokejumper.intake.dead_letters import record_dead_letter
from smokejumper.intake.errors import field_errors
from smokejumper.intake.service import IntakeService
from smokejumper.store.cursors import load_cursor, save_cursor
from smokejumper.store.db import Store
from smokejumper.store.leases import Fence
from smokejumper.store.tables import PollerCursor

log = logging.getLogger(__name__)


class CursorMoved(Exception):
    """Another instance advanced this poller's cursor since the run started."""


class _Refused(Exception):
    def __init__(self, reason: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors


def dead_letter_endpoint(poller_name: str) -> str:
    return f"poller:{poller_name}"


def _plain(cursor: Cursor) -> Cursor:
    """A private copy, shaped as the store returns it, so comparisons with it are exact."""
    copied: Cursor = json.loads(json.dumps(cursor))
    return copied


def _advance(
    name: str, expected: Cursor, new: Cursor, fence: Fence | None = None
) -> Callable[[Session], None]:
    def also(session: Session) -> None:
        if fence is not None:
            fence.check(session)
        row = session.get(PollerCursor, name, with_for_update=True)
        current = dict(row.cursor) if row is not None else {}
        if current != expected:
            raise CursorMoved(name)
        save_cursor(session, name, new)

    return also


def _checkpoint(
    store: Store, name: str, expected: Cursor, new: Cursor, fence: Fence | None
) -> None:
    with store.transaction() as session:
        _advance(name, expected, new, fence)(session)


def normalize(poller: Poller, item: Item) -> Alert:
    """The item as an alert of the poller's source, or _Refused with field errors."""
    if item.problem is not None:
        error = {"field": "(body)", "message": item.problem, "type": "event_refused"}
        raise _Refused(item.problem, list(item.errors or [error]))
    if item.alert is not None:
        return item.alert.model_copy(update={"source": poller.source})
    payload = item.payload
    try:
        if item.parsed:
            json_body.check(payload, subject="event")
        else:
            payload = json_body.loads(item.raw, subject="event")
    except json_body.JsonRefused as exc:
        raise _Refused(exc.reason, exc.errors) from None
    try:
        alert = poller.normalizer.normalize(payload)
    except ValidationError as exc:
        raise _Refused("payload failed validation", field_errors(exc)) from None
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        if not isinstance(errors, list):
            errors = [{"field": "(body)", "message": str(exc), "type": "source_format"}]
        raise _Refused("payload is not in the source's format", errors) from None
    except Exception as exc:
        # A normalizer bug must not wedge the poller on one event forever.
        log.exception("poller %s: normalizer %s failed", poller.name, poller.normalizer.name)
        error = {"field": "(body)", "message": type(exc).__name__, "type": "normalizer_error"}
        raise _Refused("normalizer failed", [error]) from None
    return alert.model_copy(update={"source": poller.source})


async def run_poller(
    poller: Poller,
    store: Store,
    intake: IntakeService,
    keep_going: Callable[[], bool] = lambda: True,
    context: SourceContext | None = None,
    fence: Fence | None = None,
) -> RunCounts:
    """One run: everything the poller has after its stored cursor, until it runs dry, a
    record fails to commit, or `keep_going` (the scheduler's lease) says stop. `context`
    fills what an event leaves unset (the source's configured defaults). With a `fence`,
    each record commits only while the lease term lasts (leases.StaleLeader otherwise)."""
    committed = await asyncio.to_thread(load_cursor, store, poller.name)
    accepted = dead_lettered = 0
    try:
        async with aclosing(poller.poll(_plain(committed))) as records:
            async for record in records:
                if not keep_going():
                    break
                target = _plain(record.cursor)
                also = _advance(poller.name, committed, target, fence)
                if isinstance(record, Checkpoint):
                    if target != committed:
                        await asyncio.to_thread(
                            _checkpoint, store, poller.name, committed, target, fence
                        )
                else:
                    try:
                        alert = normalize(poller, record)
                    except _Refused as refused:
                        await asyncio.to_thread(
                            record_dead_letter,
                            store,
                            endpoint=dead_letter_endpoint(poller.name),
                            source=poller.source,
                            reason=refused.reason,
                            errors=refused.errors,
                            raw_body=record.raw.encode("utf-8"),
                            headers=record.context,
                            remote_addr=None,
                            also=also,
                        )
                        dead_lettered += 1
                    else:
                        if context is not None:
                            alert = apply(alert, context)
                        await intake.accept(alert, record.raw, also=also)
                        accepted += 1
                committed = target
    except CursorMoved:
        log.warning("poller %s: another instance advanced the cursor; run stopped", poller.name)
    except IntegrityError:
        if committed:
            raise
        # Two instances raced to write the first cursor; the loser rolled back.
        log.warning("poller %s: another instance wrote the first cursor; run stopped", poller.name)
    return RunCounts(accepted=accepted, dead_lettered=dead_lettered)
