"""Reading a workflow's history: is it only waiting, and if it is stuck, why."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

_WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: "scheduled",
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: "started",
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "completed",
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: "timed out",
}
_ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
_CHILD_CLOSED = {
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: (
        "child_workflow_execution_completed_event_attributes"
    ),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: (
        "child_workflow_execution_failed_event_attributes"
    ),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: (
        "child_workflow_execution_canceled_event_attributes"
    ),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: (
        "child_workflow_execution_timed_out_event_attributes"
    ),
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: (
        "child_workflow_execution_terminated_event_attributes"
    ),
}


_CLOSING_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


async def idle(client: Client, workflow_id: str) -> bool:
    """True when the workflow has closed, or waits with no task or activity outstanding
    (and so do the children it is waiting for)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    workflow_task = "completed"
    activities: set[int] = set()
    children: dict[int, str] = {}
    for event in history.events:
        kind = event.event_type
        if kind in _WORKFLOW_TASK_EVENTS:
            workflow_task = _WORKFLOW_TASK_EVENTS[kind]
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activities.add(event.event_id)
        elif kind in _ACTIVITY_CLOSED:
            activities.discard(getattr(event, _ACTIVITY_CLOSED[kind]).scheduled_event_id)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            attributes = event.start_child_workflow_execution_initiated_event_attributes
            children[event.event_id] = attributes.workflow_id
        elif kind in _CHILD_CLOSED:
            children.pop(getattr(event, _CHILD_CLOSED[kind]).initiated_event_id, None)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
            failed = event.start_child_workflow_execution_failed_event_attributes
            children.pop(failed.initiated_event_id, None)
    if history.events and history.events[-1].event_type in _CLOSING_EVENTS:
        return True
    if workflow_task != "completed" or activities:
        return False
    for child_id in children.values():
        if not await idle(client, child_id):
            return False
    return True


async def problems(client: Client, workflow_id: str) -> list[str]:
    """Status, the last failed workflow task and retrying activities: why a playbook that
    should have moved on did not."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        return [f"status: not found ({exc.message})"]
    status = description.status.name if description.status else "unknown"
    lines = [f"status: {status}"]
    if description.status == WorkflowExecutionStatus.RUNNING:
        for pending in description.raw_description.pending_activities:
            last = pending.last_failure.message or "(no failure yet)"
            lines.append(f"activity {pending.activity_type.name} attempt {pending.attempt}: {last}")
    try:
        history = await handle.fetch_history()
    except RPCError:
        return lines
    for event in reversed(history.events):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = event.workflow_task_failed_event_attributes.failure
            lines.append(f"workflow task failing: {failure.message}")
            break
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            break
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            failure = event.workflow_execution_failed_event_attributes.failure
            lines.append(f"failed: {failure.message}")
    return lines
