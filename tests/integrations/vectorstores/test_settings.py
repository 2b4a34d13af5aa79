"""`[vectorstores.<application>]`: mistakes are named, a token is given by reference and
never quoted, and the environment can configure an application."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokejumper.config import ConfigError, load_settings


def refused(tmp_path: Path, toml: str) -> str:
    path = tmp_path / "smokejumper.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_a_configured_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMA_TOKEN", "ck-very-secret-token")
    path = tmp_path / "smokejumper.toml"
    path.write_text(
        '[vectorstores.support-bot]\nurl = "http://chroma:8000"\ntoken = "env:CHROMA_TOKEN"\n'
        'collection = "support-kb"\nsimilarity_threshold = 0.9\n'
    )
    settings = load_settings(path, data_dir=tmp_path)
    index = settings.vectorstores["support-bot"]
    assert (index.provider, index.collection, index.quarantine) == (
        "chroma",
        "support-kb",
        "support-kb-quarantine",
    )
    assert index.similarity_threshold == 0.9 and index.quarantine_whole_source is True
    assert "ck-very-secret-token" in settings.secret_values()
    assert "ck-very-secret-token" not in repr(settings)


def test_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKEJUMPER_VECTORSTORES__KB__PROVIDER", "local")
    monkeypatch.setenv("SMOKEJUMPER_VECTORSTORES__KB__COLLECTION", "docs-index")
    settings = load_settings(data_dir=tmp_path)
    assert settings.vectorstores["kb"].provider == "local"
    assert settings.local_vectorstore_file == tmp_path / "vectorstore.json"


def test_mistakes_are_named(tmp_path: Path) -> None:
    assert "needs the URL of the Chroma server" in refused(
        tmp_path, '[vectorstores.bot]\ncollection = "kb-1"\n'
    )
    message = refused(
        tmp_path,
        '[vectorstores.bot]\nurl = "http://admin:pw-in-url@chroma:8000"\ncollection = "kb-1"\n',
    )
    assert "may not carry credentials" in message and "pw-in-url" not in message
    assert "must differ from collection" in refused(
        tmp_path,
        '[vectorstores.bot]\nprovider = "local"\ncollection = "kb-1"\n'
        'quarantine_collection = "kb-1"\n',
    )
    assert "vectorstores.bot.collection" in refused(
        tmp_path, '[vectorstores.bot]\nprovider = "local"\ncollection = "-x"\n'
    )
    assert "vectorstores.bot.similarity_threshold" in refused(
        tmp_path,
        '[vectorstores.bot]\nprovider = "local"\ncollection = "kb-1"\nsimilarity_threshold = 0\n',
    )
    assert "vectorstores.bot.provider" in refused(
        tmp_path, '[vectorstores.bot]\nprovider = "pinecone"\ncollection = "kb-1"\n'
    )
