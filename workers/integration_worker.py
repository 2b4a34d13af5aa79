"""`smokejumper worker --queues keys,endpoints.kubernetes`: a worker for provider activities
routed to task queues of their own (`temporal.integration_queues`), on the host that holds
their credentials. It runs no playbooks and loads only the routed families' providers:
a worker for `keys.aws_iam` needs neither the Slack token nor a kubeconfig."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable, Sequence
from contextlib import AsyncExitStack
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.containment import ContainmentActivities
from activities.models import ModelActivities
from integrations.endpoints.registry import PROVIDER_NAMES as ENDPOINT_PROVIDERS
from integrations.keys.registry import PROVIDER_NAMES as KEY_PROVIDERS
from integrations.models.registry import PROVIDER_NAMES as MODEL_PROVIDERS
from smokejumper.config import ConfigError, Settings
from smokejumper.contracts.base import implemented_names
from smokejumper.observability.sdk_metrics import sdk_runtime
from smokejumper.observability.tracing import configure_tracing, tracing_interceptors
from smokejumper.settings.temporal import TemporalSettings
from smokejumper.store.db import Store
from smokejumper.temporal.client import connect
from smokejumper.temporal.queues import FAMILY_ACTIVITIES

log = logging.getLogger("smokejumper.worker")

PROVIDERS: dict[str, frozenset[str]] = {
    "keys": KEY_PROVIDERS,
    "endpoints": ENDPOINT_PROVIDERS,
    "models": MODEL_PROVIDERS,
}


def check_routes(settings: TemporalSettings) -> None:
    """Refuse a route that names a provider its family does not have (a typo would send
    nothing there, silently)."""
    for route in settings.integration_queues:
        family, _, provider = route.partition(".")
        if provider and provider not in PROVIDERS[family]:
            known = ", ".join(sorted(PROVIDERS[family]))
            raise ConfigError(
                f"temporal.integration_queues: {route!r}: {family} has no provider "
                f"{provider!r} (known: {known})"
            )


def routed_away(settings: TemporalSettings) -> frozenset[str]:
    """Activities the playbook worker does not run: those of families routed as a whole.
    (A family routed for some providers only still runs there for the others.)"""
    check_routes(settings)
    return frozenset(
        name
        for route in settings.integration_queues
        if route in FAMILY_ACTIVITIES
        for name in FAMILY_ACTIVITIES[route]
    )


def without(activities: Iterable[Callable[..., Any]], names: frozenset[str]) -> list[Any]:
    return [fn for fn in activities if not names.intersection(implemented_names([fn]))]


def family_activities(family: str, store: Store, settings: Settings) -> list[Callable[..., Any]]:
    """A routed family's activities and nothing else (their providers are built when first
    called, from this host's credentials)."""
    if family == "models":
        models = ModelActivities(store, settings)
        return [models.rollback_model, models.restore_model]
    containment = ContainmentActivities(store, settings)
    if family == "keys":
        return [
            containment.revoke_key,
            containment.restore_key,
            containment.revoke_keys,
            containment.restore_keys,
        ]
    return [containment.isolate_endpoint, containment.restore_endpoint]


def parse_queues(value: str, settings: TemporalSettings) -> list[str]:
    """`--queues keys,endpoints.kubernetes`, checked against temporal.integration_queues."""
    queues = [part.strip() for part in value.split(",") if part.strip()]
    if not queues:
        raise ConfigError("--queues: name at least one entry of temporal.integration_queues")
    routed = settings.integration_queues
    for queue in queues:
        if queue not in routed:
            raise ConfigError(
                f"--queues: {queue!r} is not in temporal.integration_queues "
                f"({', '.join(routed) or 'empty'}); no step is routed there"
            )
    return list(dict.fromkeys(queues))


def queue_workers(
    client: Client, settings: Settings, store: Store, queues: Sequence[str]
) -> list[Worker]:
    """One worker per routed queue, with its family's activities only."""
    check_routes(settings.temporal)
    return [
        Worker(
            client,
            task_queue=settings.temporal.integration_queue(queue),
            activities=family_activities(queue.partition(".")[0], store, settings),
            max_concurrent_activities=settings.temporal.max_concurrent_activities,
        )
        for queue in queues
    ]


async def run(settings: Settings, queues: Sequence[str]) -> None:
    # Only action rows are written here (each action once per incident and target): no
    # audit key, no Slack, no evidence store.
    check_routes(settings.temporal)
    store = Store(settings.effective_database_url, synchronous=settings.sqlite_synchronous)
    try:
        # Traced and measured like the playbook worker: the provider calls happen here.
        configure_tracing(settings, "integration-worker")
        try:
            client = await connect(
                settings.temporal,
                runtime=sdk_runtime(settings.observability),
                interceptors=tracing_interceptors(settings),
            )
        except RuntimeError as exc:
            # The SDK's connection failure: one line naming the setting, not a traceback.
            raise ConfigError(
                f"temporal.address: cannot reach Temporal at {settings.temporal.target}: {exc}"
            ) from None
        workers = queue_workers(client, settings, store, queues)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with AsyncExitStack() as stack:
            for worker in workers:
                await stack.enter_async_context(worker)
            for queue in queues:
                log.info(
                    "worker polling %s (%s) on %s",
                    settings.temporal.integration_queue(queue),
                    queue,
                    settings.temporal.target,
                )
            await stop.wait()
            log.info("worker stopping: finishing in-flight tasks")
    finally:
        store.dispose()
