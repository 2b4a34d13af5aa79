"""OWASP Top 10 for LLM Applications (2025) and MITRE ATLAS identifiers.

ATLAS technique names were renamed in 2025, so only ids are stored; names here are for
display and may lag the framework.
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
