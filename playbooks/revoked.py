"""What a revocation did to a leak's keys, for the messages that tell people: revoked,
revoked but not confirmed yet, not revoked (with a responder), and left out. Masked ids
only: these messages go to chat."""

from __future__ import annotations

from dataclasses import dataclass, field

from smokejumper.sdk import KEYS_AT_MOST

# Keys a message to people names: a leak of thousands is a count past these, not a wall.
KEYS_NAMED = 20


def named_keys(masked: list[str]) -> str:
    """Masked key ids for a message: the first KEYS_NAMED, and how many more."""
    shown = ", ".join(masked[:KEYS_NAMED]) or "none"
    more = len(masked) - KEYS_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass
class Revoked:
    done: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    # A failed batch's keys are all here: some of them may have been revoked.
    failed: list[str] = field(default_factory=list)
    left_out: int = 0

    def __iadd__(self, other: Revoked) -> Revoked:
        self.done += other.done
        self.unverified += other.unverified
        self.failed += other.failed
        self.left_out += other.left_out
        return self

    def told(self) -> str:
        """`Keys revoked: …` and, when so, what was not."""
        return (
            f"Keys revoked: {named_keys(self.done)}"
            + (
                f"; revoked, NOT confirmed yet: {named_keys(self.unverified)}"
                if self.unverified
                else ""
            )
            + (
                f"; NOT revoked (failed, with a responder): {named_keys(self.failed)}"
                if self.failed
                else ""
            )
            + (
                f"; {self.left_out} more key-shaped ids NOT revoked (past the first "
                f"{KEYS_AT_MOST}, with a responder)"
                if self.left_out
                else ""
            )
        )
