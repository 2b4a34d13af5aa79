"""`[memory.<application>]`: mistakes are named, and a password never ends up quoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokejumper.config import ConfigError, load_settings


def load(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "smokejumper.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_a_configured_application(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PW", "hunter2-secret")
    path = tmp_path / "smokejumper.toml"
    path.write_text(
        '[memory.support-bot]\nurl = "redis://cache:6379/2"\npassword = "env:REDIS_PW"\n'
        'key_patterns = ["message_store:{session}", "llmcache:{{tenant}}:{user}:*"]\n'
    )
    settings = load_settings(path, data_dir=tmp_path)
    memory = settings.memory["support-bot"]
    assert memory.provider == "redis" and memory.key_patterns[1] == "llmcache:{{tenant}}:{user}:*"
    assert memory.password is not None and "hunter2-secret" in settings.secret_values()
    assert "hunter2-secret" not in repr(settings)


def test_mistakes_are_named(tmp_path: Path) -> None:
    base = '[memory.bot]\nurl = "redis://cache:6379/2"\n'
    assert "names no conversation" in load(tmp_path, base + 'key_patterns = ["llmcache:*"]\n')
    assert "unknown placeholder 'tenant'" in load(
        tmp_path, base + 'key_patterns = ["chat:{tenant}"]\n'
    )
    assert "memory.bot.key_patterns" in load(tmp_path, base + "key_patterns = []\n")
    assert "needs the URL" in load(tmp_path, '[memory.bot]\nkey_patterns = ["m:{session}"]\n')


def test_a_password_in_the_url_is_refused_without_quoting_it(tmp_path: Path) -> None:
    message = load(
        tmp_path,
        '[memory.bot]\nurl = "redis://:hunter2-secret@cache:6379/2"\n'
        'key_patterns = ["m:{session}"]\n',
    )
    assert "may not carry credentials" in message
    assert "hunter2-secret" not in message


def test_a_literal_password_is_refused(tmp_path: Path) -> None:
    message = load(
        tmp_path,
        '[memory.bot]\nurl = "redis://cache:6379/2"\npassword = "hunter2-secret"\n'
        'key_patterns = ["m:{session}"]\n',
    )
    assert "memory.bot.password: a secret may not be written" in message
    assert "hunter2-secret" not in message
