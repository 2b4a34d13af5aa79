"""Showing what the redactor finds without showing it: keys and tokens keep their scheme
prefix and last 4 characters (`AKIA…7Q2Z`, `sk-proj-…Q7xZ`), emails keep a first letter and
the domain's last label (`j…@….com`), phone numbers their last 2 digits; everything else the
redactor finds (private keys, card and social security numbers, IBANs) is replaced whole.

One helper for every surface a viewer or a chat sees (Slack messages, timeline step names,
the API's incident JSON, the console, reports, the CLI), so a responder recognises the
same key everywhere and reads its full value only behind the raw endpoints.
"""

from __future__ import annotations

import re
from typing import Any

from smokejumper.redaction import DEFAULT, Finding, Redactor

KEY_KINDS = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "anthropic_key",
        "openai_key",
        "google_api_key",
        "huggingface_token",
        "groq_key",
        "xai_key",
        "slack_token",
        "github_token",
        "gitlab_token",
        "stripe_key",
        "jwt",
        "secret",
        "bearer_token",
        "credential",
    }
)
_SCHEME = re.compile(
    r"^(?:sk-ant-(?:api|admin|sid)\d{2}-|sk-(?:proj-|svcacct-|admin-|ant-)?|"
    r"(?:sk|rk|pk)_(?:test|live|prod)_|xox[a-z]-|xapp-|gh[a-z]_|github_pat_|"
    r"(?:glpat|gldt|glptt|glrt)-|AIza|hf_|api_org_|gsk_|xai-|"
    r"AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)"
)
# Shorter secrets show no tail: four characters of an eight-character secret is half of it.
_MIN_LENGTH_FOR_TAIL = 16


def mask_key(value: str) -> str:
    """`AKIAZ7QX3MPLK9WEB2TY` → `AKIA…B2TY`: enough to tell keys apart, not to use one."""
    scheme = _SCHEME.match(value)
    prefix = scheme.group(0) if scheme else ""
    if len(value) < _MIN_LENGTH_FOR_TAIL:
        return f"{prefix}…" if prefix else "[key]"
    return f"{prefix}…{value[-4:]}"


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}…@….{domain.rsplit('.', 1)[-1]}"


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"(phone …{digits[-2:]})"


def _mask(kind: str, value: str) -> str:
    if kind in KEY_KINDS:
        return mask_key(value)
    if kind == "email":
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    return f"[REDACTED:{kind}]"


def mask(text: str, redactor: Redactor = DEFAULT) -> str:
    """`text` with every secret and piece of personal data masked."""
    findings: list[Finding] = redactor.find(text)
    if not findings:
        return text
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(_mask(finding.kind, text[finding.start : finding.end]))
        position = finding.end
    parts.append(text[position:])
    # A masked value cannot itself be found again, but text around it may now read
    # differently (a credential's name next to a mask); a redact pass catches what is left.
    return redactor.redact("".join(parts))


def mask_target(target: str, redactor: Redactor = DEFAULT) -> str:
    """An action's target (`api_key:AKIA…`, `user:u-1842`, a bare key id). The kind before
    the colon stays out of the redactor, which would read `api_key:x` as a credential."""
    kind, colon, name = target.partition(":")
    if colon and re.fullmatch(r"[a-z_]{1,40}", kind):
        return f"{kind}:{mask(name, redactor)}"
    return mask(target, redactor)


def mask_data(value: Any, redactor: Redactor = DEFAULT) -> Any:
    """Every string in a JSON-like value masked; keys, numbers and structure kept."""
    if isinstance(value, str):
        return mask(value, redactor)
    if isinstance(value, dict):
        return {key: mask_data(item, redactor) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_data(item, redactor) for item in value]
    return value
