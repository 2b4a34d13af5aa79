"""`log_format = "json"`: one JSON object a line, masked exactly like the text format."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from smokejumper.logs import MASK, configure_logging

CONFIGURED = "tcld-abcdef-123456"
LEAKED = "sk-proj-" + "Zq3xW9vB7nM2kL5jH8gF4dS1aP6oI0uY"


def lines(err: str) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in err.splitlines()]
    assert all(isinstance(entry, dict) for entry in parsed)
    return parsed


def test_each_line_is_a_json_object_with_secrets_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", [CONFIGURED], process="worker", log_format="json")
    log = logging.getLogger("smokejumper.test")
    log.info("connecting with %s\nand a second line", CONFIGURED)
    try:
        raise RuntimeError(f"provider refused to revoke {LEAKED} ({CONFIGURED})")
    except RuntimeError:
        log.exception("revoke of %s failed", "key-1")
    log.debug("below the level: not written")

    info, error = lines(capsys.readouterr().err)
    assert info["level"] == "INFO"
    assert info["logger"] == "smokejumper.test"
    assert info["process"] == "worker"
    assert info["message"] == f"connecting with {MASK}\nand a second line"
    assert info["time"].endswith("+00:00")
    assert "exception" not in info and "trace_id" not in info

    assert error["level"] == "ERROR"
    assert error["message"] == "revoke of key-1 failed"
    assert error["exception"].startswith("Traceback (most recent call last)")
    assert f"RuntimeError: provider refused to revoke {MASK} ({MASK})" in error["exception"]
    whole = json.dumps([info, error])
    assert CONFIGURED not in whole and LEAKED not in whole


def test_a_line_logged_in_a_span_names_its_trace(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", [], log_format="json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("revoke") as span:
        logging.getLogger("smokejumper.test").warning("inside")
    context = span.get_span_context()
    (entry,) = lines(capsys.readouterr().err)
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"
    assert "process" not in entry


def test_the_text_format_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", [CONFIGURED], process="api")
    logging.getLogger("smokejumper.test").warning("key %s", CONFIGURED)
    err = capsys.readouterr().err
    assert err.rstrip().endswith(f" api WARNING smokejumper.test: key {MASK}")
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)
