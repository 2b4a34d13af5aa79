"""The slack-sdk Web API client, and what its failures mean for a retrying caller."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from smokejumper.settings.slack import SlackSettings

# Slack errors that go away by themselves; every other `ok: false` is a refusal
# (invalid_auth, channel_not_found, ...) that retrying cannot fix.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def web_client(settings: SlackSettings, timeout: int = 10) -> WebClient:
    """A client for the configured workspace; `base_url` points it at an emulator in tests."""
    if settings.bot_token is None:
        raise ValueError("slack.bot_token is not configured")
    return WebClient(
        token=settings.bot_token.get_secret_value(), base_url=settings.base_url, timeout=timeout
    )


@dataclass(frozen=True)
class SlackFailure:
    """A failed call, described without the request or response body."""

    method: str
    status: int
    error: str
    retry_after: int | None

    @property
    def transient(self) -> bool:
        return self.status == 429 or self.status >= 500 or self.error in TRANSIENT_ERRORS

    def __str__(self) -> str:
        return f"Slack {self.method}: {self.error} (HTTP {self.status})"


def describe(exc: SlackApiError, method: str) -> SlackFailure:
    response = exc.response
    error = str(response.get("error") or "error") if isinstance(response.data, dict) else "error"
    retry_after = None
    raw = response.headers.get("Retry-After") or response.headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    if raw is not None:
        try:
            retry_after = max(0, int(float(raw)))
        except ValueError:
            retry_after = None
    return SlackFailure(method, response.status_code, error, retry_after)
