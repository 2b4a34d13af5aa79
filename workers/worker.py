"""`smokejumper worker`: runs playbook workflows and activities on the task queue."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.approvals import ApprovalActivities
from activities.assessment import AssessmentActivities
from activities.audit import AuditActivities
from activities.case_work import CaseWorkActivities
from activities.containment import ContainmentActivities
from activities.control_plane import ControlPlaneActivities
from activities.email_notices import email_activities, email_hook, email_workflows
from activities.evidence import EvidenceActivities
from activities.incident import IncidentActivities
from activities.integrity import IntegrityActivities
from activities.inventory_lookup import InventoryLookupActivities
from activities.memory import MemoryActivities
from activities.models import ModelActivities
from activities.notify import NotifyActivities
from activities.on_sight import OnSightActivities
from activities.prompts import PromptActivities
from activities.query_logs import QueryLogActivities
from activities.queues import QueueActivities
from activities.reports import ReportActivities
from activities.retest import RetestActivities
from activities.retrieval import RetrievalActivities
from activities.slack import slack_activities, slack_hook
from activities.suppliers import SupplierActivities
from activities.tasks import TaskActivities
from integrations.evidence.checkpoints import head_checkpoints
from integrations.mirrors.wiring import chain, mirror_activities, mirror_hook, mirror_workflows
from smokejumper.config import ConfigError, Settings
from smokejumper.contracts.base import (
    ContractError,
    check_implementations,
    contracts_of,
    implemented_names,
)
from smokejumper.observability.sdk_metrics import sdk_runtime
from smokejumper.observability.tracing import configure_tracing, tracing_interceptors
from smokejumper.sdk.registry import discover
from smokejumper.store.db import Store
from smokejumper.store.open import open_store
from smokejumper.temporal.client import connect, ensure_search_attributes
from smokejumper.temporal.sandbox import sandboxed_runner
from workers import integration_worker

__all__ = [
    "WorkerParts",
    "activities_for",
    "activity_names",
    "build_worker",
    "run",
    "sandboxed_runner",
    "worker_parts",
]

log = logging.getLogger("smokejumper.worker")


def activities_for(store: Store, settings: Settings | None = None) -> list[Callable[..., Any]]:
    # The timeline reaches Slack, each configured mirror (PagerDuty, Jira, ...) and e-mail.
    slack = chain(
        slack_hook(store, settings or Settings()),
        mirror_hook(store, settings or Settings()),
        email_hook(store, settings or Settings()),
    )
    incident = IncidentActivities(store, on_recorded=slack)
    approvals = ApprovalActivities(settings or Settings())
    audit = AuditActivities(store)
    notify = NotifyActivities(store, settings or Settings(), on_recorded=slack)
    containment = ContainmentActivities(store, settings or Settings())
    models = ModelActivities(store, settings or Settings())
    tasks = TaskActivities(store, on_recorded=slack)
    return [
        incident.record_timeline_event,
        incident.set_incident_status,
        incident.set_incident_severity,
        tasks.open_task,
        tasks.expire_task,
        approvals.resolve_approvers,
        *_queues(settings or Settings()),
        audit.record_audit,
        notify.notify,
        CaseWorkActivities(store, settings or Settings()).assign_responders,
        containment.revoke_key,
        containment.restore_key,
        containment.revoke_keys,
        containment.restore_keys,
        EvidenceActivities(store, settings or Settings()).capture_evidence,
        containment.isolate_endpoint,
        containment.restore_endpoint,
        models.rollback_model,
        models.restore_model,
        RetestActivities(store, settings or Settings()).retest_endpoint,
        *slack_activities(store, settings or Settings()),
        *mirror_activities(store, settings or Settings()),
        *email_activities(store, settings or Settings()),
        *_response(store, settings or Settings()),
    ]


def _queues(settings: Settings) -> list[Callable[..., Any]]:
    """Which task queue a provider family's step runs on, and whether a worker serves it."""
    queues = QueueActivities(settings.temporal)
    return [queues.integration_queue, queues.queue_has_worker]


def _response(store: Store, settings: Settings) -> list[Callable[..., Any]]:
    """What the built-in GenAI playbooks add: looking (context, leak assessment, inventory),
    the embedded control plane's own containment, and purging conversation memory."""
    controls = ControlPlaneActivities(store, settings)
    memory = MemoryActivities(store, settings)
    assessment = AssessmentActivities(store, settings)
    on_sight = OnSightActivities(settings, assessment, ContainmentActivities(store, settings))
    return [
        on_sight.revoke_leaked_keys,
        assessment.incident_context,
        assessment.assess_leak,
        assessment.capture_tool_calls,
        InventoryLookupActivities(store).inventory_context,
        IntegrityActivities(store).verify_integrity,
        ReportActivities(store, settings).record_report,
        controls.block_principal,
        controls.unblock_principal,
        controls.add_filter_rule,
        controls.remove_filter_rule,
        controls.quarantine_document,
        controls.release_document,
        QueryLogActivities(store, settings).capture_query_log,
        SupplierActivities(store, settings).notify_suppliers,
        memory.memory_purge_plan,
        memory.snapshot_memory,
        memory.purge_memory,
        *_prompts(store, settings),
        *_retrieval(store, settings),
    ]


def _retrieval(store: Store, settings: Settings) -> list[Callable[..., Any]]:
    """Sweeping an application's retrieval index after an indirect injection."""
    retrieval = RetrievalActivities(store, settings)
    return [
        retrieval.retrieval_index_plan,
        retrieval.sweep_retrieval_index,
        retrieval.restore_retrieval_index,
    ]


def _prompts(store: Store, settings: Settings) -> list[Callable[..., Any]]:
    """The system-prompt playbook's: its plan, the canary check, rotation and its undo."""
    prompts = PromptActivities(store, settings)
    return [
        prompts.assess_prompt_leak,
        prompts.prompt_plan,
        prompts.check_canary,
        prompts.rotate_prompt,
        prompts.restore_prompt,
    ]


def activity_names(settings: Settings | None = None) -> frozenset[str]:
    """Names of the activities `build_worker` registers, for `playbooks validate`.

    The activity objects keep their store for later calls only, so they are built here
    against an in-memory SQLite engine that is never connected: no database is needed.
    """
    store = Store("sqlite:///:memory:")
    try:
        return frozenset(implemented_names(activities_for(store, settings)))
    finally:
        store.dispose()


@dataclass(frozen=True)
class WorkerParts:
    """What a worker runs, checked: every activity contract its workflows call has
    exactly one implementation."""

    workflows: list[type]
    activities: list[Callable[..., Any]]


def worker_parts(
    settings: Settings, store: Store, workflows: Sequence[type] | None = None
) -> WorkerParts:
    """`workflows`, by default every discovered playbook (built-in and `playbook_dirs`),
    with the activities; raises ConfigError when a playbook cannot be loaded, or when an
    activity contract its workflows call has no implementation (or several). Families
    routed to integration queues as a whole are left to `worker --queues` workers."""
    chosen = [
        *(workflows or discover(settings).values()),
        *slack_workflows(settings),
        *mirror_workflows(settings),
        *email_workflows(settings),
    ]
    away = integration_worker.routed_away(settings.temporal)
    activities = integration_worker.without(activities_for(store, settings), away)
    try:
        check_implementations(activities, [c for c in contracts_of(chosen) if c.name not in away])
    except ContractError as exc:
        raise ConfigError(str(exc)) from None
    return WorkerParts(chosen, activities)


def build_worker(
    client: Client,
    settings: Settings,
    store: Store,
    workflows: Sequence[type] | None = None,
    parts: WorkerParts | None = None,
    task_queue: str | None = None,
) -> Worker:
    """A worker for `parts` (by default `worker_parts(settings, store, workflows)`) on
    `task_queue` (by default the main one)."""
    parts = parts or worker_parts(settings, store, workflows)
    return Worker(
        client,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=parts.workflows,
        activities=parts.activities,
        max_concurrent_workflow_tasks=settings.temporal.max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.temporal.max_concurrent_activities,
        max_concurrent_local_activities=settings.temporal.max_concurrent_local_activities,
        max_cached_workflows=settings.temporal.max_cached_workflows,
        workflow_runner=sandboxed_runner(),
    )


def build_workers(
    client: Client,
    settings: Settings,
    store: Store,
    workflows: Sequence[type] | None = None,
    parts: WorkerParts | None = None,
) -> list[Worker]:
    """The main queue's worker and, when some severities are urgent, the urgent queue's:
    the same playbooks and activities, with slots and a cache of its own, so a flood on
    the main queue never holds what an urgent incident's tasks need."""
    parts = parts or worker_parts(settings, store, workflows)
    queues = [settings.temporal.task_queue]
    if settings.temporal.urgent_task_queue is not None:
        queues.append(settings.temporal.urgent_task_queue)
    return [build_worker(client, settings, store, parts=parts, task_queue=q) for q in queues]


@asynccontextmanager
async def running_workers(workers: Iterable[Worker]) -> AsyncIterator[list[Worker]]:
    """Run `workers` together until the block ends; each then finishes its in-flight tasks."""
    async with AsyncExitStack() as running:
        started = [await running.enter_async_context(worker) for worker in workers]
        yield started


def slack_workflows(settings: Settings) -> list[type]:
    """The Slack relay, when Slack is configured (it carries the timeline to Slack)."""
    if not settings.slack.enabled:
        return []
    from integrations.slack.relay import SlackRelay

    return [SlackRelay]


async def run(settings: Settings) -> None:
    store = open_store(settings, head_checkpoints(settings))
    # Checked before connecting: a worker that cannot run its playbooks says so at once.
    parts = worker_parts(settings, store)
    configure_tracing(settings, "worker")
    client = await connect(
        settings.temporal,
        runtime=sdk_runtime(settings.observability),
        interceptors=tracing_interceptors(settings),
    )
    if settings.temporal.address is not None:
        # The embedded dev server gets them by flag; a cluster of the operator's may not
        # have them, and playbooks that set them would fail every workflow task.
        await ensure_search_attributes(client)
    workers = build_workers(client, settings, store, parts=parts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    queues = ", ".join(worker.task_queue for worker in workers)
    log.info("worker polling %s on %s", queues, settings.temporal.target)
    async with running_workers(workers):
        socket_mode = await start_socket_mode(settings, store, client)
        await stop.wait()
        log.info("worker stopping: finishing in-flight tasks")
        if socket_mode is not None:
            await socket_mode.stop()
    store.dispose()


async def start_socket_mode(settings: Settings, store: Store, client: Client) -> Any:
    """Slack's Socket Mode client, when configured: buttons and commands without a public
    HTTP endpoint."""
    if not (settings.slack.enabled and settings.slack.socket_mode):
        return None
    from integrations.slack.socket_mode import SocketModeRunner

    runner = SocketModeRunner(settings, store, client)
    await runner.start()
    log.info("Slack Socket Mode connected")
    return runner


def main(settings: Settings, queues: Sequence[str] = ()) -> None:
    """The playbook worker; with `queues`, a worker for those integration queues only."""
    asyncio.run(integration_worker.run(settings, queues) if queues else run(settings))
