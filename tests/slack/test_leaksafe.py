"""What reaches Slack: masked keys and personal data, escaped text, operator templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.slack.emulator import Recorded
from integrations.slack.leaksafe import mask
from integrations.slack.templates import Raw, Renderer, TemplateProblem
from tests.slack.planted import AWS_KEY_ID, CARD, EMAIL, OPENAI_KEY, PHONE, leaks


def test_keys_keep_prefix_and_last_four_and_personal_data_is_masked() -> None:
    text = mask(f"key {OPENAI_KEY} id {AWS_KEY_ID} from {EMAIL} at {PHONE} card {CARD}")
    assert text == (
        "key sk-proj-…5uQi id AKIA…B2TY from j…@….com at (phone …42) card [REDACTED:card]"
    )


def test_short_secrets_show_no_tail() -> None:
    assert mask("password=hunter2") == "password=[key]"
    assert "hunter2" not in mask("api_key: hunter2")


def test_every_value_in_a_template_is_masked_and_escaped() -> None:
    message = Renderer().render(
        "reply", text=f'<!channel> "{OPENAI_KEY}" & {EMAIL}', mentions=Raw("<@U1>")
    )
    text = message["blocks"][0]["text"]["text"]
    assert text == '&lt;!channel&gt; "sk-proj-…5uQi" &amp; j…@….com <@U1>'
    assert OPENAI_KEY not in json.dumps(message)


def test_truncation_never_cuts_a_secret_in_half() -> None:
    # Cut first, masked after, the start of the key would no longer look like a key.
    long = "x" * 2890 + " " + OPENAI_KEY
    message = Renderer().render("reply", text=long, mentions="")
    assert OPENAI_KEY[:12] not in message["text"]


def test_operator_templates_replace_built_in_ones(tmp_path: Path) -> None:
    (tmp_path / "reply.json.j2").write_text(
        '{"text": "ours: {{ text }}", "blocks": [{"type": "section", '
        '"text": {"type": "mrkdwn", "text": "{{ text }}"}}]}'
    )
    renderer = Renderer(tmp_path)
    assert renderer.render("reply", text=EMAIL, mentions="")["text"] == "ours: j…@….com"
    # The others are still the built-in ones.
    assert renderer.render("incident_list", incidents=[])["text"] == "0 open incident(s)"


def test_a_broken_operator_template_is_named(tmp_path: Path) -> None:
    (tmp_path / "reply.json.j2").write_text('{"text": {{ text }}}')
    with pytest.raises(TemplateProblem, match=r"reply\.json\.j2 did not render valid JSON"):
        Renderer(tmp_path).render("reply", text="plain words", mentions="")


def test_the_leak_scan_finds_a_planted_secret_even_form_encoded() -> None:
    clean = Recorded("chat.postMessage", {}, 200, 0.0, '{"text": "sk-proj-…5uQi"}&')
    encoded = Recorded(
        "conversations.setTopic", {}, 200, 0.0, "topic=jane.doe%40customer-example.com&"
    )
    assert leaks([clean.to_json()]) == []
    assert leaks([clean.to_json(), encoded.to_json()]) == [("conversations.setTopic", "jane.d")]
