"""The search attributes every incident workflow carries, so the Temporal UI can filter."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

INCIDENT_ID = SearchAttributeKey.for_keyword("IncidentId")
SEVERITY = SearchAttributeKey.for_keyword("Severity")
PLAYBOOK = SearchAttributeKey.for_keyword("Playbook")
INCIDENT_STATUS = SearchAttributeKey.for_keyword("IncidentStatus")

ALL = (INCIDENT_ID, SEVERITY, PLAYBOOK, INCIDENT_STATUS)


def dev_server_flags() -> list[str]:
    """`--search-attribute` flags that register ours on the embedded dev server."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags
