"""A real LiteLLM proxy (`litellm[proxy]`, in the venv `make pytest` installs it into:
its pins conflict with ours) serving mock models from a test-controlled upstream."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from integrations.slack.emulator import SlackEmulator
from tests.helpers import free_port
from tests.playbooks.conftest import SLACK_USERS
from tests.retest.upstream import Upstream, running_upstream
from tests.slack.conftest import scanned_emulator

LITELLM = Path(__file__).parents[2] / ".venv-litellm" / "bin" / "litellm"
MASTER_KEY = "sk-retest-master-key"
# The mock models LiteLLM serves, each an endpoint of the tests' inventory.
MODELS = ("bot-clean", "bot-leaky", "bot-garbage", "bot-slow", "bot-echo", "bot-broken")
# What the leaky mock model answers with: it may reach the evidence store, nothing else.
ECHOED_SECRET = "sk-proj-Q7xZ9aB3cD5eF7gH9iJ1kL3mN5oP"


@dataclass(frozen=True)
class LiteLLMProxy:
    url: str
    upstream: Upstream
    log: Path


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


@pytest.fixture(scope="session")
def litellm_proxy(
    upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiteLLMProxy]:
    if not LITELLM.is_file():
        pytest.fail(
            f"LiteLLM is required at {LITELLM}: `make pytest` installs it (target "
            "$(LITELLM)), or run that target alone",
            pytrace=False,
        )
    root = tmp_path_factory.mktemp("litellm")
    config = root / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model_list": [
                    {
                        "model_name": name,
                        "litellm_params": {
                            "model": f"openai/{name}",
                            "api_base": upstream.url,
                            "api_key": "sk-upstream-unused",
                            "max_retries": 0,
                        },
                    }
                    for name in MODELS
                ],
                "litellm_settings": {"num_retries": 0, "request_timeout": 30},
                "general_settings": {"master_key": MASTER_KEY},
            }
        )
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "litellm.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={
                **os.environ,
                # The model price list bundled with the package, not fetched at start.
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_LOG": "ERROR",
                "PYTHONUNBUFFERED": "1",
            },
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"litellm exited with {process.returncode}:\n{_tail(log_path)}", pytrace=False
                )
            try:
                if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"litellm did not answer on {url}:\n{_tail(log_path)}", pytrace=False)
            time.sleep(0.3)
        yield LiteLLMProxy(f"{url}/v1", upstream, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def retest_slack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackEmulator]:
    """The Slack the gate's engines post to; scanned at the end for the echoed secret."""
    folder = tmp_path_factory.mktemp("retest-slack")
    with scanned_emulator(folder, SLACK_USERS, (ECHOED_SECRET,)) as emulator:
        yield emulator
