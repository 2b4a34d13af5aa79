"""The embedded control plane's state files: a file is parsed once per version, and a
version written by anyone else (another process, an operator's editor) is read again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from integrations.keys.local import LocalKeys
from integrations.local_state import LocalStateError, LocalStateFile, read_records


def test_what_another_writer_puts_there_is_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ours, theirs = LocalKeys(path), LocalKeys(path)
    for n in range(3):
        ours.create(f"key-{n}")
    assert theirs.state("key-1").status == "active"
    theirs.revoke("key-1")
    assert ours.state("key-1").status == "inactive"
    # Written by hand, in place, same size: a new mtime is a new version.
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"inactive"', '"INACTIVE"'), encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert ours.state("key-1").status == "INACTIVE"


def test_callers_get_their_own_copy(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    LocalStateFile(path, "keys").write({"k": {"status": "active"}})
    first = read_records(path, "keys")
    first["k"]["status"] = "changed by the caller"
    first["new"] = {}
    assert read_records(path, "keys") == {"k": {"status": "active"}}


def test_one_json_document_per_file_and_bad_files_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    LocalStateFile(path, "keys").write({"b": {"status": "active"}, "a": {"status": "inactive"}})
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == {"keys": {"a": {"status": "inactive"}, "b": {"status": "active"}}}
    assert text.endswith("\n")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(LocalStateError, match="cannot read"):
        read_records(path, "keys")
    assert read_records(tmp_path / "missing.json", "keys") == {}


def test_what_this_process_wrote_is_read_without_parsing_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revocation rewrites the whole file; the next call in the same process reads what
    it wrote from memory (a file of ten thousand keys takes milliseconds to parse), and a
    change the writer makes to its records afterwards is not in it."""
    path = tmp_path / "keys.json"
    records = {f"key-{n}": {"status": "active"} for n in range(3)}
    LocalStateFile(path, "keys").write(records)
    records["key-0"]["status"] = "changed by the caller after writing"
    parsed: list[bytes] = []
    real_loads = json.loads

    def loads(text: bytes) -> object:
        parsed.append(text)
        return real_loads(text)

    monkeypatch.setattr("integrations.local_state.json.loads", loads)
    assert read_records(path, "keys")["key-0"] == {"status": "active"}
    assert parsed == []
    # Another writer's version (a new inode) is parsed.
    LocalKeys(path).revoke("key-1")
    other = path.with_name("other.json")
    other.write_text(json.dumps({"keys": {"key-9": {"status": "active"}}}), encoding="utf-8")
    os.replace(other, path)
    assert read_records(path, "keys") == {"key-9": {"status": "active"}}
    assert len(parsed) == 1
