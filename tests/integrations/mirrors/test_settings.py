"""The mirror sections: secrets only by reference, mappings checked, off when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.mirrors.relay import MirrorRelay
from smokejumper.config import ConfigError, Settings, load_settings
from smokejumper.store.db import Store
from workers.worker import activity_names, worker_parts


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smokejumper.toml"
    path.write_text(text)
    return path


def test_a_secret_written_in_the_file_is_refused(tmp_path: Path) -> None:
    config = _write(
        tmp_path,
        '[pagerduty]\nrouting_key = "0123456789abcdef0123456789abcdef"\n',
    )
    with pytest.raises(ConfigError, match=r"pagerduty\.routing_key"):
        load_settings(config, data_dir=tmp_path)


def test_jira_transitions_name_our_statuses(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    config = _write(
        tmp_path,
        f"""[jira]
url = "https://acme.atlassian.net"
email = "bot@example.com"
api_token = "file:{tmp_path / "token"}"
project = "SEC"
transitions = {{ done = "Done" }}
""",
    )
    with pytest.raises(ConfigError, match="not statuses of an incident: done"):
        load_settings(config, data_dir=tmp_path)


def test_the_relay_runs_only_where_a_mirror_is_configured(tmp_path: Path) -> None:
    assert "mirror_deliver" not in activity_names(Settings(data_dir=tmp_path))
    (tmp_path / "hook").write_text("https://example.invalid/hook?sig=x")
    settings = Settings(data_dir=tmp_path, teams={"webhook_url": f"file:{tmp_path / 'hook'}"})
    assert "mirror_deliver" in activity_names(settings)
    store = Store("sqlite:///:memory:")
    try:
        assert MirrorRelay in worker_parts(settings, store, workflows=[]).workflows
    finally:
        store.dispose()
