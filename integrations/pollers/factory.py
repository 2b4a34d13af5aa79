"""Pollers from `settings.pollers`, each with the normalizer of its source's format."""

from __future__ import annotations

from collections.abc import Mapping

from integrations.models.registry import mlflow_artifact_check
from integrations.pollers.base import Poller
from integrations.pollers.http_cursor import HttpCursorPoller
from integrations.pollers.jsonl import JsonlPoller
from integrations.pollers.model_integrity import ModelIntegrityPoller
from integrations.sources.base import Normalizer
from smokejumper.config import ConfigError, Settings
from smokejumper.settings.pollers import (
    HttpPollerSettings,
    JsonlPollerSettings,
    ModelIntegrityPollerSettings,
)
from smokejumper.store.db import Store

MODEL_INTEGRITY_FORMAT = "model-integrity"


def _normalizer(
    settings: Settings, normalizers: Mapping[str, Normalizer], source: str, key: str
) -> Normalizer:
    configured = settings.sources.get(source)
    name = (configured.format if configured else None) or source
    normalizer = normalizers.get(name)
    if normalizer is None:
        known = ", ".join(sorted(set(settings.sources) | set(normalizers)))
        raise ConfigError(
            f"invalid configuration:\n  {key}: no source or format named {name!r}; known: {known}"
        )
    return normalizer


def _model_integrity_normalizer(normalizers: Mapping[str, Normalizer], index: int) -> Normalizer:
    normalizer = normalizers.get(MODEL_INTEGRITY_FORMAT)
    if normalizer is None:
        raise ConfigError(
            f"invalid configuration:\n  pollers.{index}.kind: the {MODEL_INTEGRITY_FORMAT!r} "
            "format is not installed"
        )
    return normalizer


def build_pollers(
    settings: Settings, store: Store, normalizers: Mapping[str, Normalizer]
) -> list[Poller]:
    """Raises ConfigError naming the key when a poller's source has no normalizer."""
    pollers: list[Poller] = []
    for index, config in enumerate(settings.pollers):
        key = f"pollers.{index}.source"
        if isinstance(config, JsonlPollerSettings):
            pollers.append(
                JsonlPoller(
                    name=config.name,
                    source=config.source,
                    normalizer=_normalizer(settings, normalizers, config.source, key),
                    path=config.path,
                    interval_seconds=config.interval_seconds,
                )
            )
        elif isinstance(config, HttpPollerSettings):
            pollers.append(
                HttpCursorPoller(
                    name=config.name,
                    source=config.source,
                    normalizer=_normalizer(settings, normalizers, config.source, key),
                    url=config.url,
                    interval_seconds=config.interval_seconds,
                    cursor_param=config.cursor_param,
                    items_field=config.items_field,
                    cursor_field=config.cursor_field,
                    token=config.token,
                    timeout_seconds=config.timeout_seconds,
                )
            )
        elif isinstance(config, ModelIntegrityPollerSettings):
            # Whatever the source is called, the payloads are this poller's own format.
            pollers.append(
                ModelIntegrityPoller(
                    name=config.name,
                    source=config.source,
                    normalizer=_model_integrity_normalizer(normalizers, index),
                    store=store,
                    interval_seconds=config.interval_seconds,
                    s3_endpoint_url=config.s3_endpoint_url,
                    registry=mlflow_artifact_check(settings),
                )
            )
    return pollers
