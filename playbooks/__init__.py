"""Built-in playbooks. Each is a Temporal workflow class registered on the worker."""

from __future__ import annotations

from playbooks.triage import TriageWorkflow
from smokejumper.intake.routing import Route

BUILTIN_WORKFLOWS: list[type] = [TriageWorkflow]


def playbook_routes() -> list[Route]:
    """Triggers the built-in playbooks declare (none yet: `triage` is the fallback)."""
    return []
