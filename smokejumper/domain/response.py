"""Messages of the activities playbooks use to look before they act: what the incident's
alerts say, what leaked, and what the inventory knows about the target.

None of them carries raw evidence: workflow histories are kept by Temporal, outside the
evidence store, so only identifiers, counts, hashes and redacted previews travel.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Vector = Literal["direct", "indirect", "agentic"]


class KeyRef(BaseModel):
    provider: str
    key_id: str


# How many documents an incident's context names. Each is quarantined a step of its own;
# alerts naming thousands (a hostile retriever, a stuffed label) would otherwise give a
# context too large for a Temporal payload and a run past its history limit, and no real
# indirect injection is carried by more.
DOCUMENTS_AT_MOST = 100


class IncidentContext(BaseModel):
    """What the incident's alerts say about who, what and how (no evidence content)."""

    incident_id: int
    ref: str
    kind: str
    severity: str
    user: str | None = None
    api_key_id: str | None = None
    tenant: str | None = None
    session_id: str | None = None
    application: str | None = None
    endpoint: str | None = None
    model: str | None = None
    model_version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    owasp: list[str] = Field(default_factory=list)
    atlas: list[str] = Field(default_factory=list)
    vector: Vector = "direct"
    documents: list[str] = Field(
        default_factory=list,
        description="Ids of the documents that carried the attack; `sha256:<hex>` of the "
        f"content when the alert names none. The first {DOCUMENTS_AT_MOST}, in the order "
        "the alerts came.",
    )
    documents_left_out: int = Field(
        default=0, description="Documents the alerts name beyond those in `documents`."
    )
    data_source: str | None = None
    attack_phrase: str | None = Field(
        default=None,
        max_length=200,
        description="The injected text as the detector marked it (or the prompt's start), "
        "only when it holds nothing the redaction detectors flag: what a temporary input "
        "filter can match.",
    )
    tool_calls: int = Field(default=0, description="Tool calls the agent executed.")
    expected_digest: str | None = None
    actual_digest: str | None = None
    registry: str | None = None
    # Extraction and consumption alerts: the request rate or token count seen, if given.
    usage: dict[str, float] = Field(default_factory=dict)


# How many captured pieces a LeakAssessment names (see its `evidence`).
EVIDENCE_LISTED = 100


class KeptEvidence(BaseModel):
    name: str
    sha256: str
    findings: list[str] = Field(default_factory=list)


class LeakAssessment(BaseModel):
    """What left, by category; the credentials to revoke named by id, never by value."""

    incident_id: int
    categories: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list)
    keys: list[KeyRef] = Field(default_factory=list)
    keys_left_out: int = Field(
        default=0,
        description="Key-shaped ids found past the first KEYS_AT_MOST (the inventory's keys "
        "come first): not in `keys`, not revoked automatically.",
    )
    elicited: bool = Field(
        default=False,
        description="The prompt asked for it (an injection, jailbreak or extraction attempt).",
    )
    evidence: list[KeptEvidence] = Field(
        default_factory=list,
        description=f"Pieces captured, those with findings first, at most {EVIDENCE_LISTED}: "
        "an incident of thousands of alerts keeps every piece in the evidence store, but a "
        "result naming each would not fit in a Temporal payload.",
    )
    evidence_count: int = Field(
        default=-1, description="Pieces captured in all (the length of `evidence` if unset)."
    )
    assessed: bool = Field(
        default=True,
        description="False: the classification did not run (its step failed and is with a "
        "responder), so nothing is known of what left; not the same as nothing left.",
    )

    @model_validator(mode="after")
    def _count_listed(self) -> LeakAssessment:
        # Results recorded before the count was: every piece was listed.
        if self.evidence_count < 0:
            self.evidence_count = len(self.evidence)
        return self

    @property
    def leaked(self) -> bool:
        return bool(self.categories)

    @classmethod
    def not_assessed(cls, incident_id: int) -> LeakAssessment:
        """What a playbook goes on with when its classification step is with people."""
        return cls(incident_id=incident_id, assessed=False)


def listed_evidence(kept: list[KeptEvidence]) -> list[KeptEvidence]:
    """The pieces a LeakAssessment names: those with findings first, in capture order."""
    with_findings = [piece for piece in kept if piece.findings]
    without = [piece for piece in kept if not piece.findings]
    return (with_findings + without)[:EVIDENCE_LISTED]


class ToolCallsRequest(BaseModel):
    incident_id: int
    captured_by: str


class InventoryQuery(BaseModel):
    """Look up the incident's target: an endpoint, a model version or model, an
    application, or a key (the first of those given, in that order)."""

    endpoint: str | None = None
    model: str | None = None
    model_version: str | None = None
    application: str | None = None
    key_id: str | None = None


class EndpointInfo(BaseModel):
    name: str
    provider: str
    environment: str
    serves: str | None = None


class InventoryContext(BaseModel):
    """The inventory's view of the target: who owns it, what else it reaches, what the
    model should be, and whether the system is high-risk."""

    target: str | None = None
    found: bool = False
    owners: list[str] = Field(default_factory=list)
    applications: list[str] = Field(default_factory=list)
    endpoints: list[EndpointInfo] = Field(default_factory=list)
    keys: list[KeyRef] = Field(default_factory=list)
    application_keys: list[KeyRef] = Field(
        default_factory=list,
        description="Keys of the target's own application (an agent's tool credentials), "
        "not the callers that merely reach it.",
    )
    registry_writers: list[KeyRef] = Field(
        default_factory=list, description="Keys that may write to the model's registry."
    )
    production: bool = False
    high_risk: bool = False
    model: str | None = None
    model_provider: str | None = None
    expected_digest: str | None = None
    last_known_good: str | None = None
