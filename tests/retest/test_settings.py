"""The retest's settings and the inventory's chat URLs: what an operator writes, and what
is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from smokejumper.config import ConfigError, load_settings
from smokejumper.inventory.importer import import_inventory
from smokejumper.inventory.schema import InventoryError, load_inventory
from smokejumper.store.db import Store
from smokejumper.store.tables import InventoryEndpoint
from tests.inventory.helpers import example_data
from workers.worker import activity_names


def test_the_key_is_a_reference_and_the_probes_are_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "smokejumper.toml"
    config.write_text('[retest]\napi_key = "sk-literal-key-in-the-file"\n')
    with pytest.raises(ConfigError, match=r"retest\.api_key: a secret may not be written"):
        load_settings(config)

    config.write_text(
        '[retest]\napi_key = "env:RETEST_KEY"\n[[retest.probes]]\nname = "hi"\nprompt = "Hello"\n'
    )
    monkeypatch.setenv("RETEST_KEY", "sk-from-the-environment")
    monkeypatch.setenv("SMOKEJUMPER_RETEST__TIMEOUT_SECONDS", "7")
    settings = load_settings(config)
    assert settings.retest.api_key is not None
    assert settings.retest.api_key.get_secret_value() == "sk-from-the-environment"
    assert [(p.name, p.prompt) for p in settings.retest.probes] == [("hi", "Hello")]
    assert settings.retest.timeout_seconds == 7

    monkeypatch.setenv("SMOKEJUMPER_RETEST__TIMEOUT_SECONDS", "0")
    with pytest.raises(ConfigError, match=r"retest\.timeout_seconds"):
        load_settings(config)
    # Every prompt at its slowest must fit in the activity's own timeout.
    monkeypatch.setenv("SMOKEJUMPER_RETEST__TIMEOUT_SECONDS", "120")
    with pytest.raises(ConfigError, match="11 prompts of up to 120s each"):
        load_settings(config)


def test_the_inventory_keeps_each_endpoints_chat_api(sqlite_store: Store) -> None:
    data = example_data()
    data["endpoints"][0] |= {"chat_url": "http://llm.internal:4000/v1", "chat_model": "support"}
    import_inventory(sqlite_store, load_inventory(data))
    with sqlite_store.session() as session:
        rows = {
            r.name: (r.chat_url, r.chat_model) for r in session.scalars(select(InventoryEndpoint))
        }
    assert rows == {
        "support-bot-prod": ("http://llm.internal:4000/v1", "support"),
        "support-bot-staging": (None, None),
    }
    data["endpoints"][0]["chat_url"] = "file:///etc/passwd"
    with pytest.raises(InventoryError, match="chat_url"):
        load_inventory(data)


def test_every_worker_can_retest() -> None:
    # The gate is in every playbook's restore: the worker must implement it.
    assert "retest_endpoint" in activity_names()
