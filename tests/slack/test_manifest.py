"""The Slack app manifest in the repository points Slack at endpoints the API serves."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import httpx
import yaml

import integrations.slack
from integrations.slack.views import console_url
from smokejumper.app import create_app
from smokejumper.config import load_settings

MANIFEST = Path(integrations.slack.__file__).with_name("manifest.yaml")


def test_the_manifest_names_the_served_endpoints_and_needed_scopes(tmp_path: Path) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    paths = set(create_app(load_settings(None, data_dir=tmp_path)).openapi()["paths"])
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"]
    assert urlparse(interactivity["request_url"]).path in paths
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/smokejumper" and urlparse(command["url"]).path in paths
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # chat.postMessage/update/postEphemeral, conversations.create/invite/setTopic, commands.
    assert {"chat:write", "channels:manage", "commands", "users:read"} <= scopes


async def test_the_console_link_in_messages_is_a_console_page(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    url = urlparse(console_url(settings, "INC-2026-0001"))
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        response = await client.get(url.path)
    # Behind the console's own sign-in, not missing.
    assert response.status_code == 303 and "login" in response.headers["location"]
