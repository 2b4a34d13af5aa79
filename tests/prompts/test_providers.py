"""The prompt registry providers against the real `mlflow server` (its Prompt Registry)
and the embedded `local` one: read, tag and move aliases; refuse what is not theirs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations.prompts.base import PromptNotFound, PromptProvider, PromptProviderError
from integrations.prompts.local import LocalPrompts
from integrations.prompts.registry import PromptProviders
from tests.helpers import free_port
from tests.models.conftest import MlflowServer
from tests.prompts.conftest import (
    SERVER_START_TIMEOUT,
    prompt_settings,
    publish,
    unique_prompt,
    version_tags,
)

pytestmark = SERVER_START_TIMEOUT


def mlflow_provider(tmp_path: Path, url: str) -> PromptProvider:
    return PromptProviders(prompt_settings(tmp_path, url)).get("mlflow")


def test_mlflow_reads_tags_and_moves_the_alias(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    prompt = unique_prompt()
    v1, v2 = publish(mlflow_server, prompt, ["You are a bot. Key AKIA-leaky.", "You are a bot."])
    mlflow_server.set_alias(prompt, "production", v1)
    provider = mlflow_provider(tmp_path, mlflow_server.url)

    assert provider.state(prompt, "production").version == v1
    assert provider.state(prompt, "staging").version is None  # an alias nobody set
    assert provider.text(prompt, v1) == "You are a bot. Key AKIA-leaky."
    provider.set_tag(prompt, v1, "leaked", "INC-7")
    after = provider.set_alias(prompt, "production", v2)

    assert after.version == v2
    assert mlflow_server.alias(prompt, "production") == v2
    assert version_tags(mlflow_server, prompt, v1)["leaked"] == "INC-7"
    assert "leaked" not in version_tags(mlflow_server, prompt, v2)


def test_mlflow_refuses_what_is_missing_or_not_a_prompt(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    provider = mlflow_provider(tmp_path, mlflow_server.url)
    prompt = unique_prompt()
    (v1,) = publish(mlflow_server, prompt, ["hello"])
    with pytest.raises(PromptNotFound):
        provider.state(unique_prompt("nobody"), "production")
    with pytest.raises(PromptNotFound):
        provider.set_alias(prompt, "production", "99")
    with pytest.raises(PromptNotFound):
        provider.text(prompt, "99")
    # A registered model that is not a prompt is somebody's model: never moved from here.
    model = unique_prompt("fraud-model")
    mlflow_server.call("POST", "/api/2.0/mlflow/registered-models/create", json={"name": model})
    with pytest.raises(PromptProviderError, match="not a prompt") as refused:
        provider.set_alias(model, "production", v1)
    assert refused.value.retryable is False


def test_a_registry_that_is_down_is_a_retryable_error(tmp_path: Path) -> None:
    provider = mlflow_provider(tmp_path, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PromptProviderError, match="cannot reach") as down:
        provider.state("support-system", "production")
    assert down.value.retryable is True


def test_no_server_named_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    providers = PromptProviders(prompt_settings(tmp_path, "").model_copy())
    providers.settings.containment.prompts.mlflow_tracking_uri = None
    with pytest.raises(PromptProviderError, match="tracking_uri") as unset:
        providers.get("mlflow")
    assert unset.value.retryable is False


def test_local_registers_tags_and_moves_the_alias(tmp_path: Path) -> None:
    local = LocalPrompts(tmp_path / "prompts.json")
    v1 = local.register("support-system", "secret inside", aliases=("production",))
    v2 = local.register("support-system", "clean")
    local.set_tag("support-system", v1, "leaked", "INC-1")
    assert local.set_alias("support-system", "production", v2).version == v2
    assert local.tags("support-system", v1) == {"leaked": "INC-1"}
    assert local.text("support-system", v2) == "clean"
    with pytest.raises(PromptNotFound):
        local.set_alias("support-system", "production", "9")
    with pytest.raises(PromptNotFound):
        local.state("other", "production")


class _Garbage(BaseHTTPRequestHandler):
    """A proxy in front of the registry answering every request with an HTML page."""

    def do_GET(self) -> None:
        body = b"<html><body>502 upstream: You are SupportBot</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_an_answer_that_is_garbage_is_a_retryable_error_that_echoes_nothing(
    tmp_path: Path,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        provider = mlflow_provider(tmp_path, f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(PromptProviderError, match="not JSON") as garbage:
            provider.state("support-system", "production")
    finally:
        server.shutdown()
        server.server_close()
    assert garbage.value.retryable is True
    assert "SupportBot" not in str(garbage.value)
