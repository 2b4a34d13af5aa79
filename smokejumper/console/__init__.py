"""The responder console: server-rendered pages at `/`, served by the API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from smokejumper.api.state import AppState
from smokejumper.console import case_routes, email_approvals, single_sign_on
from smokejumper.console.context import (
    HERE,
    ConsoleContext,
    ConsoleRefusal,
    LoginRequired,
    login_url,
    visit,
)
from smokejumper.console.routes import router

_PAGES = ("/login", "/logout", "/incidents/", "/playbooks", "/inventory", "/dead-letters", "/audit")


def is_console_page(path: str) -> bool:
    return path == "/" or path.startswith(_PAGES)


def mount_console(app: FastAPI, state: AppState) -> None:
    app.state.console = ConsoleContext(state.settings, state.operator_token)
    app.include_router(router)
    app.include_router(case_routes.router)
    app.include_router(single_sign_on.router)
    app.include_router(email_approvals.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(login_url(exc.path), status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleRefusal)
        return await _error_page(request, exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        # Console pages get a page; everything else keeps FastAPI's JSON errors.
        if is_console_page(request.url.path) and exc.status_code >= 400:
            return await _error_page(request, exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(ConsoleRefusal, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)


async def _error_page(request: Request, status: int, message: str) -> Response:
    page = await visit(request, request.app.state.smokejumper, request.app.state.console)
    return page.render("error.html", status=status, message=message)
