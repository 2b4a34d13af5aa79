"""Configuration: defaults, TOML, environment precedence, clear errors, secret handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from smokejumper.config import ConfigError, load_settings


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_describe_the_embedded_engine(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.api.port == 8000
    assert settings.api.host == "127.0.0.1"
    assert settings.temporal.embedded
    assert settings.temporal.target == "127.0.0.1:7233"
    assert settings.temporal.ui_url == "http://127.0.0.1:8233"
    assert (
        settings.effective_database_url
        == f"sqlite:///{tmp_path / '.smokejumper' / 'smokejumper.db'}"
    )


def test_toml_file_is_read_from_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path / "smokejumper.toml", '[api]\nport = 9100\n[temporal]\nnamespace = "sec"\n')
    settings = load_settings()
    assert settings.api.port == 9100
    assert settings.temporal.namespace == "sec"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "other.toml", "[api]\nport = 9100\nhost = '0.0.0.0'\n")
    monkeypatch.setenv("SMOKEJUMPER_CONFIG", str(config))
    monkeypatch.setenv("SMOKEJUMPER_API__PORT", "9200")
    settings = load_settings()
    assert settings.api.port == 9200
    assert settings.api.host == "0.0.0.0"


def test_plain_postgres_url_uses_the_shipped_driver() -> None:
    settings = load_settings(database_url="postgresql://u@db:5432/sj")
    assert settings.effective_database_url == "postgresql+psycopg://u@db:5432/sj"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[api]\nport = 70000\n",
            "api.port: Input should be less than or equal to 65535 (got 70000)",
        ),
        ("[api]\nprot = 8000\n", "api.prot: Extra inputs are not permitted"),
        ("log_level = 'LOUD'\n", "log_level: Input should be"),
        ("database_url = 'mysql://x'\n", "database_url: Value error, only sqlite"),
        (
            "[temporal]\nclient_cert = '/nope.pem'\n",
            "client_cert and client_key must be set together",
        ),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    write(tmp_path / "smokejumper.toml", toml)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert expected in str(caught.value)


def test_unparsable_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    write(tmp_path / "smokejumper.toml", "[api\nport=1")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings()


def test_explicit_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml")


def test_literal_secret_in_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    write(tmp_path / "smokejumper.toml", "[temporal]\napi_key = 'tcld-very-secret-value'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "temporal.api_key" in message
    assert "SMOKEJUMPER_TEMPORAL__API_KEY" in message
    assert "tcld-very-secret-value" not in message


def test_secret_from_file_reference(tmp_path: Path) -> None:
    write(tmp_path / "key.txt", "tcld-from-file\n")
    write(tmp_path / "smokejumper.toml", f"[temporal]\napi_key = 'file:{tmp_path / 'key.txt'}'\n")
    settings = load_settings()
    assert settings.temporal.api_key is not None
    assert settings.temporal.api_key.get_secret_value() == "tcld-from-file"
    assert "tcld-from-file" not in repr(settings)
    assert settings.secret_values() == ["tcld-from-file"]


def test_secret_from_env_reference_and_missing_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "smokejumper.toml", "[temporal]\napi_key = 'env:MY_TEMPORAL_KEY'\n")
    with pytest.raises(ConfigError, match="MY_TEMPORAL_KEY named by the reference is not set"):
        load_settings()
    monkeypatch.setenv("MY_TEMPORAL_KEY", "tcld-env")
    assert load_settings().temporal.api_key.get_secret_value() == "tcld-env"  # type: ignore[union-attr]


def test_secret_straight_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKEJUMPER_TEMPORAL__API_KEY", "tcld-direct")
    settings = load_settings()
    assert settings.temporal.api_key is not None
    assert settings.temporal.api_key.get_secret_value() == "tcld-direct"


def test_cli_reports_bad_config_and_exits_2(tmp_path: Path) -> None:
    write(tmp_path / "smokejumper.toml", "[api]\nport = 0\n")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "api.port" in result.output
