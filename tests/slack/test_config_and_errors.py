"""The `slack` settings section, and what Slack's failures mean for Temporal's retries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from activities.slack import rate_limit_or_outage
from integrations.slack.client import web_client
from integrations.slack.emulator import SlackEmulator
from smokejumper.config import ConfigError, load_settings
from smokejumper.settings.slack import SlackSettings
from tests.slack.conftest import slack_config


def test_a_literal_token_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "smokejumper.toml"
    config.write_text('[slack]\nbot_token = "xoxb-1234567890-abcdefghij"\n')
    with pytest.raises(ConfigError, match=r"slack\.bot_token: a secret may not be written") as err:
        load_settings(config)
    assert "xoxb-1234567890" not in str(err.value)


def test_incomplete_slack_settings_name_the_missing_key(
    tmp_path: Path, slack_emulator: SlackEmulator
) -> None:
    base = slack_config(slack_emulator, tmp_path)
    without_secret = {k: v for k, v in base.items() if k != "signing_secret"}
    with pytest.raises(ConfigError, match=r"slack\.signing_secret is required"):
        load_settings(None, slack=without_secret)
    with pytest.raises(ConfigError, match=r"slack\.app_token is required"):
        load_settings(None, slack={**without_secret, "app_token": None, "socket_mode": True})
    with pytest.raises(ConfigError, match=r"slack\.users\.alice"):
        load_settings(None, slack={**base, "users": {"alice": "alice"}})
    with pytest.raises(ConfigError, match="templates_dir"):
        load_settings(None, slack={**base, "templates_dir": str(tmp_path / "missing")})
    settings = load_settings(None, slack=base)
    assert settings.slack.enabled and settings.slack.slack_id("bob") == "U0BOB0001"
    assert slack_emulator.bot_token in settings.secret_values()
    assert not SlackSettings().enabled


def _failure(emulator: SlackEmulator, tmp_path: Path) -> SlackApiError:
    settings = load_settings(None, slack=slack_config(emulator, tmp_path)).slack
    with pytest.raises(SlackApiError) as err:
        web_client(settings).chat_postMessage(channel="CTRIAGE01", text="hello")
    return err.value


def test_a_rate_limit_is_retried_after_retry_after(
    tmp_path: Path, slack_emulator: SlackEmulator
) -> None:
    slack_emulator.fail("chat.postMessage", 429, retry_after=7)
    retry = rate_limit_or_outage(_failure(slack_emulator, tmp_path), "chat.postMessage")
    assert retry.type == "SlackRateLimited" and not retry.non_retryable
    assert retry.next_retry_delay == timedelta(seconds=7)


def test_an_outage_is_retried_and_a_refusal_is_not(
    tmp_path: Path, slack_emulator: SlackEmulator
) -> None:
    slack_emulator.fail("chat.postMessage", 503, retry_after=None)
    outage = rate_limit_or_outage(_failure(slack_emulator, tmp_path), "chat.postMessage")
    assert outage.type == "SlackUnavailable" and not outage.non_retryable
    assert outage.next_retry_delay is None
    settings = load_settings(None, slack=slack_config(slack_emulator, tmp_path))
    revoked = settings.slack.model_copy(update={"bot_token": SecretStr("xoxb-revoked-token")})
    with pytest.raises(SlackApiError) as err:
        web_client(revoked).chat_postMessage(channel="CTRIAGE01", text="hello")
    refused = rate_limit_or_outage(err.value, "chat.postMessage")
    assert refused.non_retryable and "invalid_auth" in refused.message
    assert "xoxb-revoked" not in refused.message
