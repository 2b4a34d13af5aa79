"""Conversation memory of the embedded control plane, in `memory.json` beside the keys file:
a stand-in for an application's Redis, so the demo purges something without one.

Records are keyed like Redis keys (`message_store:sess_01`) and hold counts, never
messages: {"memory": {"message_store:sess_01": {"application": "support-bot",
"entries": 3}}}. Patterns match with Redis's glob rules.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.local_state import LocalProvider
from integrations.memory.base import (
    MemoryEntry,
    MemoryProviderError,
    MemoryScope,
    MemorySnapshot,
    MemoryState,
    memory_state,
)

PROVIDER = "local"
SECTION = "memory"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Redis's glob (`*`, `?`, `[a-z]`, `[^a]`, `\\` escapes) as a regular expression."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 2 if pattern[i + 1 : i + 2] == "]" else i + 1)
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


class LocalMemory(LocalProvider):
    section = SECTION
    what = "local memory"
    error = MemoryProviderError
    restorable = False

    def __init__(self, path: Path) -> None:
        super().__init__(path)

    @staticmethod
    def _matching(records: dict[str, dict[str, Any]], scope: MemoryScope) -> set[str]:
        globs = [glob_regex(p) for p in scope.patterns]
        return {name for name in records if any(g.fullmatch(name) for g in globs)}

    def remember(self, key: str, *, application: str, entries: int = 1) -> None:
        """Record `entries` more entries under `key` (what the application does as the
        conversation goes on)."""
        with self._file.locked():
            records = self._read()
            record = records.setdefault(key, {"application": application, "entries": 0})
            record["entries"] = int(record.get("entries", 0)) + entries
            record["written_at"] = datetime.now(UTC).isoformat()
            self._file.write(records)

    def state(self, scope: MemoryScope) -> MemoryState:
        return memory_state(scope, PROVIDER, self._matching(self._read(), scope))

    def snapshot(self, scope: MemoryScope) -> MemorySnapshot:
        records = self._read()
        names = self._matching(records, scope)
        entries = [
            MemoryEntry(key=name, type="record", value=records[name]) for name in sorted(names)
        ]
        return MemorySnapshot(scope.application, PROVIDER, entries, names)

    def purge(self, scope: MemoryScope, only: Collection[bytes | str] | None = None) -> MemoryState:
        with self._file.locked():
            records = self._read()
            names = self._matching(records, scope)
            if only is not None:
                names &= {n.decode("utf-8") if isinstance(n, bytes) else n for n in only}
            for name in names:
                del records[name]
            if names:
                self._file.write(records)
        return memory_state(scope, PROVIDER, names, purged=True, deleted=len(names))

    def verify_purged(self, scope: MemoryScope) -> bool:
        return not self._matching(self._read(), scope)
