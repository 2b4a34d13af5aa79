"""Replay recorded histories against the current playbook code.

A playbook's code may change while incidents are in flight; the worker then replays each
running incident's history through the new code and must reach the same commands. Replaying
recorded histories in a test finds the change that would not, before it is deployed.
"""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from smokejumper.temporal.sandbox import sandboxed_runner


def load_history(path: str | Path) -> WorkflowHistory:
    """A history saved with `WorkflowHistory.to_json()` (or `temporal workflow show
    --output json`). Its workflow id is the file's `workflowId` when it records one (a
    playbook that starts a child names it after its own id, so replay needs the real one),
    else the file's stem."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    workflow_id = json.loads(text).get("workflowId") or file.stem
    return WorkflowHistory.from_json(str(workflow_id), text)


async def replay(history: WorkflowHistory | str | Path, *playbooks: type) -> None:
    """Replay `history` through `playbooks` as the worker would (same sandbox, same data
    converter). Raises `temporalio.workflow.NondeterminismError` when the code no longer
    makes the commands the history recorded."""
    if not playbooks:
        raise ValueError("replay needs the playbook class(es) the history may run")
    if not isinstance(history, WorkflowHistory):
        history = load_history(history)
    replayer = Replayer(
        workflows=list(playbooks),
        workflow_runner=sandboxed_runner(),
        data_converter=pydantic_data_converter,
    )
    await replayer.replay_workflow(history)
