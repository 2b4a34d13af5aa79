"""Every source format smokejumper understands, keyed by the name used in
`POST /api/v1/alerts/{source}` and in `[sources.<name>] format = "..."`."""

from __future__ import annotations

from integrations.sources.azure_prompt_shields import AzurePromptShieldsNormalizer
from integrations.sources.base import Normalizer
from integrations.sources.garak import GarakNormalizer
from integrations.sources.generic import GenericNormalizer
from integrations.sources.lakera import LakeraNormalizer
from integrations.sources.llm_guard import LlmGuardNormalizer
from integrations.sources.model_integrity import ModelIntegrityNormalizer
from integrations.sources.nemo_guardrails import NemoGuardrailsNormalizer
from integrations.sources.pyrit import PyritNormalizer

_ALL: tuple[Normalizer, ...] = (
    GenericNormalizer(),
    LlmGuardNormalizer(),
    LakeraNormalizer(),
    AzurePromptShieldsNormalizer(),
    NemoGuardrailsNormalizer(),
    GarakNormalizer(),
    PyritNormalizer(),
    ModelIntegrityNormalizer(),
)

NORMALIZERS: dict[str, Normalizer] = {normalizer.name: normalizer for normalizer in _ALL}


def get_normalizer(name: str) -> Normalizer | None:
    return NORMALIZERS.get(name)
