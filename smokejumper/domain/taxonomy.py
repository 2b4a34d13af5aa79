"""OWASP Top 10 for LLM Applications (2025) and MITRE ATLAS identifiers, with their names.

ATLAS technique names were renamed in 2025, so alerts and playbooks store only ids; the
names here are for display (reports, cards) and may lag the framework. An id that is valid
but not listed here is displayed as the bare id.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

OWASP_LLM_2025: dict[str, str] = {
    "LLM01": "Prompt Injection",
    "LLM02": "Sensitive Information Disclosure",
    "LLM03": "Supply Chain",
    "LLM04": "Data and Model Poisoning",
    "LLM05": "Improper Output Handling",
    "LLM06": "Excessive Agency",
    "LLM07": "System Prompt Leakage",
    "LLM08": "Vector and Embedding Weaknesses",
    "LLM09": "Misinformation",
    "LLM10": "Unbounded Consumption",
}

OWASP_EDITION = "2025"

# The techniques the built-in playbooks and the alert sources name. A sub-technique's name
# is its own; `atlas_label` prefixes it with its parent's, as ATLAS displays it.
ATLAS_TECHNIQUES: dict[str, str] = {
    "AML.T0010": "AI Supply Chain Compromise",
    "AML.T0010.003": "Model",
    "AML.T0018": "Manipulate AI Model",
    "AML.T0018.000": "Poison AI Model",
    "AML.T0018.001": "Modify AI Model Architecture",
    "AML.T0020": "Poison Training Data",
    "AML.T0024": "Exfiltration via AI Inference API",
    "AML.T0024.000": "Infer Training Data Membership",
    "AML.T0024.001": "Invert AI Model",
    "AML.T0024.002": "Extract AI Model",
    "AML.T0029": "Denial of AI Service",
    "AML.T0034": "Cost Harvesting",
    "AML.T0040": "AI Model Inference API Access",
    "AML.T0051": "LLM Prompt Injection",
    "AML.T0051.000": "Direct",
    "AML.T0051.001": "Indirect",
    "AML.T0051.002": "Triggered",
    "AML.T0053": "AI Agent Tool Invocation",
    "AML.T0054": "LLM Jailbreak",
    "AML.T0056": "Extract LLM System Prompt",
    "AML.T0057": "LLM Data Leakage",
    "AML.T0070": "RAG Poisoning",
    "AML.T0058": "Publish Poisoned Models",
    "AML.T0086": "Exfiltration via AI Agent Tool Invocation",
}

_ATLAS_ID = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")


def _owasp_id(value: str) -> str:
    upper = value.strip().upper()
    if upper not in OWASP_LLM_2025:
        raise ValueError(f"{value!r} is not an OWASP LLM Top 10 2025 id (LLM01..LLM10)")
    return upper


def _atlas_id(value: str) -> str:
    if not _ATLAS_ID.match(value.strip()):
        raise ValueError(f"{value!r} is not a MITRE ATLAS technique id like AML.T0051.000")
    return value.strip()


OwaspId = Annotated[str, AfterValidator(_owasp_id)]
AtlasId = Annotated[str, AfterValidator(_atlas_id)]


def owasp_label(value: str) -> str:
    """`LLM01:2025 Prompt Injection`; raises ValueError for an id outside the list."""
    owasp = _owasp_id(value)
    return f"{owasp}:{OWASP_EDITION} {OWASP_LLM_2025[owasp]}"


def atlas_name(value: str) -> str | None:
    """The display name (`LLM Prompt Injection: Indirect`), None for an unlisted id."""
    technique = _atlas_id(value)
    name = ATLAS_TECHNIQUES.get(technique)
    if name is None:
        return None
    parent = technique[: len("AML.T0000")]
    if parent != technique and parent in ATLAS_TECHNIQUES:
        return f"{ATLAS_TECHNIQUES[parent]}: {name}"
    return name


def atlas_label(value: str) -> str:
    """`AML.T0051.001 LLM Prompt Injection: Indirect`, or the bare id when it is unlisted."""
    technique = _atlas_id(value)
    name = atlas_name(technique)
    return f"{technique} {name}" if name else technique


# What an alert of each kind is, when its source names no ids: an incident is then still
# filed under the framework entries a responder and a report expect. Red-team findings
# and "other" describe anything, so they get none.
KIND_TAXONOMY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "data_leakage": (("LLM02",), ("AML.T0057",)),
    "prompt_injection": (("LLM01",), ("AML.T0051",)),
    "jailbreak": (("LLM01",), ("AML.T0054",)),
    "model_compromise": (("LLM03", "LLM04"), ("AML.T0010", "AML.T0018")),
    "model_extraction": (("LLM10",), ("AML.T0024.002",)),
    "unbounded_consumption": (("LLM10",), ("AML.T0029", "AML.T0034")),
}


def taxonomy_of(kind: str, owasp: list[str], atlas: list[str]) -> tuple[list[str], list[str]]:
    """The ids an alert names; for a framework it names none of, its kind's."""
    default_owasp, default_atlas = KIND_TAXONOMY.get(kind, ((), ()))
    return list(owasp) or list(default_owasp), list(atlas) or list(default_atlas)
