"""Resolving approver groups from configuration (workflows cannot read configuration)."""

from __future__ import annotations

from collections.abc import Mapping

from temporalio.exceptions import ApplicationError

from smokejumper.config import Settings
from smokejumper.contracts.bookkeeping import RESOLVE_APPROVERS

GROUP_PREFIX = "group:"


def resolve_people(entries: list[str], groups: Mapping[str, list[str]]) -> list[str]:
    """`group:<name>` → its members; any other entry is an identity already."""
    resolved: set[str] = set()
    for entry in entries:
        if entry.startswith(GROUP_PREFIX):
            name = entry.removeprefix(GROUP_PREFIX)
            if name not in groups:
                # A typo in a playbook must fail its step, not wait forever on nobody.
                raise ApplicationError(
                    f"approver group {name!r} is not configured (approvers.{name})",
                    non_retryable=True,
                )
            resolved.update(groups[name])
        else:
            resolved.add(entry)
    return sorted(resolved)


class ApprovalActivities:
    def __init__(self, settings: Settings) -> None:
        self.groups = settings.approvers

    @RESOLVE_APPROVERS.implementation
    async def resolve_approvers(self, approvers: list[str]) -> list[str]:
        return resolve_people(approvers, self.groups)
