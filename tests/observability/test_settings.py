"""`[observability]` refuses what its processes could not use, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokejumper.config import ConfigError, load_settings


def test_defaults_are_off() -> None:
    settings = load_settings(None).observability
    assert settings.sdk_metrics_bind is None
    assert settings.otlp_endpoint is None
    assert not settings.tracing
    assert settings.log_format == "text"
    assert settings.service_name == "smokejumper"


def test_endpoint_trailing_slash_is_dropped(tmp_path: Path) -> None:
    config = tmp_path / "smokejumper.toml"
    config.write_text(
        '[observability]\notlp_endpoint = "http://collector:4318/"\n'
        'sdk_metrics_bind = "[::]:9464"\n'
    )
    settings = load_settings(config).observability
    assert settings.otlp_endpoint == "http://collector:4318"
    assert settings.sdk_metrics_bind == "[::]:9464"
    assert settings.tracing


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("sdk_metrics_bind", "localhost:9464", "expected an IP address and port"),
        ("sdk_metrics_bind", "127.0.0.1", "expected an IP address and port"),
        ("sdk_metrics_bind", "127.0.0.1:70000", "expected an IP address and port"),
        ("otlp_endpoint", "collector:4318", "expected an http:// or https:// URL"),
        ("log_format", "xml", "'text' or 'json'"),
    ],
)
def test_bad_values_name_the_key(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(f"SMOKEJUMPER_OBSERVABILITY__{key.upper()}", value)
    with pytest.raises(ConfigError) as raised:
        load_settings(None)
    assert f"observability.{key}" in str(raised.value)
    assert expected in str(raised.value)
