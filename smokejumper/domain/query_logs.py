"""Messages of the query-log capture: which principal's requests, over which window, and
what was kept of them (never the requests themselves: those go to the evidence store)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

QUERY_LOG_EVIDENCE = "query-log"


class QueryLogRequest(BaseModel):
    """Keep the principal's requests to the application from `first_seen` (less the
    configured lookback) to `until`."""

    incident_id: int
    application: str | None = None
    principal_type: str | None = None
    principal: str | None = Field(default=None, max_length=500)
    first_seen: datetime
    until: datetime
    name: str = Field(
        default=QUERY_LOG_EVIDENCE, min_length=1, max_length=100, description="Evidence name."
    )


class KeptQueryLog(BaseModel):
    """What the capture kept: counts, the window and the evidence pieces' names and
    hashes. `configured` False (with `reason`) when the application has no query log."""

    configured: bool = False
    reason: str = ""
    source: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    scanned: int = Field(default=0, description="Records read in the window's files.")
    matched: int = Field(default=0, description="The principal's records in the window.")
    kept: int = Field(default=0, description="Records kept (at most the configured maximum).")
    unreadable: int = Field(default=0, description="Lines that are not JSON or have no time.")
    evidence: list[str] = Field(default_factory=list, description="Evidence names kept.")
    sha256: list[str] = Field(default_factory=list)

    @property
    def summary(self) -> str:
        if not self.configured:
            return f"no query log kept: {self.reason}"
        # The window's times go in the record's data: a dry run's summary stays the same.
        kept = f"kept {self.kept} of the principal's {self.matched} requests"
        extra = f"; {self.unreadable} unreadable line(s)" if self.unreadable else ""
        return f"{kept} in the window from the {self.source} query log{extra}"
