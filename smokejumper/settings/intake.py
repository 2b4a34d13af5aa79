"""`[intake]` and `[sources.<name>]`: how alerts are taken in, and each source's own settings."""

from __future__ import annotations

from pydantic import (
    Field,
    model_validator,
)

from smokejumper.domain.fingerprint import validate_fingerprint_fields
from smokejumper.domain.source_context import SourceContext
from smokejumper.settings.sections import Secret, Section


class IntakeSettings(Section):
    default_playbook: str = Field(
        default="triage", description="Workflow run for an alert no playbook route matches."
    )
    reopen_window_seconds: float = Field(
        default=0.0,
        ge=0,
        description="An alert this soon after its incident closed re-opens it instead of "
        "opening a new one.",
    )
    replay_window_seconds: int = Field(
        default=300, ge=10, le=3600, description="Accepted age of a signed request."
    )
    rate_limit_per_second: float = Field(
        default=100.0,
        ge=0,
        description="Alerts a second each source may push (sustained; 0: no limit); a "
        "source's own `rate_limit_per_second` overrides it. The operator is not limited.",
    )
    rate_limit_burst: int = Field(
        default=1000, ge=1, description="Alerts a source may push at once above its rate."
    )
    duplicate_signal_window_seconds: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="Duplicates of a running incident that arrive within this window reach "
        "its playbook as one signal (0: one signal each, before the sender is answered).",
    )


SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class SourceSettings(Section):
    """One alert source: how it authenticates, which format it sends, how it dedups, and
    the context its alerts carry when the payload does not say."""

    format: str | None = Field(
        default=None, description="Normalizer to parse its payloads; default: the source name."
    )
    token: Secret | None = None
    signing_secret: Secret | None = None
    rate_limit_per_second: float | None = Field(
        default=None, ge=0, description="This source's limit (0: none); default intake's."
    )
    rate_limit_burst: int | None = Field(default=None, ge=1)
    fingerprint: list[str] | None = Field(
        default=None,
        description="Alert fields whose values make the fingerprint, e.g. "
        "['kind', 'target.endpoint']; default: kind + target + principal.",
    )
    context: SourceContext = Field(
        default_factory=SourceContext,
        description="Defaults for what the payload leaves unset (application, user, endpoint, "
        "model, labels, ...), under the names of the intake query parameters; the query "
        "overrides them, the payload overrides both (see docs/intake.md).",
    )

    @model_validator(mode="after")
    def _one_credential(self) -> SourceSettings:
        # No credential: only the operator may push as this source (and pollers read it).
        if self.token is not None and self.signing_secret is not None:
            raise ValueError("set at most one of token or signing_secret")
        if self.fingerprint is not None:
            validate_fingerprint_fields(self.fingerprint)
        return self
