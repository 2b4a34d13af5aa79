"""How the Temporal client is configured for plain, mTLS and Temporal Cloud connections."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from smokejumper.config import ConfigError, load_settings
from smokejumper.temporal.binaries import temporal_cli, temporal_test_server
from smokejumper.temporal.client import tls_config


def test_plain_connection_has_no_tls() -> None:
    settings = load_settings(temporal={"address": "temporal.internal:7233"})
    assert not settings.temporal.embedded
    assert settings.temporal.target == "temporal.internal:7233"
    assert settings.temporal.ui_url is None
    assert tls_config(settings.temporal) is False


def test_client_certificates_are_loaded(tmp_path: Path) -> None:
    cert, key, ca = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    ca.write_bytes(b"CA")
    settings = load_settings(
        temporal={
            "address": "t:7233",
            "client_cert": str(cert),
            "client_key": str(key),
            "server_ca": str(ca),
            "server_name": "temporal.internal",
        }
    )
    config = tls_config(settings.temporal)
    assert isinstance(config, TLSConfig)
    assert (config.client_cert, config.client_private_key) == (b"CERT", b"KEY")
    assert config.server_root_ca_cert == b"CA"
    assert config.domain == "temporal.internal"


def test_missing_certificate_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"client_cert: file .* does not exist"):
        load_settings(
            temporal={"client_cert": str(tmp_path / "nope"), "client_key": str(tmp_path / "no")}
        )


def test_cloud_api_key_implies_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOKEJUMPER_TEMPORAL__API_KEY", "tcld-key")
    settings = load_settings(temporal={"address": "ns.acct.tmprl.cloud:7233"})
    assert tls_config(settings.temporal) is True


def test_binaries_come_from_the_installed_wheels() -> None:
    for binary in (temporal_cli(), temporal_test_server()):
        assert binary.is_file()
        assert binary.stat().st_mode & 0o111
