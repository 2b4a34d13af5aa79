"""Socket Mode: the same buttons and commands for workspaces that cannot reach the API.

The worker opens an outbound websocket to Slack (slack-sdk's built-in Socket Mode client,
`apps.connections.open` with the app-level token) and hands each interaction and slash
command to the same `Responder` the HTTP endpoints use. The acknowledgement carries the
immediate answer; slow work follows through the Web API, as over HTTP. Slack signs nothing
here: the connection itself, opened with the app token, is the authentication.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.socket_mode.builtin.client import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from temporalio.client import Client

from integrations.slack.client import web_client
from integrations.slack.interactions import InvalidInteraction
from integrations.slack.responder import Responder
from smokejumper.config import Settings
from smokejumper.store.db import Store

log = logging.getLogger("smokejumper.slack")
# Slack retries an envelope not acknowledged within 3 seconds.
_ANSWER_WITHIN = 2.5


class SocketModeRunner:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: Client,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        slack = settings.slack
        if slack.app_token is None:
            raise ValueError("slack.app_token is required for Socket Mode")

        async def temporal() -> Client:
            return client

        self.loop = loop or asyncio.get_running_loop()
        self.responder = Responder(settings, store, temporal)
        self.socket = SocketModeClient(
            app_token=slack.app_token.get_secret_value(),
            web_client=web_client(slack),
            auto_reconnect_enabled=True,
        )
        self.socket.socket_mode_request_listeners.append(self._on_request)

    def _on_request(self, socket: Any, request: SocketModeRequest) -> None:
        # Called on one of the client's threads; the responder lives on the worker's loop.
        answer: dict[str, Any] | None = None
        try:
            if request.type == "interactive":
                work = self.responder.interaction(request.payload)
            elif request.type == "events_api":
                # Acknowledged at once; the responder handles the event after.
                event = request.payload.get("event")
                if isinstance(event, dict):
                    asyncio.run_coroutine_threadsafe(self.responder.event(event), self.loop).result(
                        _ANSWER_WITHIN
                    )
                socket.send_socket_mode_response(SocketModeResponse(request.envelope_id))
                return
            elif request.type == "slash_commands":
                work = self.responder.command(
                    {name: str(value) for name, value in request.payload.items()}
                )
            else:
                socket.send_socket_mode_response(SocketModeResponse(request.envelope_id))
                return
            answer = asyncio.run_coroutine_threadsafe(work, self.loop).result(_ANSWER_WITHIN)
        except InvalidInteraction as exc:
            log.warning("Socket Mode interaction refused: %s", exc)  # fields, not content
        except Exception as exc:
            log.error("Socket Mode %s failed: %s", request.type, type(exc).__name__)
        socket.send_socket_mode_response(
            SocketModeResponse(request.envelope_id, payload=answer or None)
        )

    async def start(self) -> None:
        await asyncio.to_thread(self.socket.connect)

    async def stop(self) -> None:
        await asyncio.to_thread(self.socket.close)
        await self.responder.drain()
