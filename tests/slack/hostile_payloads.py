"""Slack interaction payloads for property tests: Slack's own shapes (a button click, a deny
modal's submission) with one value anywhere made hostile, deep nesting spliced in, or no
JSON at all. Shared by the in-process property test and the OpenAPI fuzzing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.helpers import json_paths, json_replaced
from tests.slack.conftest import ALICE

SECRET = "the-reason-nobody-may-read-7f3a"


def deny_submission(metadata: Any) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": ALICE},
        "view": {
            "callback_id": "deny_reason",
            "private_metadata": metadata,
            "state": {"values": {"reason": {"reason": {"value": SECRET}}}},
        },
    }


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities included
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=15,
)
DEEP = st.integers(min_value=60, max_value=3_000).map(lambda depth: "[" * depth + "]" * depth)
CLICK: dict[str, Any] = {
    "type": "block_actions",
    "user": {"id": ALICE, "username": "alice"},
    "trigger_id": "1.1.abc",
    "channel": {"id": "C0INCIDENT"},
    "container": {"channel_id": "C0INCIDENT"},
    "actions": [{"action_id": "approve", "value": "INC-2026-0001|isolate"}],
}
META = json.dumps({"ref": "INC-2026-0001", "step": "isolate", "channel": "C0INCIDENT"})


@st.composite
def interaction_payloads(draw: st.DrawFn) -> str:
    """A click or a deny submission with one value anywhere replaced (private_metadata
    included), deep nesting spliced in, or a payload that is not JSON at all."""
    shape = draw(st.sampled_from(["mutated", "metadata", "deep", "text"]))
    if shape == "text":
        return draw(st.text(max_size=60))
    payload = json.loads(json.dumps(draw(st.sampled_from([CLICK, deny_submission(META)]))))
    if shape == "metadata":
        payload["view"] = deny_submission(META)["view"]
        payload["type"] = "view_submission"
        payload["view"]["private_metadata"] = draw(st.text(max_size=40) | JSON.map(json.dumps))
        return json.dumps(payload)
    where = draw(st.sampled_from(json_paths(payload)))
    replacement = "__HERE__" if shape == "deep" else draw(JSON)
    text = json.dumps(json_replaced(payload, where, replacement))  # NaN as Python writes it
    return text.replace('"__HERE__"', draw(DEEP)) if shape == "deep" else text
