"""Finding and redacting secrets and personal data in free text.

Pure functions over strings, shared by evidence capture, Slack messages and reports, so
everything that leaves the evidence store is redacted the same way. Each finding is
replaced by `[REDACTED:<kind>]`; text inside such a marker is never reported again, which
is what makes `redact` idempotent even when a user-supplied pattern could match a marker.

The provider key shapes are adapted from gitleaks' published rule set (config/gitleaks.toml
of github.com/gitleaks/gitleaks, MIT licence): aws-access-token, gcp-api-key,
huggingface-access-token, openai-api-key, anthropic-api-key, github-pat and friends,
gitlab-pat, slack-*-token, stripe-access-token, jwt, private-key and generic-api-key (a
secret-like word, then a value whose Shannon entropy clears a floor). Groq and xAI keys,
which that set lacks, have the shapes TruffleHog's detectors document (`gsk_` and 52
characters, `xai-` and 80). Where gitleaks pins one length, the patterns here accept the
lengths providers have issued over time, so a key is found whatever its vintage; a bare
40-character hex or base64 run (a git SHA, a digest) is never a secret by itself: only a
secret-like word before it, and enough entropy in it, makes it one.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MARKER = re.compile(r"\[REDACTED:[a-z0-9_.-]+\]")
KIND_NAME = re.compile(r"^[a-z0-9_.-]{1,60}$")


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern[str]
    # Checksums and digit counts that a regex cannot express; False drops the match.
    valid: Callable[[str], bool] | None = None
    # Digits inside a long hexadecimal identifier (a UUID, a hash) are part of it, not a
    # number of their own: a session id must not read as a card number.
    not_in_hex_ids: bool = False


# A hexadecimal token this long is an identifier (UUIDs in hex are 32, hashes longer).
_HEX_ID_LENGTH = 32
_HEX = frozenset("0123456789abcdefABCDEF")


def _in_hex_id(text: str, start: int, end: int) -> bool:
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    token = text[start:end]
    return len(token) >= _HEX_ID_LENGTH and set(token) <= _HEX


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    # A run of one repeated digit passes Luhn (all zeros) but is filler, not a card.
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def iban_valid(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return int(numeric) % 97 == 1


def _ssn(value: str) -> bool:
    area, group, serial = value.split("-")
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def _phone(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 10 <= len(digits) <= 15


def entropy(value: str) -> float:
    """Shannon entropy in bits per character, as gitleaks computes it for its `entropy` floor."""
    counts: dict[str, int] = {}
    for char in value:
        counts[char] = counts.get(char, 0) + 1
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values()) if length else 0.0


_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# Random tokens of 16+ characters score about 3.5 and up (gitleaks' generic-api-key floor);
# words, version strings and repeated filler score far less.
_ENTROPY_FLOOR = 3.5


def _high_entropy(value: str) -> bool:
    # A secret has a digit or a symbol; an identifier in prose ("secret is supercalifragil")
    # has letters only. UUIDs are request and session ids, not secrets.
    if _UUID.match(value) or value.isalpha():
        return False
    return entropy(value) >= _ENTROPY_FLOOR


def _aws_secret(value: str) -> bool:
    return entropy(value) >= _ENTROPY_FLOOR and not value.isalpha()


# The words after which a value is taken for a secret, as gitleaks' generic-api-key lists
# them (without `key` and `auth` alone, which prose uses for everything).
_SECRET_WORD = (
    r"(?i:(?<![A-Za-z])(?:secret|token|passw(?:or)?d|pwd|api[ _.-]?key|apikey|"  # noqa: S105
    r"access[ _.-]?key|private[ _.-]?key|credentials?|creds|auth[ _.-]?key))"
)
# What may stand between the word and the value: more of the name (`_ACCESS_KEY`), quotes,
# an operator, or a few short words of prose ("secret is", "token was set to").
_BRIDGE = r"(?:[\w.-]{0,30})(?:[\s\"'`:=>,|()]|\b(?:is|was|of|to|set|now|=)\b){0,12}?"
_NOT_BEFORE = r"(?<![A-Za-z0-9_/+.-])"
_NOT_AFTER = r"(?![A-Za-z0-9_/+=-])"

AWS_ACCESS_KEY_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|A3T[A-Z0-9])"
    r"[A-Z0-9]{16}(?![A-Za-z0-9])"
)

_DETECTORS: tuple[_Detector, ...] = (
    _Detector(
        "private_key",
        re.compile(
            r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
            # A truncated prompt may hold the start of a key and never its end.
            r"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\Z)"
        ),
    ),
    _Detector("aws_access_key_id", AWS_ACCESS_KEY_ID),
    _Detector(
        # AWS secret access keys are 40 characters of base64; a shorter or longer value after
        # the same words is the `secret` detector's.
        "aws_secret_access_key",
        re.compile(
            r"(?i:secret|aws)" + _BRIDGE + r"(?<![A-Za-z0-9/+])(?P<value>[A-Za-z0-9/+]{40})"
            r"(?![A-Za-z0-9/+=])"
        ),
        _aws_secret,
    ),
    _Detector(
        "anthropic_key",
        re.compile(r"(?<![A-Za-z0-9_-])sk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{20,}"),
    ),
    _Detector(
        "openai_key",
        re.compile(r"(?<![A-Za-z0-9_-])sk-(?:(?:proj|svcacct|admin|ant|None)-)?[A-Za-z0-9_-]{20,}"),
    ),
    _Detector(
        "google_api_key", re.compile(r"(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}" + _NOT_AFTER)
    ),
    _Detector(
        "huggingface_token",
        re.compile(r"(?<![A-Za-z0-9_])(?:hf_|api_org_)[A-Za-z0-9]{34}(?![A-Za-z0-9])"),
    ),
    _Detector("groq_key", re.compile(r"(?<![A-Za-z0-9_])gsk_[A-Za-z0-9]{52}(?![A-Za-z0-9])")),
    _Detector("xai_key", re.compile(r"(?<![A-Za-z0-9_-])xai-[A-Za-z0-9_]{80}(?![A-Za-z0-9_])")),
    _Detector(
        "slack_token",
        re.compile(
            r"(?<![A-Za-z0-9])(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9]+-\d+-[A-Za-z0-9]+)"
        ),
    ),
    _Detector(
        "github_token",
        re.compile(
            r"(?<![A-Za-z0-9])(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"
        ),
    ),
    _Detector(
        "gitlab_token",
        re.compile(r"(?<![A-Za-z0-9])(?:glpat|gldt|glptt|glrt)-[A-Za-z0-9_-]{20,}(?:\.[\w.-]+)?"),
    ),
    _Detector(
        "stripe_key",
        re.compile(r"(?<![A-Za-z0-9])(?:sk|rk|pk)_(?:test|live|prod)_[A-Za-z0-9]{10,247}"),
    ),
    _Detector(
        "jwt",
        re.compile(
            r"(?<![A-Za-z0-9_-])ey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"
            r"(?![A-Za-z0-9_-])"
        ),
    ),
    _Detector(
        # gitleaks' generic-api-key: a secret-like word, then a value of enough entropy.
        "secret",
        re.compile(
            _SECRET_WORD
            + _BRIDGE
            + _NOT_BEFORE
            + r"(?P<value>[A-Za-z0-9_/+=.~-]{15,199}[A-Za-z0-9_/+=~-])"
            + _NOT_AFTER
        ),
        _high_entropy,
    ),
    _Detector(
        "bearer_token",
        # A digit is required so "bearer responsibility" in prose is left alone.
        re.compile(r"(?i:bearer)\s+(?P<value>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*)"),
    ),
    _Detector(
        "credential",
        re.compile(
            r"(?i:(?<![A-Za-z0-9])(?:password|passwd|pwd|api[_-]?key|secret[_-]?key|"
            r"access[_-]?token|auth[_-]?token|client[_-]?secret))"
            r"[\"']?\s*[:=]\s*[\"']?(?P<value>[^\s\"',;&<>\[\]]{3,})"
        ),
    ),
    _Detector(
        # postgresql://user:password@host — the password and the host it opens go; the user
        # and scheme stay. The host is part of the finding so that `password@host` is never
        # taken for an email address (equal length: this detector comes first).
        "connection_string",
        re.compile(
            r"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,100}:"
            r"(?P<value>[^\s@/]{1,200}@[^\s/:?#]{1,255})"
        ),
    ),
    _Detector(
        "email",
        re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])"),
    ),
    _Detector(
        "iban",
        re.compile(
            r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}"
            r"(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
        ),
        iban_valid,
    ),
    _Detector(
        "card",
        re.compile(r"(?<![\d.-])\d(?:[ -]?\d){12,18}(?![\d]|[.-]\d)"),
        _card,
        not_in_hex_ids=True,
    ),
    _Detector("ssn", re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d]|-\d)"), _ssn),
    _Detector(
        "phone",
        re.compile(
            # International: a leading + and groups split by spaces, dots or dashes.
            r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w]|[.-]\d)"
            # US: (555) 123-4567, 555-123-4567, 555.123.4567, 1-555-123-4567. Separators
            # are required, so a bare run of digits, a version or a date is not a phone.
            r"|(?<![\w.+-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w]|[.-]\d)"
        ),
        _phone,
    ),
)


class Redactor:
    """The built-in detectors plus `extra` patterns (kind name → regex)."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        detectors = list(_DETECTORS)
        for kind, pattern in (extra or {}).items():
            if not KIND_NAME.match(kind):
                raise ValueError(f"redaction pattern name {kind!r} must match {KIND_NAME.pattern}")
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"redaction pattern {kind!r} is not a valid regex: {exc}"
                ) from None
            detectors.append(_Detector(kind, compiled))
        self.detectors = tuple(detectors)

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings in order; the earliest, then the longest, wins."""
        markers = [(m.start(), m.end()) for m in MARKER.finditer(text)]
        candidates: list[tuple[int, int, int, str]] = []
        for priority, detector in enumerate(self.detectors):
            for match in detector.pattern.finditer(text):
                group = "value" if "value" in detector.pattern.groupindex else 0
                start, end = match.span(group)
                if start == end or _overlaps(start, end, markers):
                    continue
                if detector.valid is not None and not detector.valid(match.group(group)):
                    continue
                if detector.not_in_hex_ids and _in_hex_id(text, start, end):
                    continue
                candidates.append((start, -(end - start), priority, detector.kind))
        findings: list[Finding] = []
        for start, negative_length, _, kind in sorted(candidates):
            end = start - negative_length
            if findings and start < findings[-1].end:
                continue
            findings.append(Finding(kind, start, end))
        return findings

    def redact(self, text: str) -> str:
        # Replacing one finding can change what its neighbours look like (a lookbehind now
        # sees a marker), so repeat until nothing is found. Each pass turns at least one
        # unmarked character into a marker, so this ends.
        for _ in range(len(text) + 1):
            findings = self.find(text)
            if not findings:
                return text
            text = _replace(text, findings)
        return text

    def classify(self, text: str) -> set[str]:
        return {finding.kind for finding in self.find(text)}


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Whether [start, end) meets any of `spans`, which are sorted and disjoint."""
    # The last span starting before `end` is the only one that can reach back past `start`.
    index = bisect.bisect_left(spans, (end, end)) - 1
    return index >= 0 and spans[index][1] > start


def _replace(text: str, findings: list[Finding]) -> str:
    parts: list[str] = []
    position = 0
    for finding in findings:
        parts.append(text[position : finding.start])
        parts.append(f"[REDACTED:{finding.kind}]")
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


DEFAULT = Redactor()


def find(text: str) -> list[Finding]:
    return DEFAULT.find(text)


def redact(text: str) -> str:
    return DEFAULT.redact(text)


def classify(text: str) -> set[str]:
    return DEFAULT.classify(text)
