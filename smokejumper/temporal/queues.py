"""Task queue names. Workflows and activities share one queue by default."""

from __future__ import annotations

from smokejumper.settings.temporal import TemporalSettings


def playbook_queue(settings: TemporalSettings) -> str:
    return settings.task_queue
