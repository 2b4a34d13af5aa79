"""Built-in playbooks. Each is a Temporal workflow class registered on the worker."""

from __future__ import annotations

from playbooks.triage import TriageWorkflow

BUILTIN_WORKFLOWS: list[type] = [TriageWorkflow]
