"""Taxonomy names as reports and cards show them."""

from __future__ import annotations

import pytest

from smokejumper.domain.taxonomy import (
    ATLAS_TECHNIQUES,
    OWASP_LLM_2025,
    atlas_label,
    atlas_name,
    owasp_label,
)


def test_owasp_labels_carry_the_edition_and_name() -> None:
    assert owasp_label("LLM01") == "LLM01:2025 Prompt Injection"
    assert owasp_label(" llm10 ") == "LLM10:2025 Unbounded Consumption"
    assert len(OWASP_LLM_2025) == 10


def test_atlas_sub_techniques_are_shown_under_their_parent() -> None:
    assert atlas_label("AML.T0051.001") == "AML.T0051.001 LLM Prompt Injection: Indirect"
    assert atlas_label("AML.T0051") == "AML.T0051 LLM Prompt Injection"
    assert (
        atlas_label("AML.T0024.002")
        == "AML.T0024.002 Exfiltration via AI Inference API: Extract AI Model"
    )
    assert atlas_name("AML.T0057") == "LLM Data Leakage"


def test_a_valid_but_unlisted_atlas_id_shows_as_the_id() -> None:
    assert atlas_label("AML.T0999.004") == "AML.T0999.004"
    assert atlas_name("AML.T0999") is None


@pytest.mark.parametrize("bad", ["LLM11", "LLM1", ""])
def test_unknown_owasp_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="OWASP LLM Top 10 2025"):
        owasp_label(bad)


def test_malformed_atlas_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="MITRE ATLAS technique id"):
        atlas_label("T0051")


def test_every_listed_sub_technique_has_a_listed_parent() -> None:
    for technique in ATLAS_TECHNIQUES:
        if len(technique) > len("AML.T0000"):
            assert technique[: len("AML.T0000")] in ATLAS_TECHNIQUES, technique
