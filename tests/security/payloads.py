"""Hostile text for alert fields: SQL, template, HTML/JS and Markdown/mrkdwn injections.

Every string must come back as itself, wherever smokejumper shows it. The HTML ones set a
`window.__pwned` flag if a browser ever runs them.
"""

from __future__ import annotations

import uuid
from typing import Any

SQL = (
    "'; DROP TABLE incidents; --",
    '" OR 1=1 --',
    "' OR '1'='1' /* 100%_off \\ */",
)
TEMPLATE = (
    "{{ 7*7 }}",
    "{{ config }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "${7*7} #{7*7} <%= 7*7 %>",
)
HTML = (
    "<script>window.__pwned='script'</script>",
    "<img src=x onerror=\"window.__pwned='onerror'\">",
    "\"'><svg onload=\"window.__pwned='svg'\"></svg>",
)
MARKUP = (
    "<!channel> <!here> <!everyone> <@U0ALICE01>",
    "<https://evil.example/approve|Approve now> *bold* _it_ ~gone~",
    "[click](https://evil.example/md) ![x](https://evil.example/x.png) &amp; &lt;b&gt;",
)
GROUPS: dict[str, tuple[str, ...]] = {
    "sql": SQL,
    "template": TEMPLATE,
    "html": HTML,
    "markup": MARKUP,
}
ALL = SQL + TEMPLATE + HTML + MARKUP


def generic_alert(group: str) -> dict[str, Any]:
    """A generic alert with every free-text field carrying the group's payloads."""
    payloads = GROUPS[group]
    one = " ".join(payloads)
    return {
        "source": "red-team",
        "kind": "data_leakage",
        "severity": "high",
        "title": f"{group}: {one}",
        "description": "\n".join(payloads),
        "principal": {"user": payloads[0], "tenant": payloads[-1], "session_id": uuid.uuid4().hex},
        "target": {
            "application": payloads[1 % len(payloads)],
            "endpoint": payloads[0],
            "model": payloads[-1],
        },
        "evidence": {
            "prompt": one,
            "response": "\n".join(reversed(payloads)),
            "details": {"note": one},
        },
        "labels": {"ticket": one, payloads[0][:200]: "label key"},
        "dedup_key": f"{group}-{uuid.uuid4().hex}",
    }


def llm_guard_scan(payload: str) -> dict[str, Any]:
    """LLM Guard's own (non-generic) format with the payload in its native fields."""
    return {
        "direction": "output",
        "is_valid": False,
        "scanners": {"Secrets": 1.0},
        "prompt": payload,
        "output": payload,
        "application": payload,
        "endpoint": payload,
        "user": payload,
        "session_id": uuid.uuid4().hex,
    }
