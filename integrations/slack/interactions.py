"""The parts of Slack's interaction payloads smokejumper reads, checked before use.

A signed request proves Slack sent it, not that it has the shape Slack documents: a
workspace app, a replayed modal of an older release or a bug can send anything. What the
responder reads is validated here, and a payload that does not fit is refused naming the
field (never its content, which may be a responder's words or an incident's details).
Fields Slack adds that are not read are ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from smokejumper.api.slack import SlackPayloadRefused
from smokejumper.sdk.approvals import Choice

DENY_CALLBACK = "deny_reason"
NOTE_CALLBACK = "handoff_note"

# Slack's ids are short; the longest value read is a responder's reason, which the modals
# and a decision (DecisionRequest.reason) take up to 2000 characters of.
SlackId = Annotated[str, StringConstraints(max_length=255)]
Text = Annotated[str, StringConstraints(max_length=2000)]


class InvalidInteraction(SlackPayloadRefused):
    """The payload does not have the shape the responder reads; `fields` name where."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__("payload does not fit Slack's format at: " + ", ".join(fields))
        self.fields = fields


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Read):
    id: SlackId = ""


class _Channel(_Read):
    id: SlackId = ""


class _Container(_Read):
    channel_id: SlackId = ""


class Action(_Read):
    action_id: SlackId = ""
    value: Text = ""


class BlockActions(_Read):
    type: Literal["block_actions"]
    user: _User = Field(default_factory=_User)
    channel: _Channel | None = None
    container: _Container | None = None
    trigger_id: SlackId = ""
    actions: list[Action] = Field(default_factory=list, max_length=100)

    @property
    def channel_id(self) -> str:
        return (self.channel.id if self.channel else "") or (
            self.container.channel_id if self.container else ""
        )


class _Input(_Read):
    value: Text | None = None


class _State(_Read):
    values: dict[SlackId, dict[SlackId, _Input]] = Field(default_factory=dict)


class _View(_Read):
    callback_id: SlackId = ""
    private_metadata: Annotated[str, StringConstraints(max_length=3000)] = ""
    state: _State = Field(default_factory=_State)


class ViewSubmission(_Read):
    type: Literal["view_submission"]
    user: _User = Field(default_factory=_User)
    view: _View

    @property
    def reason(self) -> str:
        field = self.view.state.values.get("reason", {}).get("reason")
        return (field.value if field else None) or ""


class ModalMetadata(_Read):
    """What the deny and hand-off note modals carry back (Responder._reason_modal):
    written by smokejumper, so anything else is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    step: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    channel: SlackId
    choice: Choice | None = None


Interaction = BlockActions | ViewSubmission
# Field names can hold the payload's own keys: logged and answered, so kept short.
_FIELD_MAX = 200


def read_interaction(payload: dict[str, Any]) -> Interaction | None:
    """The payload as the responder reads it; None for a kind it does not handle."""
    kind = payload.get("type")
    model: type[BlockActions] | type[ViewSubmission]
    if kind == "block_actions":
        model = BlockActions
    elif kind == "view_submission":
        model = ViewSubmission
    else:
        return None
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInteraction(_fields(exc)) from None


def modal_metadata(view: _View) -> ModalMetadata:
    try:
        return ModalMetadata.model_validate_json(view.private_metadata or "{}")
    except ValidationError as exc:
        raise InvalidInteraction(_fields(exc, "view.private_metadata")) from None


def _fields(exc: ValidationError, prefix: str = "") -> list[str]:
    """Where each error is, without the input (which may be sensitive)."""
    fields = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        fields.append(where[:_FIELD_MAX] or "(payload)")
    return sorted(set(fields))[:10]
