"""Per-source context defaults in configuration, and how context layers merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokejumper.config import ConfigError, load_settings
from smokejumper.domain.source_context import ContextError, SourceContext, from_query


def test_source_defaults_from_a_config_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "smokejumper.toml"
    config.write_text(
        "[sources.garak]\n"
        "[sources.garak.context]\n"
        'application = "red-team-lab"\n'
        'principal = "garak-ci"\n'
        'document = "doc-7"\n'
        'label.env = "lab"\n'
    )
    # Environment variables reach it as they reach any setting (a dash cannot be in one).
    monkeypatch.setenv("SMOKEJUMPER_SOURCES__GARAK__CONTEXT__MODEL", "support-llm")
    settings = load_settings(config)
    context = settings.source_context("garak")
    assert (context.application, context.user, context.model) == (
        "red-team-lab",
        "garak-ci",
        "support-llm",
    )
    assert context.document == ["doc-7"]
    assert context.label == {"env": "lab"}
    assert not settings.source_context("unconfigured")

    config.write_text('[sources.garak.context]\nendpoint = ""\nwhatever = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert "sources.garak.context.endpoint" in str(caught.value)
    assert "sources.garak.context.whatever" in str(caught.value)


def test_query_overrides_defaults_field_by_field_and_label_by_label() -> None:
    defaults = SourceContext(application="a", user="u", label={"env": "lab", "team": "red"})
    query = from_query([("application", "b"), ("label.env", "prod"), ("document", "d-1")])
    merged = query.over(defaults)
    assert (merged.application, merged.user, merged.document) == ("b", "u", ["d-1"])
    assert merged.label == {"env": "prod", "team": "red"}
    assert merged.labels() == {"env": "prod", "team": "red", "document_id": "d-1"}


def test_every_bad_parameter_is_named_at_once() -> None:
    with pytest.raises(ContextError) as caught:
        from_query([("model", ""), ("nope", "x"), ("session", "s"), ("session", "t")])
    assert [e["field"] for e in caught.value.errors] == [
        "query.model",
        "query.nope",
        "query.session",
    ]
