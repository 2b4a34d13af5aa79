"""Who leads and who works an incident, as its playbook says (`self.assign`).

Groups come from `[approvers]`: as commander, a group means its on-call, the first member
listed; as assignees, all of its members. Slack user ids there are mapped to responders
through `slack.users`. Someone who is not a known responder is left out (and reported
back) rather than failing the run. Each change is idempotent, so a retry adds nothing.
"""

from __future__ import annotations

import asyncio

from temporalio.exceptions import ApplicationError

from smokejumper.config import Settings
from smokejumper.contracts.case_work import ASSIGN_RESPONDERS, Assigned, AssignRequest
from smokejumper.incidents import case_work
from smokejumper.store.db import Store

GROUP_PREFIX = "group:"


class CaseWorkActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def _members(self, entry: str) -> list[str]:
        if not entry.startswith(GROUP_PREFIX):
            return [entry]
        name = entry.removeprefix(GROUP_PREFIX)
        members = self.settings.approvers.get(name)
        if members is None:
            # A typo in a playbook fails the call, not silently assigns nobody.
            raise ApplicationError(
                f"group {name!r} is not configured (approvers.{name})", non_retryable=True
            )
        users = self.settings.slack.users
        return [users.get(member, member) for member in members]

    @ASSIGN_RESPONDERS.implementation
    async def assign_responders(self, request: AssignRequest) -> Assigned:
        try:
            return await asyncio.to_thread(self._assign, request)
        except case_work.CaseNotFound as exc:
            raise ApplicationError(str(exc), non_retryable=True) from None

    def _assign(self, request: AssignRequest) -> Assigned:
        ident = str(request.incident_id)
        done = Assigned()
        if request.commander is not None:
            on_call = self._members(request.commander)[:1]
            for person in on_call:
                try:
                    record = case_work.set_commander(
                        self.store, self.settings, ident, person, by=request.actor, via="playbook"
                    )
                    done.commander = record.commander
                except case_work.CaseInvalid:
                    done.skipped.append(person)
        for entry in request.assignees:
            for person in self._members(entry):
                try:
                    case_work.add_assignee(
                        self.store, self.settings, ident, person, by=request.actor, via="playbook"
                    )
                    done.assignees.append(person)
                except case_work.CaseInvalid:
                    done.skipped.append(person)
        return done
