"""Messages of the retest that runs before containment is undone: the incident's own attack
prompts and a configured probe set replayed against the endpoint's chat API, the answers
checked by the detector that raised the alert.

Neither message carries a prompt or an answer: they travel through the workflow history,
the timeline and the report. The transcript is kept as evidence (raw in the evidence store,
redacted everywhere else); these carry probe names, outcomes and finding kinds only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from smokejumper.domain.response import KeptEvidence

RetestPurpose = Literal["restore", "lift"]
# passed: answered, nothing flagged; flagged: the detector found something in the answer;
# no_answer: down, refused, timed out or not a chat completion — never a pass.
ProbeOutcome = Literal["passed", "flagged", "no_answer"]


class RetestRequest(BaseModel):
    """Retest the endpoints an incident contained before its containment is undone.
    `endpoints` are those the steps being undone name (an isolated endpoint); without one,
    the activity takes the alerts' target endpoint, else the inventory's endpoints of the
    alerts' model. `attempt` tells one restore (or lift) of the incident from another."""

    incident_id: int
    purpose: RetestPurpose
    attempt: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._:-]+$")
    requested_by: str = Field(min_length=1, max_length=200)
    endpoints: list[str] = Field(default_factory=list)

    @property
    def business_key(self) -> str:
        return f"{self.incident_id}:retest:{self.attempt}"


class ProbeVerdict(BaseModel):
    """One prompt sent to one endpoint: `attack-<n>` (the incident's own, from evidence)
    or `probe:<name>` (the configured set). `detail` says why there was no answer."""

    name: str
    endpoint: str
    outcome: ProbeOutcome
    findings: list[str] = Field(default_factory=list, description="Finding kinds, no values.")
    detail: str | None = Field(default=None, max_length=300)


class RetestResult(BaseModel):
    """The retest's verdict: `passed` only when every probe was answered and nothing in any
    answer was flagged. `reason` is the one line the timeline and the override ask show."""

    incident_id: int
    business_key: str = ""
    passed: bool = False
    detector: str = "rules"
    endpoints: list[str] = Field(default_factory=list)
    probes: list[ProbeVerdict] = Field(default_factory=list)
    reason: str = ""
    transcript: KeptEvidence | None = None
    withheld: int = Field(
        default=0,
        description="The incident's prompts not replayed: they hold personal data or a "
        "secret, which sending again would leak again.",
    )

    def summary(self) -> str:
        """`3 of 5 probes flagged (openai_key, marker); 1 not answered` and the like."""
        if not self.probes:
            withheld = f" ({self.withheld} of the incident's prompts withheld as sensitive)"
            return self.reason or "nothing was sent" + (withheld if self.withheld else "")
        flagged = [p for p in self.probes if p.outcome == "flagged"]
        silent = [p for p in self.probes if p.outcome == "no_answer"]
        kinds = sorted({kind for p in flagged for kind in p.findings})
        parts = []
        if flagged:
            parts.append(
                f"{len(flagged)} of {len(self.probes)} probes flagged ({', '.join(kinds)})"
            )
        if silent:
            details = sorted({p.detail or "no answer" for p in silent})
            parts.append(f"{len(silent)} not answered ({'; '.join(details)})")
        if not parts:
            parts.append(f"{len(self.probes)} probes answered, nothing flagged")
        if self.withheld:
            parts.append(f"{self.withheld} of the incident's prompts withheld as sensitive")
        return "; ".join(parts)
