"""Configured secrets and credential-shaped strings never reach a log line."""

from __future__ import annotations

import logging

import pytest

from smokejumper.config import load_settings
from smokejumper.logs import MASK, configure_logging


def test_configured_secret_and_token_shapes_are_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setenv("SMOKEJUMPER_TEMPORAL__API_KEY", "tcld-abcdef-123456")
    settings = load_settings()
    configure_logging("INFO", settings.secret_values(), process="test")
    log = logging.getLogger("smokejumper.test")
    log.info("connecting with key %s", "tcld-abcdef-123456")
    log.warning("slack said no to xoxb-1234567890-abcdefghij and AKIAABCDEFGHIJKLMNOP")
    log.error("header was Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
    err = capsys.readouterr().err
    assert "tcld-abcdef-123456" not in err
    assert "xoxb-1234567890" not in err
    assert "AKIAABCDEFGHIJKLMNOP" not in err
    assert "eyJhbGciOiJIUzI1NiJ9" not in err
    assert err.count(MASK) == 4
    assert "Bearer " + MASK in err


def test_provider_key_shapes_are_masked_in_any_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("INFO", [], process="test")
    groq = "gsk_" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kL9nP2rS5uX8aD1g"
    google = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiC1"
    logging.getLogger("smokejumper.test").warning(
        "provider refused %s and %s; aws secret %s; commit %s",
        groq,
        google,
        secret,
        "3f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49",
    )
    err = capsys.readouterr().err
    for value in (groq, google, secret):
        assert value not in err
    assert err.count(MASK) == 3
    # Digests are not secrets: a log line keeps them.
    assert "3f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49" in err


def test_tracebacks_are_masked_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A provider error naming the leaked key it failed on reaches the log as a traceback
    (an activity failing, a retry): the key is masked there as in the message."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("INFO", ["tcld-abcdef-123456"], process="test")
    log = logging.getLogger("smokejumper.test")
    try:
        raise RuntimeError(
            "aws_iam refused to deactivate AKIAQWERTYUIOPASDFGH (tcld-abcdef-123456)"
        )
    except RuntimeError:
        log.exception("revoke failed")
    log.warning("where it was", stack_info=True)
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "RuntimeError: aws_iam refused to deactivate " + MASK in err
    assert "AKIAQWERTYUIOPASDFGH" not in err
    assert "tcld-abcdef-123456" not in err
