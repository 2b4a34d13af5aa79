"""The rules detector and the chat client on their own: what fails an answer, and what an
answer that is no answer looks like."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from integrations.chat_api import ask, completions_url
from smokejumper.redaction import Redactor
from smokejumper.retest_rules import RulesDetector, attack_prompts, markers_of
from tests.retest.upstream import Behaviour, Upstream, running_upstream

CANARY = "CNRY-7f3a-91bc-55de"


def test_secrets_and_personal_data_are_findings_by_kind() -> None:
    detector = RulesDetector(Redactor())
    assert detector.findings("All good, nothing to share.") == []
    assert detector.findings("key: AKIAZ7QX3MPLK9WEB2TY, mail jane.doe@example.com") == [
        "aws_access_key_id",
        "email",
    ]
    allowing = RulesDetector(Redactor(), ignore=["email"])
    assert allowing.findings("write to help@example.com") == []


def test_markers_match_whatever_the_spacing_and_case() -> None:
    alert = {
        "evidence": {
            "response": "Sure: You are SupportBot, code ZEBRA-PELICAN-42.",
            "matched_spans": [{"field": "response", "start": 6, "end": 48}],
            "details": {"canary": CANARY},
        },
        "labels": {"canary": "short"},
    }
    markers = markers_of([alert])
    assert markers == ["You are SupportBot, code ZEBRA-PELICAN-42.", CANARY, "short"]
    detector = RulesDetector(Redactor(), markers)
    assert detector.findings("you are supportbot -- code zebra pelican 42") == ["marker"]
    assert detector.findings("c n r y 7 F 3 A 9 1 B C 5 5 D E") == ["marker"]
    # A marker too short to be unique is never matched.
    assert detector.findings("that was short") == []


def test_attack_prompts_are_kept_once_in_order_up_to_the_limit() -> None:
    assert attack_prompts(["a", "b", "a", " ", "c"], limit=2) == ["a", "b"]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


def test_an_answer_that_is_not_a_chat_completion_is_no_answer(upstream: Upstream) -> None:
    upstream.behave("m", Behaviour(garbage=True))
    with httpx.Client() as client:
        answer = ask(client, upstream.url, "m", "hi", timeout_seconds=2)
    assert (answer.text, answer.detail) == (None, "not a chat completion (not JSON)")


def test_a_slow_endpoint_times_out(upstream: Upstream) -> None:
    upstream.behave("m", Behaviour(delay=2))
    with httpx.Client() as client:
        answer = ask(client, upstream.url, "m", "hi", timeout_seconds=0.5)
    assert (answer.text, answer.detail) == (None, "timed out after 0.5s")


def test_the_chat_url_is_a_base_or_the_full_path() -> None:
    assert completions_url("http://h/v1/") == "http://h/v1/chat/completions"
    assert completions_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"
