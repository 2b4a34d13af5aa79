"""A stand-in playbook for routing tests (its own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from playbooks.triage import TriageWorkflow
    from smokejumper.domain.incidents import IncidentStart, IncidentState


@workflow.defn(name="contain-injection")
class ContainInjection(TriageWorkflow):
    """Routing is under test, not the steps: behaves like triage under another name."""

    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentState:
        return await super().run(start)
