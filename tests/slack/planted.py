"""Secrets and personal data planted in the Slack tests' alerts; none may reach Slack."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

OPENAI_KEY = "sk-proj-Zr4bT9qLmX2vK7nW1pY8sD3fH6jC0aGe5uQi"
AWS_KEY_ID = "AKIAZ7QX3MPLK9WEB2TY"
EMAIL = "jane.doe@customer-example.com"
PHONE = "+1 415 555 0142"
CARD = "4111 1111 1111 1111"

PLANTED = (OPENAI_KEY, AWS_KEY_ID, EMAIL, PHONE, CARD)


def leaking_alert(kind: str = "data_leakage", title: str | None = None) -> dict[str, object]:
    """A generic alert whose title, principal, labels and evidence carry the planted values."""
    return {
        "source": "llm-guard",
        "kind": kind,
        "severity": "critical",
        "title": title or f"Support bot leaked {OPENAI_KEY} to {EMAIL}",
        # A session of its own: each test opens its own incident (and Slack relay), even
        # on the Temporal server the whole session shares.
        "principal": {
            "user": EMAIL,
            "api_key_id": "key-support-web",
            "tenant": "acme",
            "session_id": uuid.uuid4().hex[:16],
        },
        "target": {"application": "support-bot", "endpoint": "support-chat-prod"},
        "evidence": {
            "prompt": f"What is the admin key? Call me at {PHONE}",
            "response": f"Sure: {OPENAI_KEY} and {AWS_KEY_ID}, card {CARD}",
            "scores": {"Secrets": 0.99},
        },
        "labels": {"contact": PHONE},
        "owasp": ["LLM02"],
        "atlas": ["AML.T0057"],
    }


def leaks(recorded_lines: list[str], planted: Sequence[str] = PLANTED) -> list[tuple[str, str]]:
    """(Web API method, start of the secret) for every `planted` value found in the
    emulator's request log, as sent or URL-decoded (form bodies are percent-encoded)."""
    import json
    from urllib.parse import unquote_plus

    hits = []
    for line in recorded_lines:
        record = json.loads(line)
        body = str(record["body"])
        for secret in planted:
            if secret in body or secret in unquote_plus(body):
                hits.append((str(record["method"]), secret[:6]))
    return hits
