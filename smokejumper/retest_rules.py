"""Checking a retest's answers: the detector that raised the alert, asked again.

`RulesDetector` is the engine's own: what the redactor finds (secrets, credentials and
personal data, with the configured patterns and the inventory's key formats), and the
markers the incident recorded — the text the alert's detector flagged in the leaking
answer, and canary strings its alerts carried. A marker matches after folding case,
compatibility forms and everything but letters and digits, so a model that spaces out or
re-punctuates what it repeats is still caught.

Pure functions over strings: the retest activity calls them on the answers it received,
and only finding kinds leave it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from smokejumper.redaction import Redactor

MARKER = "marker"
# A shorter marker (after folding) would match ordinary text by chance.
MIN_MARKER = 8
# Detail keys and labels under which sources report a planted canary.
_CANARY_KEYS = ("canary", "canary_token", "canary_string")


class AnswerDetector(Protocol):
    """Finds what must not be in an answer; returns finding kinds, never the text."""

    name: str

    def findings(self, answer: str) -> list[str]: ...


def fold(text: str) -> str:
    """`text` as markers are compared: NFKC, case folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


class RulesDetector:
    """The redactor's findings and the incident's markers, minus kinds configured as
    expected in answers (`ignore`)."""

    name = "rules"

    def __init__(
        self, redactor: Redactor, markers: Iterable[str] = (), ignore: Iterable[str] = ()
    ) -> None:
        self.redactor = redactor
        self.markers = sorted({m for m in (fold(text) for text in markers) if len(m) >= MIN_MARKER})
        self.ignore = frozenset(ignore)

    def findings(self, answer: str) -> list[str]:
        kinds = {finding.kind for finding in self.redactor.find(answer)}
        folded = fold(answer)
        if any(marker in folded for marker in self.markers):
            kinds.add(MARKER)
        return sorted(kinds - self.ignore)


def markers_of(alerts: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the incident recorded as proof of the attack: the spans its detector flagged in
    the answers, and canaries its alerts name."""
    found: list[str] = []
    for alert in alerts:
        evidence = alert.get("evidence") or {}
        response = evidence.get("response")
        for span in evidence.get("matched_spans") or []:
            if span.get("field") == "response" and isinstance(response, str):
                found.append(response[int(span.get("start", 0)) : int(span.get("end", 0))])
        details = evidence.get("details") or {}
        labels = alert.get("labels") or {}
        for key in _CANARY_KEYS:
            for value in (details.get(key), labels.get(key)):
                if isinstance(value, str):
                    found.append(value)
    return [marker for marker in found if marker.strip()]


def attack_prompts(texts: Iterable[str], limit: int) -> list[str]:
    """The incident's prompts to replay: each once, in the order captured, at most `limit`."""
    seen: list[str] = []
    for text in texts:
        if text.strip() and text not in seen:
            seen.append(text)
        if len(seen) >= limit:
            break
    return seen
