"""Messages of the evidence activity: what to capture, and the reference kept of it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# Keeps `{incident_id}:evidence:{name}:{sha256}` within the 300 characters of evidence_key.
NAME_MAX = 200
PREVIEW_CHARS = 300
# The largest piece of evidence one capture keeps (characters).
CONTENT_MAX = 2_000_000


class EvidenceCapture(BaseModel):
    """Capture `content` for an incident. The content is sensitive: it goes to the evidence
    store only, and `repr=False` keeps it out of any log line or error that prints this."""

    incident_id: int
    name: str = Field(min_length=1, max_length=NAME_MAX)
    kind: str = Field(
        min_length=1,
        max_length=60,
        description='What the content is: "alert.prompt", "alert.response", "tool_calls", '
        '"document", ...',
    )
    content: str = Field(repr=False, max_length=CONTENT_MAX)
    captured_by: str = Field(min_length=1, max_length=200)


class EvidenceRef(BaseModel):
    """What is kept of a capture outside the evidence store: never the content itself."""

    incident_id: int
    name: str
    kind: str
    evidence_key: str
    sha256: str
    size: int
    uri: str
    redacted_preview: str
    findings: list[str] = Field(
        default_factory=list, description="Kinds of secrets and personal data found, sorted."
    )
    captured_at: datetime
    captured_by: str


def evidence_key(incident_id: int, name: str, sha256: str) -> str:
    return f"{incident_id}:evidence:{name}:{sha256}"
