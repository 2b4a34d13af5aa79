"""`smokejumper worker --queues ...` started where Temporal cannot be reached: one line
naming the setting and a non-zero exit, not a traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app as cli_app
from tests.helpers import free_port


def test_an_integration_worker_that_cannot_reach_temporal_says_so(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = {
        "SMOKEJUMPER_DATA_DIR": str(tmp_path),
        "SMOKEJUMPER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SMOKEJUMPER_TEMPORAL__INTEGRATION_QUEUES": '["keys"]',
        "SMOKEJUMPER_TEMPORAL__ADDRESS": address,
    }
    result = CliRunner().invoke(cli_app, ["worker", "--queues", "keys"], env=env)
    assert result.exit_code == 2, result.output
    assert f"error: temporal.address: cannot reach Temporal at {address}: " in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
