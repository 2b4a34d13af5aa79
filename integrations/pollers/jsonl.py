"""JSONL tail: each complete line of a file (or of every file a directory or glob names) is
one native event of the poller's source.

Cursor: `{"files": {path: {"inode": n, "offset": bytes}}}`, the offset just past the last line
handled. A path whose inode changed was rotated and is read from 0, unless its old inode is
now found under another watched path (rotation by rename inside the directory or glob), which
continues where it was. A file smaller than its offset was truncated and is read from 0. A last
line without its newline is still being written and waits for the next run.

A stream format (garak) reads a file's lines in order with a state carried from line to line
(the run an `init` line names applies to the `eval` lines after it); that state is kept in
the file's cursor entry (`"state"`), so it survives restarts and starts afresh with the file.
Lines such a format understands but that report nothing advance the cursor without an event.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from integrations.pollers.base import Checkpoint, Cursor, Item, Record
from integrations.sources.base import Normalizer
from smokejumper.intake import json_body
from smokejumper.intake.errors import field_errors
from smokejumper.intake.streams import NoFinding, StreamReader, is_stream

MAX_LINES_PER_RUN = 1000
# As large as the HTTP intake accepts by default; anything longer is dead-lettered unparsed.
MAX_LINE_BYTES = 1024 * 1024
# How much of an over-long line its dead letter keeps, so an operator can see what it was.
_KEPT_OF_LONG_LINE = 4096
_SKIP_CHUNK = 64 * 1024

Files = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    data: bytes
    # False when the line was longer than the limit: `data` is only its beginning.
    complete: bool = True


def _watched(pattern: str) -> dict[str, os.stat_result]:
    """The regular files the configured path names now, in path order."""
    target = Path(pattern).expanduser()
    if target.is_dir():
        candidates = [str(child) for child in target.iterdir()]
    elif any(char in pattern for char in "*?["):
        candidates = glob.glob(str(target), recursive=True)
    else:
        candidates = [str(target)]
    found: dict[str, os.stat_result] = {}
    for candidate in sorted(candidates):
        try:
            stat = os.stat(candidate)
        except OSError:
            continue
        if os.path.isfile(candidate):
            found[candidate] = stat
    return found


def plan(pattern: str, previous: Files) -> Files:
    """Where to start reading each watched file this run."""
    stats = _watched(pattern)
    inodes = {path: stat.st_ino for path, stat in stats.items()}
    # Entries whose file is no longer at their path: maybe renamed to another watched path.
    moved = {
        entry["inode"]: entry
        for path, entry in previous.items()
        if inodes.get(path) != entry["inode"]
    }
    start: Files = {}
    for path, stat in stats.items():
        known = previous.get(path)
        if known is None or known["inode"] != stat.st_ino:
            known = moved.get(stat.st_ino)
        offset = known["offset"] if known is not None else 0
        if stat.st_size < offset:
            offset = 0  # truncated
        start[path] = {"inode": stat.st_ino, "offset": offset}
        if offset and known is not None and "state" in known:
            start[path]["state"] = known["state"]
    return start


def _skip_to_newline(handle: BinaryIO) -> int | None:
    """Position just past the next newline, or None at end of file."""
    while True:
        chunk = handle.readline(_SKIP_CHUNK)
        if not chunk:
            return None
        if chunk.endswith(b"\n"):
            return handle.tell()


def read_lines(path: str, inode: int, offset: int, limit: int, max_bytes: int) -> list[_Line]:
    """Up to `limit` complete lines from `offset`; none if the file was replaced since."""
    try:
        handle = open(path, "rb")
    except OSError:
        return []
    with handle:
        if os.fstat(handle.fileno()).st_ino != inode:
            return []  # rotated since it was listed; the next run plans it afresh
        handle.seek(offset)
        lines: list[_Line] = []
        position = offset
        while len(lines) < limit:
            chunk = handle.readline(max_bytes + 1)
            if not chunk:
                break
            if chunk.endswith(b"\n"):
                lines.append(_Line(position, position + len(chunk), chunk))
                position += len(chunk)
                continue
            if len(chunk) <= max_bytes:
                break  # the writer has not finished this line yet
            end = _skip_to_newline(handle)
            if end is None:
                break
            lines.append(_Line(position, end, chunk[:_KEPT_OF_LONG_LINE], complete=False))
            position = end
        return lines


class JsonlPoller:
    def __init__(
        self,
        *,
        name: str,
        source: str,
        normalizer: Normalizer,
        path: str,
        interval_seconds: float,
        max_lines: int = MAX_LINES_PER_RUN,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.name = name
        self.source = source
        self.normalizer = normalizer
        self.path = path
        self.interval_seconds = interval_seconds
        self.max_lines = max_lines
        self.max_line_bytes = max_line_bytes

    async def poll(self, cursor: Cursor) -> AsyncGenerator[Record, None]:
        files = await asyncio.to_thread(plan, self.path, cursor.get("files", {}))
        budget = self.max_lines
        for path, entry in list(files.items()):
            if budget <= 0:
                break
            inode = entry["inode"]
            lines = await asyncio.to_thread(
                read_lines, path, inode, entry["offset"], budget, self.max_line_bytes
            )
            for line in lines:
                budget -= 1
                files[path] = {**files[path], "offset": line.end}
                item = self._item(path, line, files)
                if item is not None:
                    yield item
        # Blank lines, rotations and vanished files move the cursor without an event.
        yield Checkpoint({"files": _copy(files)})

    def _item(self, path: str, line: _Line, files: Files) -> Item | None:
        text = line.data.decode("utf-8", errors="replace")
        context = {"file": path, "offset": str(line.start)}
        cursor = {"files": _copy(files)}
        if not line.complete:
            problem = f"line longer than {self.max_line_bytes} bytes"
            return Item(raw=text, cursor=cursor, context=context, problem=problem)
        text = text.rstrip("\r\n")
        if not text.strip():
            return None
        if is_stream(self.normalizer):
            return self._read(self.normalizer, path, text, files, context)
        return Item(raw=text, cursor=cursor, context=context)

    def _read(
        self,
        reader: StreamReader,
        path: str,
        text: str,
        files: Files,
        context: dict[str, str],
    ) -> Item | None:
        """A line of a stream format, read with (and updating) its file's state."""
        try:
            payload = json_body.loads(text, subject="event")
        except json_body.JsonRefused:
            # The runner refuses it with the parser's message.
            return Item(raw=text, cursor={"files": _copy(files)}, context=context)
        state = dict(files[path].get("state") or {})
        try:
            outcome = reader.read(payload, state)
        except ValueError as exc:
            errors = (
                field_errors(exc)
                if isinstance(exc, ValidationError)
                else exc.__dict__.get("errors")
            )
            return Item(
                raw=text,
                cursor={"files": _copy(files)},
                context=context,
                problem="payload is not in the source's format",
                errors=errors if isinstance(errors, list) else None,
            )
        files[path] = {**files[path], "state": state}
        if isinstance(outcome, NoFinding):
            return None  # understood, nothing to report: the cursor moves on
        return Item(raw=text, cursor={"files": _copy(files)}, context=context, alert=outcome)


def _copy(files: Files) -> Files:
    return json.loads(json.dumps(files))  # type: ignore[no-any-return]
