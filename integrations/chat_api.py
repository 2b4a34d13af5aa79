"""Asking an endpoint's OpenAI-compatible chat API one question (`POST .../chat/completions`),
as the retest does: one user message, no tools, no streaming, the answer's text or why
there is none.

An endpoint that is down, slow, refusing or answering something that is not a chat
completion gives no answer; `detail` says which in words built from the status and the
error class only, never from the body (an endpoint can echo what it was sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

CHAT_PATH = "/chat/completions"
# A model that refuses under its provider's content filter answers with no text.
_FILTERED = "content_filter"


@dataclass(frozen=True)
class ChatAnswer:
    """`text` of the first choice; None with `detail` when there is no answer. `refused`:
    the provider's content filter stopped it (an answer, and an empty one)."""

    text: str | None
    detail: str | None = None
    refused: bool = False


def completions_url(chat_url: str) -> str:
    """The chat URL as the inventory gives it: an OpenAI base URL (`.../v1`) or the full
    `.../chat/completions`."""
    url = chat_url.rstrip("/")
    return url if url.endswith(CHAT_PATH) else url + CHAT_PATH


def ask(
    client: httpx.Client,
    chat_url: str,
    model: str,
    prompt: str,
    *,
    timeout_seconds: float,
    api_key: str | None = None,
    max_tokens: int = 512,
) -> ChatAnswer:
    """One question to the endpoint; never raises for the endpoint's own failures."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = client.post(
            completions_url(chat_url),
            json={
                "model": model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": 0,
                "stream": False,
            },
            headers=headers,
            timeout=timeout_seconds,
        )
    except httpx.TimeoutException:
        return ChatAnswer(None, f"timed out after {timeout_seconds:g}s")
    except httpx.TransportError as exc:
        return ChatAnswer(None, f"unreachable ({type(exc).__name__})")
    if response.status_code != httpx.codes.OK:
        return ChatAnswer(None, f"HTTP {response.status_code}")
    try:
        body: Any = response.json()
    except ValueError:
        return ChatAnswer(None, "not a chat completion (not JSON)")
    return _first_choice(body)


def _first_choice(body: Any) -> ChatAnswer:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ChatAnswer(None, "not a chat completion (no choices)")
    choice = choices[0]
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return ChatAnswer(content, refused=choice.get("finish_reason") == _FILTERED)
    if content is None and choice.get("finish_reason") == _FILTERED:
        return ChatAnswer("", refused=True)
    return ChatAnswer(None, "not a chat completion (no message text)")
