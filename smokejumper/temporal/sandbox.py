"""The workflow sandbox every worker, replay and dry run uses."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions


def sandboxed_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with the engine core passed through.

    Every new workflow instance otherwise re-imports the core's pydantic models inside the
    sandbox, which costs more than the workflow's own work. The core is deterministic
    library code (models, names, policies, contracts), and so is the built-in playbooks'
    shared base; playbook modules themselves are still re-imported. Playbooks therefore
    import from the core plainly, with no `imports_passed_through` block.
    """
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "smokejumper", "playbooks.common", "pydantic", "pydantic_core", "annotated_types"
        )
    )
