"""Making text safe for Slack: what the redactor finds is masked, not just removed.

Responders need to recognise a key without seeing it, so keys and tokens keep their
scheme prefix and last 4 characters (`sk-proj-…Q7xZ`), emails keep a first letter and the
domain's last label (`j…@….com`), phone numbers their last 2 digits; everything else the
redactor finds (private keys, card and social security numbers, IBANs) is replaced whole.
"""

from __future__ import annotations

import re

from smokejumper.redaction import DEFAULT, Finding, Redactor

_KEY_KINDS = frozenset(
    {
        "openai_key",
        "slack_token",
        "github_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "bearer_token",
        "credential",
    }
)
_SCHEME = re.compile(
    r"^(?:sk-(?:proj-|ant-)?|xox[a-z]-|gh[a-z]_|github_pat_|AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)"
)
# Shorter secrets show no tail: four characters of an eight-character secret is half of it.
_MIN_LENGTH_FOR_TAIL = 16


def mask_key(value: str) -> str:
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
    if kind in _KEY_KINDS:
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
