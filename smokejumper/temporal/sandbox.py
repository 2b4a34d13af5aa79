"""The workflow sandbox every worker, replay and dry run uses."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions


def sandboxed_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with the engine core and the built-in playbooks passed through.

    Every new workflow instance otherwise re-imports the core's pydantic models, and its
    playbook's module, inside the sandbox: 15-25 ms of CPU per run, more than the first
    workflow task's own work, paid again by every incident of a flood and ahead of a
    critical one's first step. The core is deterministic library code (models, names,
    policies, contracts), and so are the built-in playbooks, which hold no module state
    and whose recorded histories replay in the tests. Playbooks loaded from
    `playbook_dirs` are still re-imported for every run, under the sandbox's checks.
    Playbooks import from the core plainly, with no `imports_passed_through` block.
    """
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "smokejumper", "playbooks", "pydantic", "pydantic_core", "annotated_types"
        )
    )
