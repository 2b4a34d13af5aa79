"""Built-in playbooks. Each is a Temporal workflow class registered on the worker."""

from __future__ import annotations

from playbooks.triage import Triage
from smokejumper.intake.routing import Route

# Playbook name (the Temporal workflow type) → class.
BUILTIN_PLAYBOOKS: dict[str, type] = {Triage.name: Triage}
BUILTIN_WORKFLOWS: list[type] = list(BUILTIN_PLAYBOOKS.values())


def playbook_routes() -> list[Route]:
    """Triggers the built-in playbooks declare (none yet: `triage` is the fallback)."""
    return []
