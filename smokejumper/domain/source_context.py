"""Intake context that travels beside an alert rather than inside it.

Many tools let a user configure only a URL to send to, so who and what an event is about can
come from URL query parameters on the intake endpoints (`?application=support-bot&user=u-1`)
and from per-source defaults in configuration (`[sources.<name>.context]`), under the same
names. Precedence, highest first: the payload (what the tool or its wrapper says), the query,
the source's defaults. A value only fills what the payload left empty; labels merge per name.

`data_source` and `document` have no field of their own on an alert: they become the
`data_source` and `document_id` labels the prompt-injection playbook reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from smokejumper.domain.alerts import Alert

NAME_MAX = 200
LABEL_VALUE_MAX = 500
MAX_DOCUMENTS = 100
MAX_LABELS = 50
DATA_SOURCE_LABEL = "data_source"
DOCUMENT_LABEL = "document_id"

# Context names -> the alert field each fills.
PRINCIPAL_FIELDS = {"user": "user", "api_key_id": "api_key_id", "tenant": "tenant"}
PRINCIPAL_FIELDS["session"] = "session_id"
TARGET_FIELDS = {
    "application": "application",
    "endpoint": "endpoint",
    "model": "model",
    "model_version": "model_version",
}
SINGLE_NAMES = (*PRINCIPAL_FIELDS, *TARGET_FIELDS, "data_source")
# Accepted for `user`: the name some tools give the caller.
ALIASES = {"principal": "user"}
QUERY_NAMES = (*SINGLE_NAMES, *ALIASES, "document", "label.<name>")
KNOWN = ", ".join(QUERY_NAMES)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ContextError(ValueError):
    """A context value is unusable; `errors` name each offending parameter."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def _problem(value: str, limit: int) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value.strip()) > limit:
        return f"at most {limit} characters"
    if _CONTROL.search(value):
        return "must not contain control characters"
    return None


def _checked(value: Any, limit: int = NAME_MAX) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    problem = _problem(value, limit)
    if problem is not None:
        raise ValueError(problem)
    return value.strip()


def _document(value: Any) -> str:
    text = _checked(value)
    if "," in text:
        # Documents travel as one comma-separated label; a comma would split an id in two.
        raise ValueError("a document id must not contain a comma")
    return text


def _documents(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _labels(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {_checked(name): _checked(text, LABEL_VALUE_MAX) for name, text in value.items()}


ContextName = Annotated[str, BeforeValidator(_checked)]
DocumentId = Annotated[str, BeforeValidator(_document)]


class SourceContext(BaseModel):
    """Context applied to every alert of a source: `[sources.<name>.context]`, or one
    request's query parameters. The keys are the query parameter names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    application: ContextName | None = None
    user: ContextName | None = Field(default=None, description="Alias: `principal`.")
    session: ContextName | None = None
    tenant: ContextName | None = None
    api_key_id: ContextName | None = None
    endpoint: ContextName | None = None
    model: ContextName | None = None
    model_version: ContextName | None = None
    data_source: ContextName | None = None
    document: Annotated[list[DocumentId], BeforeValidator(_documents)] = Field(
        default_factory=list,
        max_length=MAX_DOCUMENTS,
        description="Ids of the retrieval documents involved (one or a list).",
    )
    label: Annotated[dict[str, str], BeforeValidator(_labels)] = Field(
        default_factory=dict,
        max_length=MAX_LABELS,
        description='Labels by name (`label.env = "prod"`).',
    )

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "principal" not in data:
            return data
        merged = dict(data)
        principal = merged.pop("principal")
        if merged.get("user") not in (None, principal):
            raise ValueError("give user or principal, not both")
        merged["user"] = principal
        return merged

    @model_validator(mode="after")
    def _no_conflicting_labels(self) -> SourceContext:
        if self.data_source is not None and DATA_SOURCE_LABEL in self.label:
            raise ValueError("give data_source or label.data_source, not both")
        if self.document and DOCUMENT_LABEL in self.label:
            raise ValueError("give document or label.document_id, not both")
        return self

    def __bool__(self) -> bool:
        return bool(self.model_dump(exclude_defaults=True))

    def over(self, lower: SourceContext) -> SourceContext:
        """This context with `lower` filling what it leaves unset."""
        if not lower:
            return self
        if not self:
            return lower
        merged = lower.model_dump(exclude_defaults=True)
        mine = self.model_dump(exclude_defaults=True)
        merged["label"] = {**lower.label, **self.label}
        merged.update({k: v for k, v in mine.items() if k != "label"})
        return SourceContext.model_validate(merged)

    def labels(self) -> dict[str, str]:
        found = dict(self.label)
        if self.data_source is not None:
            found[DATA_SOURCE_LABEL] = self.data_source
        if self.document:
            found[DOCUMENT_LABEL] = ",".join(dict.fromkeys(self.document))
        return found


def from_query(items: Iterable[tuple[str, str]]) -> SourceContext:
    """A request's context from its query parameters; ContextError names each bad one."""
    errors: list[dict[str, str]] = []
    data: dict[str, Any] = {}
    labels: dict[str, str] = {}
    documents: list[str] = []

    def error(name: str, message: str) -> None:
        errors.append({"field": f"query.{name}", "message": message, "type": "query_context"})

    for raw_name, value in items:
        name = ALIASES.get(raw_name, raw_name)
        try:
            if name == "document":
                documents.append(_document(value))
            elif name.startswith("label."):
                label = name[len("label.") :]
                if label in labels:
                    error(raw_name, "given more than once")
                labels[_checked(label)] = _checked(value, LABEL_VALUE_MAX)
            elif name in SINGLE_NAMES:
                if name in data:
                    error(raw_name, "given more than once")
                data[name] = _checked(value)
            else:
                error(
                    raw_name[:NAME_MAX], "unknown query parameter; known: " + ", ".join(QUERY_NAMES)
                )
        except ValueError as exc:
            error(raw_name[:NAME_MAX], str(exc))
    if errors:
        raise ContextError(errors)
    if len(documents) > MAX_DOCUMENTS:
        error("document", f"at most {MAX_DOCUMENTS} documents")
    if len(labels) > MAX_LABELS:
        error("label", f"at most {MAX_LABELS} labels")
    if errors:
        raise ContextError(errors)
    try:
        return SourceContext.model_validate({**data, "document": documents, "label": labels})
    except ValueError as exc:
        raise ContextError(
            [{"field": "query", "message": _first_message(exc), "type": "query_context"}]
        ) from None


def _first_message(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", exc)).removeprefix("Value error, ")
    return str(exc)


def apply(alert: Alert, context: SourceContext) -> Alert:
    """The alert with `context` filling the principal, target and labels it left empty."""
    if not context:
        return alert
    principal = {
        field: value
        for name, field in PRINCIPAL_FIELDS.items()
        if (value := getattr(context, name)) is not None and getattr(alert.principal, field) is None
    }
    target = {
        field: value
        for name, field in TARGET_FIELDS.items()
        if (value := getattr(context, name)) is not None and getattr(alert.target, field) is None
    }
    labels = {**context.labels(), **alert.labels}
    return alert.model_copy(
        update={
            "principal": alert.principal.model_copy(update=principal),
            "target": alert.target.model_copy(update=target),
            "labels": labels,
        }
    )
