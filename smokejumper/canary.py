"""Canary tokens of system prompts: a unique string planted in a prompt, so that seeing it
in model output proves the prompt itself leaked (OWASP LLM07), not a paraphrase of it.

The store keeps a canary only as a digest of its normalized form (`CanaryDigest`), never
the string: whoever reads the inventory, a report or the console cannot learn it and
strip it from what they extract. Finding a canary in output therefore hashes every window
of the output as long as the canary, after normalizing both the same way.

Normalization undoes what a model (or an attacker avoiding a filter) does to a string it
repeats: compatibility forms (fullwidth letters, ligatures) folded by NFKC, case folded,
and everything that is not a letter or a digit dropped — spaces, line breaks, zero-width
and other invisible format characters, dashes and punctuation. `CNRY-7f3a 91bc` is found
spelled out letter by letter, in fullwidth letters, or with zero-width spaces inside.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Shorter canaries (after normalizing) would match ordinary text by chance.
MIN_CANARY = 12
# A leaked prompt can be long; past this much normalized output, the rest is not scanned.
MAX_SCAN = 1_000_000


def normalize(text: str) -> str:
    """`text` as canaries are compared: NFKC, case folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass(frozen=True)
class CanaryDigest:
    """`sha256:<hex>` of a normalized canary, and its normalized length."""

    sha256: str
    length: int

    def to_json(self) -> dict[str, str | int]:
        return {"sha256": self.sha256, "length": self.length}

    @classmethod
    def from_json(cls, value: dict[str, object]) -> CanaryDigest:
        return cls(sha256=str(value["sha256"]), length=int(str(value["length"])))


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def canary_digest(canary: str) -> CanaryDigest:
    """The digest the store keeps; ValueError when the canary is too short to be unique."""
    normal = normalize(canary)
    if len(normal) < MIN_CANARY:
        raise ValueError(
            f"a canary needs at least {MIN_CANARY} letters or digits (spaces and punctuation "
            "do not count), or ordinary text would match it"
        )
    return CanaryDigest(_sha256(normal), len(normal))


def canary_hits(texts: Iterable[str], canaries: Iterable[CanaryDigest]) -> set[int]:
    """The indexes of `canaries` found in any of `texts`."""
    wanted = list(canaries)
    found: set[int] = set()
    if not wanted:
        return found
    by_length: dict[int, dict[str, int]] = {}
    for index, canary in enumerate(wanted):
        by_length.setdefault(canary.length, {})[canary.sha256] = index
    for text in texts:
        normal = normalize(text)[:MAX_SCAN]
        for length, digests in by_length.items():
            for start in range(len(normal) - length + 1):
                hit = digests.get(_sha256(normal[start : start + length]))
                if hit is not None:
                    found.add(hit)
            if len(found) == len(wanted):
                return found
    return found
