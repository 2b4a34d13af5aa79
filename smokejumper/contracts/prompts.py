"""System prompts: what the inventory and the prompt registry know about a leaked prompt,
whether its canaries are in the model's output, and rotating it (moving its serving alias
to a version without the secret) with its undo."""

from __future__ import annotations

from smokejumper.contracts.base import CONTAINMENT, Contract, Rehearsal, RetryClass
from smokejumper.contracts.rehearsals import rehearsed_action, rehearsed_leak
from smokejumper.domain.containment import ActionResult
from smokejumper.domain.prompts import (
    CanaryCheck,
    CanaryQuery,
    PromptAction,
    PromptPlan,
    PromptQuery,
)
from smokejumper.domain.response import LeakAssessment

# Reading the registry and scanning a prompt's text: a registry outage is retried like
# containment; a prompt that is not in the inventory is an answer, not an error.
PROMPT_LOOKUP = RetryClass("prompt_lookup", CONTAINMENT.policy, CONTAINMENT.timeout)


def rehearsed_plan(query: PromptQuery, rehearsal: Rehearsal) -> PromptPlan:
    """The plan as if the inventory recorded the prompt and a replacement for it."""
    alert = rehearsal.alert
    named = query.prompt or (alert.labels.get("prompt") if alert is not None else None)
    return PromptPlan(
        incident_id=query.incident_id,
        found=True,
        prompt=named or f"{query.application or 'application'}-system-prompt",
        provider="local",
        alias="production",
        serving_version="(serving)",
        replacement_version="(replacement)",
        canaries=1,
    )


def rehearsed_canary(query: CanaryQuery, rehearsal: Rehearsal) -> CanaryCheck:
    """A dry run cannot know the canaries (the store keeps digests only): none found in
    the rehearsed alert's output."""
    alert = rehearsal.alert
    outputs = 1 if alert is not None and alert.evidence.response else 0
    return CanaryCheck(
        incident_id=query.incident_id, prompt=query.prompt, canaries=1, outputs=outputs
    )


ASSESS_PROMPT_LEAK = Contract(
    "assess_prompt_leak",
    int,
    LeakAssessment,
    rehearse=rehearsed_leak,
    description="Capture and classify a leaked system prompt as `assess_leak` does, its "
    "evidence previews withheld (the prompt's words are the leaked data).",
)
PROMPT_PLAN = Contract(
    "prompt_plan",
    PromptQuery,
    PromptPlan,
    retry=PROMPT_LOOKUP,
    rehearse=rehearsed_plan,
    description="The leaked prompt in the inventory and its registry: serving and "
    "replacement versions, the credentials its text holds, its canaries.",
)
CHECK_CANARY = Contract(
    "check_canary",
    CanaryQuery,
    CanaryCheck,
    retry=PROMPT_LOOKUP,
    rehearse=rehearsed_canary,
    description="Whether the incident's model output holds a canary of the prompt.",
)
RESTORE_PROMPT = Contract(
    "restore_prompt",
    PromptAction,
    ActionResult,
    rehearse=rehearsed_action("restore_prompt"),
    description="Point the prompt's alias back at the version it served before the rotation.",
)
ROTATE_PROMPT = Contract(
    "rotate_prompt",
    PromptAction,
    ActionResult,
    undo=RESTORE_PROMPT,
    rehearse=rehearsed_action("rotate_prompt"),
    description="Tag the leaked prompt version and point the serving alias at the replacement.",
)
