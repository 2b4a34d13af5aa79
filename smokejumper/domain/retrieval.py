"""The retrieval index of an application (its vector store): the messages of the sweep the
prompt-injection playbook runs after an indirect injection, and how document text is
compared.

A document carries an injected instruction when its text, normalized, equals or contains
the injected document's (or the instruction the alert marked), or when its embedding is
within the configured cosine similarity of the injected document's. Normalizing defeats the
cheap disguises of a copied instruction: compatibility forms (fullwidth letters,
ligatures), invisible format characters (zero-width spaces and joiners, bidirectional
controls, the byte-order mark), case, and runs of whitespace.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Sequence

from pydantic import BaseModel, Field

# Why a document is swept; a document matched several ways counts under the first.
NAMED = "named"
EXACT = "exact"
SIMILAR = "similar"
SAME_SOURCE = "same_source"
REASONS = (NAMED, EXACT, SIMILAR, SAME_SOURCE)
# Fewer characters than this is too short an instruction to match inside other documents.
MIN_INSTRUCTION_CHARS = 12


def normalize(text: str) -> str:
    """`text` as compared: NFKC, format characters (Unicode category Cf) removed, case
    folded, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text)
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return " ".join(visible.casefold().split())


def content_digest(text: str) -> str:
    """How an alert names a document it has no id for: `sha256:<hex>` of its UTF-8 text."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def cosine(left: Sequence[float], right: Sequence[float]) -> float:
    """Cosine similarity of two embeddings; 0 when either is zero or they differ in size."""
    if len(left) != len(right) or not left:
        return 0.0
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    norms = math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right))
    return dot / norms if norms else 0.0


class RetrievalQuery(BaseModel):
    """Is a retrieval index configured for this application?"""

    application: str | None = None


class RetrievalPlan(BaseModel):
    """The worker's answer: `configured` when the application has a
    `[vectorstores.<name>]` section."""

    configured: bool = False
    application: str | None = None
    provider: str | None = None
    collection: str | None = None
    reason: str = Field(default="", description="Why not, when not configured.")


class RetrievalSweep(BaseModel):
    """Sweep one application's retrieval index for the documents an indirect injection
    came with, and move them out of retrieval (undone by restoring them). Built in workflow
    code from what the alerts say, so it bounds nothing an alert could exceed: a value that
    failed validation there would stop the run, not the step."""

    incident_id: int
    step: str | None = None
    application: str = Field(min_length=1)
    documents: list[str] = Field(
        default_factory=list,
        description="The documents that carried the injection: ids in the index, or "
        "`sha256:<hex>` of their text.",
    )
    data_source: str | None = Field(default=None, description="The data source the alert names.")
    instruction: str | None = Field(
        default=None,
        description="The injected instruction itself, when the alert marks it: documents "
        "containing it are swept too.",
    )
    reason: str | None = None

    @property
    def target(self) -> str:
        # Per incident: each sweep moves (and restores) only the documents it stamped, so
        # one incident's restore never lifts another's quarantine.
        return f"{self.application}:retrieval-index:{self.incident_id}"

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:sweep_retrieval_index:{self.application}"


class SweepCounts(BaseModel):
    """What a sweep found and moved: counts only (never document text). An action row's
    `after` holds these, so the report can name the data source and what it served."""

    collection: str
    quarantine_collection: str
    data_sources: list[str] = Field(
        default_factory=list, description="The data source(s) of the injected documents."
    )
    scanned: int = Field(default=0, description="Documents in the index when swept.")
    named_found: int = 0
    named_missing: int = Field(
        default=0, description="Documents the alert named that the index does not hold."
    )
    named_already_quarantined: int = Field(
        default=0,
        description="Of those, the ones an earlier sweep already moved to the quarantine.",
    )
    carrying: int = Field(
        default=0, description="Documents carrying the instruction (named, exact, similar)."
    )
    carrying_from_source: int = Field(
        default=0, description="Of those, the ones the data source(s) served."
    )
    source_documents: int = Field(
        default=0, description="Documents the data source(s) served in all."
    )
    by_reason: dict[str, int] = Field(default_factory=dict)
    quarantined: int = Field(default=0, description="Documents moved out of retrieval.")
    similarity_threshold: float = 0.0
    similar_truncated: bool = Field(
        default=False,
        description="The similarity search hit its limit while still above the threshold: "
        "more similar documents may be left.",
    )


class SweepRestored(BaseModel):
    """What a restore put back into the index."""

    collection: str
    restored: int
