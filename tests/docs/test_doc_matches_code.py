"""docs/writing-playbooks.md shows the example's files whole, part by part; this keeps every
part identical to the code the other tests in this folder run, so the guide cannot drift.

In the doc, each ```python block is preceded by `<!-- code: <path> -->`; in the file,
`# --8<--` lines cut it into parts. A file's blocks, in doc order, must be its parts.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "writing-playbooks.md"
CUT = "# --8<--"
BLOCK = re.compile(r"^<!-- code: (?P<path>\S+) -->\n```python\n(?P<code>.*?)^```$", re.M | re.S)
EXPECTED = {
    "tests/docs/example_playbook.py",
    "tests/docs/test_writing_playbooks.py",
    "tests/docs/versioned_playbook.py",
    "tests/docs/test_versioning.py",
}


def _trim(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n")


def parts(path: Path) -> list[str]:
    chunks: list[list[str]] = [[]]
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() == CUT:
            chunks.append([])
        else:
            chunks[-1].append(line)
    return [_trim(chunk) for chunk in chunks]


def shown() -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    for match in BLOCK.finditer(DOC.read_text(encoding="utf-8")):
        blocks.setdefault(match["path"], []).append(_trim(match["code"].splitlines()))
    return blocks


def test_every_python_block_names_its_file() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text.count("```python\n") == len(BLOCK.findall(text)), (
        "every ```python block in the guide must follow <!-- code: <path> --> "
        "(show code from a tested file; describe anything else in prose)"
    )
    assert set(shown()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_doc_shows_the_file_whole_and_unchanged(name: str) -> None:
    expected = parts(ROOT / name)
    actual = shown().get(name, [])
    if actual != expected:
        diff = difflib.unified_diff(
            "\n\n".join(expected).splitlines(),
            "\n\n".join(actual).splitlines(),
            f"{name} (parts)",
            f"{DOC.name} (blocks)",
            lineterm="",
        )
        pytest.fail(
            f"{DOC.name} no longer shows {name} as it is ({len(actual)} blocks, "
            f"{len(expected)} parts):\n" + "\n".join(diff),
            pytrace=False,
        )
