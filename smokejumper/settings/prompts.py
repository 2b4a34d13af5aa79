"""`[containment.prompts]`: the prompt registries system prompts are rotated in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from smokejumper.settings.sections import Section


class PromptRegistrySettings(Section):
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="Base URL of the MLflow tracking server whose Prompt Registry the "
        "`mlflow` prompt provider rotates prompts in. Unset: containment.mlflow.tracking_uri "
        "(its credentials are used either way), then MLFLOW_TRACKING_URI.",
    )
    local_file: Path | None = Field(
        default=None,
        description="JSON file of the embedded prompt registry (the `local` prompt "
        "provider). Unset: prompts.json beside the keys file.",
    )
