"""The provider settings as an operator writes them in smokejumper.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from smokejumper.config import ConfigError, load_settings

TOML = """
[containment.openai]
api_key = "env:OPENAI_ADMIN_KEY"

[containment.litellm]
base_url = "https://litellm.internal:4000"
api_key = "env:LITELLM_MASTER_KEY"

[containment.litellm.model_api_key_env]
support-chat = "AZURE_API_KEY"

[containment.vault]
address = "https://vault.internal:8200"
token = "file:{token_file}"

[containment.kubernetes]
host = "https://k8s.internal:6443"
token = "env:K8S_TOKEN"
mode = "scale"

[containment.kubernetes.endpoints.support-chat]
namespace = "llm"
deployment = "support-chat-vllm"
mode = "network_policy"

[containment.sagemaker]
maintenance_config = "llm-maintenance"
maintenance_configs = {{ support-chat = "support-chat-v2" }}
"""


def test_the_documented_provider_settings_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "vault-token"
    token_file.write_text("hvs.vault-token\n")
    config = tmp_path / "smokejumper.toml"
    config.write_text(TOML.format(token_file=token_file))
    for name in ("OPENAI_ADMIN_KEY", "LITELLM_MASTER_KEY", "K8S_TOKEN"):
        monkeypatch.setenv(name, f"{name.lower()}-value")

    containment = load_settings(config).containment

    assert containment.openai.api_key is not None
    assert containment.openai.api_key.get_secret_value() == "openai_admin_key-value"
    assert containment.vault.token is not None
    assert containment.vault.token.get_secret_value() == "hvs.vault-token"
    assert containment.litellm.model_api_key_env == {"support-chat": "AZURE_API_KEY"}
    assert containment.kubernetes.endpoints["support-chat"].mode == "network_policy"
    assert containment.sagemaker.maintenance_configs == {"support-chat": "support-chat-v2"}


def test_a_provider_credential_written_in_the_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "smokejumper.toml"
    config.write_text('[containment.vault]\ntoken = "hvs.literal-token-value"\n')

    with pytest.raises(ConfigError) as refused:
        load_settings(config)

    assert "containment.vault.token" in str(refused.value)
    assert "hvs.literal-token-value" not in str(refused.value)


def test_an_unknown_isolation_mode_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, containment={"kubernetes": {"mode": "delete"}})
    assert "containment.kubernetes.mode" in str(refused.value)
