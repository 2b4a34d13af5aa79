"""A local emulator of the Slack Web API methods smokejumper calls, recording every request.

Slack itself cannot run here, so tests and the local demo point slack-sdk's `base_url` at
this server; the production code is unchanged. It implements auth.test, chat.postMessage,
chat.update, chat.postEphemeral, conversations.create/invite/setTopic, views.open,
users.info and apps.connections.open, whose URL is a Socket Mode websocket served here too.
Failures (HTTP 429 with Retry-After, outages) can be switched on to test resilience.

Run it alone for a demo: `python -m integrations.slack.emulator --port 3001`, then
set `slack.base_url = "http://127.0.0.1:3001/api/"`. What it received can be read, never
changed, at `/` (a page of channels and their messages) and `/messages.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import itertools
import json
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

DEFAULT_BOT_TOKEN = "xoxb-emulator-bot-token"  # noqa: S105 - the emulator's own fake token
DEFAULT_APP_TOKEN = "xapp-emulator-app-token"  # noqa: S105


@dataclass
class Recorded:
    """One request as the emulator received it (the token is not kept)."""

    method: str
    params: dict[str, Any]
    status: int
    at: float
    body: str

    def to_json(self) -> str:
        return json.dumps(
            {"method": self.method, "status": self.status, "at": self.at, "body": self.body}
        )


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    times: int


@dataclass
class _Socket:
    websocket: WebSocket
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)


class SlackEmulator:
    """The server; `start()` runs it in a background thread and returns its API base URL."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.log_path = log_path
        self.host = host
        self.port = port
        self.requests: list[Recorded] = []
        # channel id -> ts -> the message's current fields
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.views: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, _Failure] = {}
        self._outage = False
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sockets: list[_Socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- control (from tests) -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    def start(self) -> str:
        import socket

        if self.port == 0:
            with socket.socket() as sock:
                sock.bind((self.host, 0))
                self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="slack-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the Slack emulator did not start on {self.base_url}")
            time.sleep(0.02)
        return self.base_url

    def _run(self) -> None:
        assert self._server is not None
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        assert self._server is not None
        self._loop = asyncio.get_running_loop()
        await self._server.serve()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)

    def add_user(self, user_id: str, name: str) -> None:
        self.users[user_id] = {"id": user_id, "name": name, "real_name": name.title()}

    def fail(
        self, method: str, status: int = 429, *, retry_after: int | None = 1, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` with `status` (429: with Retry-After)."""
        with self._lock:
            self._failures[method] = _Failure(status, retry_after, times)

    def outage(self, down: bool) -> None:
        """While down, every Web API call answers 503."""
        self._outage = down

    def mark(self) -> int:
        """A position in the request log; `since(mark)` lists what came after it."""
        with self._lock:
            return len(self.requests)

    def since(self, mark: int, method: str | None = None) -> list[Recorded]:
        with self._lock:
            found = self.requests[mark:]
        return [r for r in found if method is None or r.method == method]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        return self.messages[channel][ts]

    def socket_request(
        self, envelope_type: str, payload: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send an envelope to the connected Socket Mode client; returns its acknowledgement."""
        if self._loop is None:
            raise RuntimeError("the emulator is not running")
        future = asyncio.run_coroutine_threadsafe(
            self._socket_request(envelope_type, payload, timeout), self._loop
        )
        return future.result(timeout + 1)

    def socket_connected(self) -> bool:
        return bool(self._sockets)

    # -- the server -----------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                WebSocketRoute("/socket", self._socket),
                Route("/", self._messages_page, methods=["GET"]),
                Route("/messages.json", self._messages_json, methods=["GET"]),
            ]
        )

    # -- the read-only view of what was received -------------------------------------------

    def recorded(self) -> dict[str, Any]:
        """Channels and their messages (threads in order), as the emulator holds them now."""
        with self._lock:
            messages = {channel: list(by_ts.values()) for channel, by_ts in self.messages.items()}
            channels = {cid: dict(channel) for cid, channel in self.channels.items()}
        listed = []
        for channel_id in sorted(messages.keys() | channels.keys()):
            info = channels.get(channel_id, {})
            listed.append(
                {
                    "id": channel_id,
                    "name": info.get("name"),
                    "topic": info.get("topic"),
                    "messages": sorted(messages.get(channel_id, []), key=lambda m: m["ts"]),
                }
            )
        return {"channels": listed}

    async def _messages_json(self, request: Request) -> Response:
        return JSONResponse(self.recorded())

    async def _messages_page(self, request: Request) -> Response:
        return HTMLResponse(_page(self.recorded()), headers={"refresh": "5"})

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        params = _params(request, raw)
        status, answer, headers = self._answer(method, request.headers.get("authorization"), params)
        record = Recorded(
            method=method,
            params=params,
            status=status,
            at=time.time(),
            body=raw.decode("utf-8", errors="replace") + "&" + str(request.url.query),
        )
        with self._lock:
            self.requests.append(record)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(record.to_json() + "\n")
        return JSONResponse(answer, status_code=status, headers=headers)

    def _answer(
        self, method: str, authorization: str | None, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._outage:
            return 503, {"ok": False, "error": "service_unavailable"}, {}
        with self._lock:
            failure = self._failures.get(method)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    del self._failures[method]
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            error = "ratelimited" if failure.status == 429 else "internal_error"
            return failure.status, {"ok": False, "error": error}, headers
        token = (authorization or "").removeprefix("Bearer ")
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(
            self, "_m_" + method.replace(".", "_"), None
        )
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        try:
            return 200, {"ok": True, **handler(params)}, {}
        except _SlackError as exc:
            return 200, {"ok": False, "error": str(exc)}, {}

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    def _channel(self, params: dict[str, Any]) -> str:
        channel = params.get("channel")
        if not channel:
            raise _SlackError("channel_not_found")
        return str(channel)

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": "UBOT00001", "team_id": "TEMULATOR", "bot_id": "BEMULATOR"}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        ts = self._ts()
        message = {"ts": ts, "text": params.get("text", ""), "blocks": params.get("blocks")}
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        with self._lock:
            self.messages.setdefault(channel, {})[ts] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        ts = str(params.get("ts", ""))
        with self._lock:
            message = self.messages.get(channel, {}).get(ts)
            if message is None:
                raise _SlackError("message_not_found")
            message.update(text=params.get("text", ""), blocks=params.get("blocks"))
        return {"channel": channel, "ts": ts}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._channel(params)
        if not params.get("user"):
            raise _SlackError("user_not_in_channel")
        return {"message_ts": self._ts()}

    def _m_conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("name", ""))
        if not name:
            raise _SlackError("invalid_name_required")
        with self._lock:
            if any(c["name"] == name for c in self.channels.values()):
                raise _SlackError("name_taken")
            channel_id = f"C{next(self._ids):08d}"
            channel: dict[str, Any] = {"id": channel_id, "name": name, "members": [], "topic": ""}
            self.channels[channel_id] = channel
        return {"channel": {"id": channel_id, "name": name}}

    def _m_conversations_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(self._channel(params))
        if channel is None:
            raise _SlackError("channel_not_found")
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            raise _SlackError("no_user")
        channel["members"].extend(users)
        return {"channel": {"id": channel["id"], "name": channel["name"]}}

    def _m_conversations_setTopic(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(self._channel(params))
        if channel is None:
            raise _SlackError("channel_not_found")
        channel["topic"] = str(params.get("topic", ""))
        return {"channel": {"id": channel["id"], "topic": {"value": channel["topic"]}}}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise _SlackError("invalid_trigger_id")
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        self.views.append({"trigger_id": params["trigger_id"], "view": view})
        return {"view": {"id": f"V{next(self._ids):08d}", **(view or {})}}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            raise _SlackError("user_not_found")
        return {"user": user}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://{self.host}:{self.port}/socket?ticket={uuid.uuid4().hex}"}

    async def _socket(self, websocket: WebSocket) -> None:
        await websocket.accept()
        socket = _Socket(websocket)
        self._sockets.append(socket)
        try:
            await websocket.send_json({"type": "hello", "num_connections": len(self._sockets)})
            while True:
                message = json.loads(await websocket.receive_text())
                future = socket.acks.pop(str(message.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(message)
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets.remove(socket)

    async def _socket_request(
        self, envelope_type: str, payload: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self._sockets:
            if time.monotonic() > deadline:
                raise TimeoutError("no Socket Mode client is connected")
            await asyncio.sleep(0.05)
        socket = self._sockets[-1]
        envelope_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        socket.acks[envelope_id] = future
        await socket.websocket.send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": envelope_type != "events_api",
            }
        )
        return await asyncio.wait_for(future, deadline - time.monotonic())


class _SlackError(Exception):
    """A Web API error answered as `{"ok": false, "error": ...}`."""


def _params(request: Request, raw: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/json"):
        params.update(json.loads(raw or b"{}"))
    else:
        params.update(parse_qsl(raw.decode("utf-8")))
    for name in ("blocks", "view"):
        if isinstance(params.get(name), str):
            try:
                params[name] = json.loads(params[name])
            except ValueError:
                pass
    return params


def _block_text(block: dict[str, Any]) -> list[str]:
    """The visible text of one Block Kit block (sections, fields, context, header)."""
    found: list[str] = []
    for part in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            found.append(part["text"])
    return found


def _page(recorded: dict[str, Any]) -> str:
    rows = []
    for channel in recorded["channels"]:
        title = f"#{channel['name']}" if channel["name"] else channel["id"]
        rows.append(f"<h2>{html.escape(title)}</h2>")
        if channel["topic"]:
            rows.append(f"<p class=topic>{html.escape(channel['topic'])}</p>")
        for message in channel["messages"]:
            texts = [message.get("text") or ""]
            for block in message.get("blocks") or []:
                if isinstance(block, dict):
                    texts.extend(_block_text(block))
            css = "reply" if message.get("thread_ts") else "message"
            body = "<br>".join(html.escape(text) for text in texts if text)
            stamp = html.escape(message["ts"])
            rows.append(f"<div class={css}><small>{stamp}</small> {body}</div>")
    if not rows:
        rows.append("<p>No messages yet.</p>")
    return (
        "<!doctype html><meta charset=utf-8><title>Slack emulator</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        ".message{border-top:1px solid #ccc;padding:.5em 0;white-space:pre-wrap}"
        ".reply{margin-left:2em;color:#444;padding:.2em 0;white-space:pre-wrap}"
        ".topic{color:#666}</style>"
        "<h1>Slack emulator: messages received</h1>"
        "<p>Read-only; refreshes every 5 s. JSON: <a href=/messages.json>/messages.json</a></p>"
        + "".join(rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument(
        "--log", type=Path, default=None, help="Also append every request to this JSONL file."
    )
    args = parser.parse_args()
    emulator = SlackEmulator(host=args.host, port=args.port, log_path=args.log)
    print(f"Slack emulator: slack.base_url = {emulator.start()!r}", flush=True)
    print(f"bot token {emulator.bot_token}, app token {emulator.app_token}", flush=True)
    print(f"messages received: http://{args.host}:{emulator.port}/", flush=True)
    stop = threading.Event()
    # SIGTERM (from a supervisor) stops the server as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    emulator.stop()


if __name__ == "__main__":
    main()
