"""`[vectorstores.<application>]`: the retrieval index (vector store) an application
retrieves from, which `prompt-injection` sweeps after an indirect injection."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from smokejumper.settings.sections import Secret, Section

# Chroma's own rule for collection names.
COLLECTION_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$"


class VectorStoreSettings(Section):
    """One application's retrieval index, and how the sweep treats it."""

    provider: Literal["chroma", "local"] = Field(
        default="chroma",
        description="`chroma` (a Chroma server, over its HTTP API), or `local` (a state "
        "file beside keys.json, for the demo).",
    )
    url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Chroma server URL, e.g. http://chroma:8000; no credentials in it (see "
        "`token`).",
    )
    token: Secret | None = Field(
        default=None,
        description="Chroma auth token, sent as `x-chroma-token`; a file:/env: reference.",
    )
    tenant: str = Field(default="default_tenant", min_length=1, description="Chroma tenant.")
    database: str = Field(default="default_database", min_length=1, description="Chroma database.")
    collection: str = Field(
        pattern=COLLECTION_NAME, description="The collection the application retrieves from."
    )
    quarantine_collection: str | None = Field(
        default=None,
        pattern=COLLECTION_NAME,
        description="Where swept documents are moved (created when missing); default "
        "`<collection>-quarantine`.",
    )
    source_field: str = Field(
        default="source",
        min_length=1,
        description="The metadata key naming a document's data source.",
    )
    similarity_threshold: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="Cosine similarity of stored embeddings at or above which a document "
        "counts as carrying the injected document's instruction.",
    )
    similar_limit: int = Field(
        default=1000,
        ge=1,
        le=10000,
        description="Nearest documents examined per injected document.",
    )
    quarantine_whole_source: bool = Field(
        default=True,
        description="Also quarantine every other document of the data source that served "
        "the injection (a source that took one poisoned document may hold variants no "
        "match finds); false: count them for the report only.",
    )
    batch_size: int = Field(default=200, ge=1, le=1000, description="Documents per request.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")

    @model_validator(mode="before")
    @classmethod
    def _no_credentials_in_url(cls, data: Any) -> Any:
        # Checked on the whole section: an error on the field itself would quote the URL.
        url = data.get("url") if isinstance(data, dict) else None
        if isinstance(url, str) and "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError("url: may not carry credentials; set `token` instead")
        return data

    @model_validator(mode="after")
    def _chroma_needs_url(self) -> VectorStoreSettings:
        if self.provider == "chroma" and self.url is None:
            raise ValueError("url: the chroma provider needs the URL of the Chroma server")
        if self.quarantine_collection == self.collection:
            raise ValueError("quarantine_collection: must differ from collection")
        return self

    @property
    def quarantine(self) -> str:
        return self.quarantine_collection or f"{self.collection}-quarantine"
