"""Poller configuration: kinds, defaults, unique names, secrets, and unknown sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokejumper.config import ConfigError, load_settings
from smokejumper.settings.pollers import (
    HttpPollerSettings,
    JsonlPollerSettings,
    ModelIntegrityPollerSettings,
)
from smokejumper.store.db import Store
from tests.conftest import TEST_AUDIT_SEAL
from workers.scheduler import Scheduler


def load(tmp_path: Path, toml: str) -> object:
    (tmp_path / "smokejumper.toml").write_text(toml, encoding="utf-8")
    return load_settings()


def test_each_kind_is_read_with_its_defaults(tmp_path: Path) -> None:
    (tmp_path / "feed.token").write_text("s3cret-feed-token\n")
    settings = load_settings(
        None,
        pollers=[
            {"kind": "jsonl", "name": "guard", "source": "llm_guard", "path": "/var/log/*.jsonl"},
            {
                "kind": "http",
                "name": "lakera-feed",
                "source": "lakera",
                "url": "https://feed.example/v1/events",
                "token": f"file:{tmp_path / 'feed.token'}",
            },
            {"kind": "model-integrity", "name": "integrity"},
        ],
    )
    jsonl, http, integrity = settings.pollers
    assert isinstance(jsonl, JsonlPollerSettings)
    assert jsonl.interval_seconds == 10
    assert isinstance(http, HttpPollerSettings)
    assert (http.interval_seconds, http.cursor_param, http.items_field, http.cursor_field) == (
        30,
        "cursor",
        "items",
        "next_cursor",
    )
    assert http.timeout_seconds == 10
    assert http.token is not None and http.token.get_secret_value() == "s3cret-feed-token"
    assert "s3cret-feed-token" in settings.secret_values()
    assert isinstance(integrity, ModelIntegrityPollerSettings)
    assert (integrity.interval_seconds, integrity.source) == (3600, "model-integrity")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[pollers]]\nkind = "jsonl"\nname = "dup"\nsource = "generic"\npath = "a"\n'
            '[[pollers]]\nkind = "model-integrity"\nname = "dup"\n',
            "pollers.1.name: 'dup' is already the name of pollers.0",
        ),
        (
            '[[pollers]]\nkind = "ftp"\nname = "x"\n',
            "pollers.0: Input tag 'ftp' found using 'kind' does not match any of the expected "
            "tags: 'jsonl', 'http', 'model-integrity'",
        ),
        (
            '[[pollers]]\nname = "x"\n',
            "pollers.0: Unable to extract tag using discriminator 'kind'",
        ),
        (
            '[[pollers]]\nkind = "jsonl"\nname = "Bad Name"\nsource = "generic"\npath = "a"\n',
            "pollers.0.jsonl.name: String should match pattern",
        ),
        (
            '[[pollers]]\nkind = "http"\nname = "x"\nsource = "generic"\nurl = "ftp://x"\n',
            "pollers.0.http.url: String should match pattern",
        ),
        (
            '[[pollers]]\nkind = "jsonl"\nname = "x"\nsource = "generic"\npath = "a"\nevery = 1\n',
            "pollers.0.jsonl.every: Extra inputs are not permitted",
        ),
        (
            '[[pollers]]\nkind = "http"\nname = "x"\nsource = "generic"\nurl = "http://x"\n'
            'token = "literal"\n',
            "pollers.0.token: a secret may not be written in the config file; "
            "write 'file:/path/to/secret' or 'env:VARIABLE'",
        ),
    ],
)
def test_invalid_pollers_name_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, toml)
    assert expected in str(caught.value)
    assert "literal" not in str(caught.value)


def test_a_source_without_a_normalizer_fails_the_scheduler_naming_the_key(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = load_settings(
        None,
        sources={"guard": {"format": "no-such-format", "token": "guard-token-0123456789"}},
        pollers=[
            {"kind": "jsonl", "name": "ok", "source": "generic", "path": "a"},
            {"kind": "jsonl", "name": "bad", "source": "guard", "path": "b"},
        ],
    )
    store = Store(sqlite_url, audit=TEST_AUDIT_SEAL)
    try:
        with pytest.raises(ConfigError, match=r"pollers\.1\.source: no source or format named "):
            Scheduler(settings, store)
    finally:
        store.dispose()
