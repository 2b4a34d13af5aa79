"""What leaked: the redaction detectors' findings sorted into the four categories a
responder acts on — credentials (revoke), personal data (privacy clock), system prompt
(rotate the prompt and its secrets) and proprietary data (owners, legal).

Built on `smokejumper.redaction`: the same detectors that redact evidence classify it, plus
a few that only matter here (system-prompt and confidentiality markers) and the configured
patterns (`evidence.redaction_patterns`), whose kind name picks the category by prefix:
`system_prompt.<name>` and `proprietary.<name>`; any other configured kind counts as
proprietary, since someone named it as data that must not leave.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from smokejumper.redaction import AWS_ACCESS_KEY_ID, Finding, Redactor


class LeakCategory(StrEnum):
    CREDENTIALS = "credentials"
    PERSONAL_DATA = "personal_data"
    SYSTEM_PROMPT = "system_prompt"
    PROPRIETARY = "proprietary"


# The credential kinds as first listed: runs of the leak playbooks started before every
# credential detector counted replay with these (see playbooks' UNNAMED_CREDENTIALS_PATCH).
CREDENTIAL_KINDS_FIRST = frozenset(
    {
        "private_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "openai_key",
        "slack_token",
        "github_token",
        "bearer_token",
        "credential",
        "connection_string",
        "inventory_key",
    }
)
# Every kind a redaction detector finds that opens something: a leaked Anthropic key, a
# Hugging Face token or a JWT is a credential to rotate, not proprietary text.
CREDENTIAL_KINDS = CREDENTIAL_KINDS_FIRST | {
    "anthropic_key",
    "google_api_key",
    "huggingface_token",
    "groq_key",
    "xai_key",
    "gitlab_token",
    "stripe_key",
    "jwt",
    "secret",
}
PERSONAL_DATA_KINDS = frozenset({"email", "iban", "card", "ssn", "phone"})

# Phrases that appear when a model repeats its instructions: role framing, chat-template
# tokens, and the model talking about its own prompt.
SYSTEM_PROMPT_PATTERNS: dict[str, str] = {
    "system_prompt.template": r"<\|im_start\|>\s*system\b|<\|system\|>|\[INST\]\s*<<SYS>>",
    "system_prompt.disclosure": (
        r"(?i)\b(?:my|the) (?:system prompt|system message|initial instructions|"
        r"hidden instructions)\b(?: (?:is|are|says|reads))?"
    ),
    "system_prompt.role": (
        r"(?i)\byou are (?:an? |the )[\w ,'-]{2,60}?(?:assistant|agent|bot|model)\b"
        r"[^.\n]{0,80}\.\s*(?:you (?:must|should|will) (?:never|always|not)|never reveal|"
        r"do not (?:reveal|disclose))"
    ),
}
PROPRIETARY_PATTERNS: dict[str, str] = {
    "proprietary.marking": (
        r"(?i)\b(?:strictly confidential|company confidential|internal use only|"
        r"proprietary and confidential|do not distribute|trade secret)\b"
    ),
}


# The detectors that take any value after a secret-like word: one may hold a known key.
GENERIC_SECRET_KINDS = frozenset({"secret", "credential"})
MIN_PREFIX = 4  # shorter key prefixes would redact ordinary words


def prefix_patterns(prefixes: Mapping[str, str]) -> dict[str, str]:
    if not prefixes:
        return {}
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return {"inventory_key": rf"(?<![A-Za-z0-9_])(?:{alternatives})[A-Za-z0-9_-]*"}


def category_of(kind: str) -> LeakCategory:
    if kind in CREDENTIAL_KINDS:
        return LeakCategory.CREDENTIALS
    if kind in PERSONAL_DATA_KINDS:
        return LeakCategory.PERSONAL_DATA
    if kind.startswith("system_prompt"):
        return LeakCategory.SYSTEM_PROMPT
    return LeakCategory.PROPRIETARY


@dataclass
class Classification:
    """What a text holds, by category and kind; never the values, except the credential
    identifiers a responder needs to revoke (`key_ids`: AWS access key ids and inventory
    key ids, which name a key without being the secret)."""

    counts: Counter[str] = field(default_factory=Counter)
    key_ids: set[str] = field(default_factory=set)

    @property
    def kinds(self) -> list[str]:
        return sorted(self.counts)

    @property
    def categories(self) -> list[LeakCategory]:
        return sorted({category_of(kind) for kind in self.counts})

    def merge(self, other: Classification) -> None:
        self.counts.update(other.counts)
        self.key_ids |= other.key_ids


class LeakClassifier:
    """`patterns`: configured kinds (evidence.redaction_patterns); `key_prefixes`: the
    inventory's key prefix → key id, so a leaked key the built-in detectors do not know
    (`sj_live_ab…`) is still found and named."""

    def __init__(
        self,
        patterns: Mapping[str, str] | None = None,
        key_prefixes: Mapping[str, str] | None = None,
    ) -> None:
        self.key_prefixes = {p: k for p, k in (key_prefixes or {}).items() if len(p) >= MIN_PREFIX}
        extra = {**SYSTEM_PROMPT_PATTERNS, **PROPRIETARY_PATTERNS, **(patterns or {})}
        inventory = prefix_patterns(self.key_prefixes)
        extra.update(inventory)
        self.redactor = Redactor(extra)
        # A key after a secret-like word ("the API key is sj_live_…", "token: AKIA…") is
        # found as the generic `secret` or `credential`, whose span starts at the key and is
        # as long or longer: it is looked for again inside that span, or it would not be
        # revoked.
        self._inventory_key = re.compile(inventory["inventory_key"]) if inventory else None

    @staticmethod
    def summary(counts: Mapping[str, int]) -> list[LeakCategory]:
        """The categories of these kinds, in a stable order."""
        return sorted({category_of(kind) for kind, n in counts.items() if n})

    def classify(self, text: str) -> Classification:
        result = Classification()
        for finding in self.redactor.find(text):
            kind, key_ids = self._keys_of(finding, text)
            result.counts[kind] += 1
            result.key_ids |= key_ids
        return result

    def classify_all(self, texts: Iterable[str]) -> Classification:
        result = Classification()
        for text in texts:
            result.merge(self.classify(text))
        return result

    def _keys_of(self, finding: Finding, text: str) -> tuple[str, set[str]]:
        """The finding's kind, and the key ids it names: a generic secret that is one of
        the inventory's keys, or an AWS access key id, counts as that."""
        value = text[finding.start : finding.end]
        if finding.kind == "aws_access_key_id":
            return finding.kind, {value}
        if finding.kind == "inventory_key":
            named = self._inventory_key_id(value)
            return finding.kind, {named} if named else set()
        if finding.kind not in GENERIC_SECRET_KINDS:
            return finding.kind, set()
        inventory = {
            named
            for match in (self._inventory_key.finditer(value) if self._inventory_key else ())
            if (named := self._inventory_key_id(match.group(0)))
        }
        if inventory:
            return "inventory_key", inventory
        aws = {match.group(0) for match in AWS_ACCESS_KEY_ID.finditer(value)}
        if aws:
            return "aws_access_key_id", aws
        return finding.kind, set()

    def _inventory_key_id(self, value: str) -> str | None:
        for prefix in sorted(self.key_prefixes, key=len, reverse=True):
            if value.startswith(prefix):
                return self.key_prefixes[prefix]
        return None
