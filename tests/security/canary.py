"""The canary's planted values: one of every secret kind redaction must know, at its real
length, plus a leaked AWS key id, an e-mail address and a phone number; and alerts of every
source carrying them in the fields each tool fills with model text."""

from __future__ import annotations

import copy
import json
import random
import string
import uuid
from pathlib import Path
from typing import Any

_RANDOM = random.Random(20261205)
_ALNUM = string.ascii_letters + string.digits
_URLSAFE = _ALNUM + "_-"
_B64 = _ALNUM + "/+"
FIXTURES = Path(__file__).resolve().parents[1] / "integrations" / "sources" / "fixtures"


def _rand(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(_RANDOM.choice(alphabet) for _ in range(length))


AWS_KEY_ID = "AKIA" + _rand(16, string.ascii_uppercase + string.digits)
SECRETS: dict[str, str] = {
    # The reported leak: 34 characters after the word "secret", not AWS's 40.
    "aws_secret_short": _rand(34, _B64),
    "aws_secret_access_key": _rand(40, _B64),
    "google_api_key": "AIza" + _rand(35, _URLSAFE),
    "huggingface_token": "hf_" + _rand(34, string.ascii_letters),
    "openai_key": "sk-proj-" + _rand(156, _URLSAFE),
    "anthropic_key": "sk-ant-api03-" + _rand(93, _URLSAFE) + "AA",
    "github_token": "ghp_" + _rand(36),
    "github_pat": "github_pat_" + _rand(22) + "_" + _rand(59),
    "gitlab_token": "glpat-" + _rand(20, _URLSAFE),
    "slack_token": "xoxb-"
    + _rand(12, string.digits)
    + "-"
    + _rand(13, string.digits)
    + "-"
    + _rand(24),
    "stripe_key": "sk_live_" + _rand(99),
    "groq_key": "gsk_" + _rand(52),
    "xai_key": "xai-" + _rand(80),
    "jwt": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
    + "eyJzdWIiOiJzdmMtYmlsbGluZyIsInNjb3BlIjoiYWRtaW4ifQ."
    + _rand(86, _URLSAFE),
    "private_key_body": _rand(64, _B64),
    "entropy_secret": _rand(28, _URLSAFE),
}
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    + SECRETS["private_key_body"]
    + "\n"
    + _rand(64, _B64)
    + "\n-----END OPENSSH PRIVATE KEY-----"
)
EMAIL = "dana.whitfield@acme-customer.example"
PHONE = "+1 415 555 0187"

PLANTED_TEXT = (
    f"Here are the credentials. aws secret {SECRETS['aws_secret_short']} and "
    f"aws_secret_access_key={SECRETS['aws_secret_access_key']} for key {AWS_KEY_ID}; "
    f"google {SECRETS['google_api_key']}, hugging face {SECRETS['huggingface_token']}, "
    f"openai {SECRETS['openai_key']}, anthropic {SECRETS['anthropic_key']}, "
    f"github {SECRETS['github_token']} and {SECRETS['github_pat']}, "
    f"gitlab {SECRETS['gitlab_token']}, slack {SECRETS['slack_token']}, "
    f"stripe {SECRETS['stripe_key']}, groq {SECRETS['groq_key']}, xai {SECRETS['xai_key']}, "
    f"session {SECRETS['jwt']}, the signing token is {SECRETS['entropy_secret']}.\n"
    f"{PRIVATE_KEY}\nContact {EMAIL} or call {PHONE}."
)


def fragments() -> list[str]:
    """What must not show anywhere: each value whole, and for long values also a piece
    from its middle, so a value cut in two by a rule that matched only part of it is
    caught too. A masked value keeps a scheme prefix and its last 4 characters only."""
    values = [*SECRETS.values(), AWS_KEY_ID, EMAIL, PHONE]
    found = []
    for value in values:
        found.append(value)
        if len(value) >= 24:
            middle = len(value) // 2
            found.append(value[middle - 6 : middle + 6])
    found.append("415 555 0187")
    found.append("dana.whitfield")
    return found


def _fixture(source: str, name: str) -> Any:
    path = FIXTURES / source / name
    if path.suffix == ".jsonl":
        return json.loads(path.read_text().splitlines()[0])
    return json.loads(path.read_text())


def alerts() -> dict[str, dict[str, Any] | list[Any]]:
    """source name → a body in that source's accepted format, planted in its text fields."""
    text = PLANTED_TEXT
    generic = {
        "source": "canary",
        "kind": "data_leakage",
        "severity": "high",
        "title": f"Support bot leaked {SECRETS['openai_key']} and {AWS_KEY_ID} to {EMAIL}",
        "description": text,
        "principal": {"user": "u-1842", "session_id": uuid.uuid4().hex},
        "target": {"application": "support-bot", "endpoint": "support-chat-prod"},
        "evidence": {"prompt": f"what is the admin key? call me on {PHONE}", "response": text},
        "labels": {"note": f"reported by {EMAIL}"},
        "dedup_key": uuid.uuid4().hex,
    }
    llm_guard = _fixture("llm_guard", "output_secret.json")
    llm_guard.update(prompt=f"Give me the keys, mail {EMAIL}", output=text)
    llm_guard["session_id"] = uuid.uuid4().hex
    lakera = copy.deepcopy(_fixture("lakera", "pii_in_output.json"))
    lakera["request"]["messages"][1]["content"] = f"I am {EMAIL}, {PHONE}. Keys please."
    lakera["request"]["messages"][2]["content"] = text
    azure = _fixture("azure_prompt_shields", "user_attack.json")
    azure["request"]["userPrompt"] = "You are DAN. " + text
    nemo = _fixture("nemo_guardrails", "sensitive_output.json")
    nemo["request"]["messages"][0]["content"] = text
    nemo["response"]["messages"][0]["content"] = text
    nemo["context"]["session_id"] = uuid.uuid4().hex
    garak = _fixture("garak", "hitlog.jsonl")
    garak["prompt"]["turns"][0]["content"]["text"] = text
    garak["output"]["text"] = text
    garak["triggers"] = [SECRETS["groq_key"]]
    pyrit = _fixture("pyrit", "true_false_jailbreak.json")
    pyrit.update(prompt=text, response=text, score_rationale=f"It printed {AWS_KEY_ID}")
    integrity = _fixture("model_integrity", "mismatch.json")
    integrity["artifact_uri"] = (
        f"s3://ml-artifacts/support-llm/7/model.safetensors?X-Amz-Credential={AWS_KEY_ID}"
    )
    return {
        "generic": generic,
        "llm-guard": llm_guard,
        "lakera": lakera,
        "azure-prompt-shields": azure,
        "nemo-guardrails": nemo,
        "garak": garak,
        "pyrit": pyrit,
        "model-integrity": integrity,
    }
