"""Every setting the artefacts name — SMOKEJUMPER_* variables in Compose and Kubernetes,
the keys of the ConfigMap's smokejumper.toml — is a real setting: loaded through the
engine's own Settings, each one takes effect with the value given."""

from __future__ import annotations

import base64
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from smokejumper.config import CONFIG_ENV, ENV_PREFIX, ConfigError, Settings, load_settings
from tests.deploy import artefacts
from tests.deploy.test_compose import FILLED

SECRETS_MOUNT = "/etc/smokejumper/secrets"


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    return value


def _setting(settings: Settings, path: list[str]) -> Any:
    """The loaded value at a dotted path; an AssertionError naming it when there is none."""
    node: Any = settings
    for index, part in enumerate(path):
        if part not in type(node).model_fields:
            raise AssertionError(f"{'.'.join(path[: index + 1])} is not a setting")
        node = getattr(node, part)
    return node


def assert_variables_take_effect(settings: Settings, env: Mapping[str, str]) -> None:
    for name, raw in env.items():
        if name == CONFIG_ENV:
            continue
        assert name.startswith(ENV_PREFIX), f"{name} is not a smokejumper setting"
        path = name[len(ENV_PREFIX) :].lower().split("__")
        value = _plain(_setting(settings, path))
        assert str(value) == raw, f"{name}={raw!r} did not take effect (got {value!r})"


def _leaves(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[list[str], Any]]:
    found: list[tuple[list[str], Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            found += _leaves(value, (*prefix, key))
        else:
            found.append(([*prefix, key], value))
    return found


def assert_file_takes_effect(settings: Settings, data: Mapping[str, Any]) -> None:
    for path, raw in _leaves(data):
        value = _plain(_setting(settings, path))
        if isinstance(raw, str) and raw.startswith("file:"):
            raw = Path(raw[len("file:") :]).read_text("utf-8").strip()
        assert value == raw, f"{'.'.join(path)}={raw!r} did not take effect (got {value!r})"


# --- Kubernetes ---------------------------------------------------------------------------


def _filled_secret() -> dict[str, str]:
    """The Secret's keys with values of the right shape in place of its placeholders."""
    values = {
        "database-url": "postgresql+psycopg://smokejumper:pw@postgresql.example.internal:5432/sj",
        "operator-token": secrets.token_hex(32),
        "controls-token": secrets.token_hex(32),
        "codec-key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "audit-key": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    assert set(values) == set(artefacts.secret_data())
    return values


def kubernetes_mounts(tmp_path: Path, secret: Mapping[str, str]) -> tuple[Path, Path]:
    """The pod's view, under tmp_path: the Secret's files and the ConfigMap's
    smokejumper.toml, its mount paths moved under tmp_path alike. (config file, root)"""
    root = tmp_path / "pod"
    mounted = root / SECRETS_MOUNT.lstrip("/")
    mounted.mkdir(parents=True)
    for key, value in secret.items():
        (mounted / key).write_text(value + "\n", encoding="utf-8")
    _, key, text = artefacts.configmap_toml()
    config = root / "etc/smokejumper/config" / key
    config.parent.mkdir(parents=True)
    for absolute in (SECRETS_MOUNT, "/var/lib/smokejumper"):
        text = text.replace(absolute, str(root) + absolute)
    config.write_text(text, encoding="utf-8")
    return config, root


def _container_env(secret: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Each workload's environment as the kubelet sets it."""
    found: dict[str, dict[str, str]] = {}
    for workload, spec in artefacts.pod_specs():
        (container,) = spec["containers"]
        env: dict[str, str] = {}
        for variable in container["env"]:
            if "value" in variable:
                env[variable["name"]] = variable["value"]
            else:
                env[variable["name"]] = secret[variable["valueFrom"]["secretKeyRef"]["key"]]
        found[workload] = env
    return found


def test_every_kubernetes_setting_takes_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _filled_secret()
    config, root = kubernetes_mounts(tmp_path, secret)
    data = tomllib.loads(config.read_text("utf-8"))
    for workload, env in _container_env(secret).items():
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # SMOKEJUMPER_CONFIG names the file as mounted in the pod; here it is under root.
        settings = load_settings(str(root) + env[CONFIG_ENV])
        assert_variables_take_effect(settings, env)
        assert_file_takes_effect(settings, data)
        # The credentials every replica must share come from the Secret, not data_dir.
        assert settings.audit_key_file.read_text("utf-8").strip() == secret["audit-key"]
        assert settings.temporal.encryption_key is not None
        assert not settings.temporal.embedded, workload
        assert settings.effective_database_url == secret["database-url"]


def test_the_secret_placeholders_stop_a_process_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    placeholders = artefacts.secret_data()
    assert all("CHANGE-ME" in value for value in placeholders.values())
    config, _ = kubernetes_mounts(tmp_path, placeholders)
    with pytest.raises(ConfigError, match=r"temporal\.encryption_key"):
        load_settings(config)


# --- Compose ------------------------------------------------------------------------------


def test_every_compose_setting_takes_effect(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = artefacts.compose(artefacts.compose_env_example() | FILLED)
    for name, service in artefacts.smokejumper_services(compose).items():
        env = service["environment"]
        with monkeypatch.context() as patch:
            for variable, value in env.items():
                patch.setenv(variable, value)
            settings = load_settings()
        assert_variables_take_effect(settings, env)
        assert settings.temporal.encryption_key is not None, name
        assert settings.api.operator_token is not None, name


def test_a_misnamed_setting_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # One underscore instead of two: pydantic-settings ignores it, the check does not.
    monkeypatch.setenv("SMOKEJUMPER_TEMPORAL_ADDRESS", "temporal:7233")
    settings = load_settings()
    with pytest.raises(AssertionError, match=r"temporal_address is not a setting"):
        assert_variables_take_effect(settings, {"SMOKEJUMPER_TEMPORAL_ADDRESS": "temporal:7233"})
    with pytest.raises(AssertionError, match="did not take effect"):
        assert_variables_take_effect(settings, {"SMOKEJUMPER_API__PORT": "9000"})
    with pytest.raises(AssertionError, match=r"api\.hostname is not a setting"):
        assert_file_takes_effect(settings, {"api": {"hostname": "0.0.0.0"}})
