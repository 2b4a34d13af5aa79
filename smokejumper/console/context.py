"""Per-request console plumbing: the session cookie, who is signed in, CSRF, rendering.

A console user is found, in order, from the auth proxy's trusted header (only when the
request comes from one of `console.trusted_header_proxies`) and from the signed session
cookie, which a local or a single sign-on (`console.oidc`) sign-in set. Every form
carries the session's CSRF token; a POST without the right one is refused with 403 before
anything else happens.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from smokejumper import __version__
from smokejumper.api.state import AppState, app_state
from smokejumper.config import Settings
from smokejumper.console.oidc import Provider
from smokejumper.masking import mask_data, mask_target
from smokejumper.security import session_revocation
from smokejumper.security.sessions import COOKIE, SessionCodec, SessionData, session_key
from smokejumper.security.sign_in_limits import SignInLimit
from smokejumper.security.users import Principal, Role, active_principal
from smokejumper.store import audit
from smokejumper.store.tables import User

log = logging.getLogger("smokejumper.console")

HERE = Path(__file__).parent
FLASH_COOKIE = "smokejumper_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class ConsoleRefusal(Exception):
    """Rendered as an error page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConsoleContext:
    """Built once per app: templates, the cookie codec, the proxy networks."""

    def __init__(self, settings: Settings, operator_token: str) -> None:
        console = settings.console
        key = session_key(settings, operator_token)
        self.codec = SessionCodec(key, console.session_hours * 3600)
        self._flash = URLSafeTimedSerializer(key, salt="smokejumper.console.flash")
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.globals["version"] = __version__
        self.templates.env.filters["when"] = _when
        self.templates.env.filters["duration"] = duration
        self.templates.env.filters["digest"] = digest
        # Every value a page shows that may hold a key or personal data goes through these.
        self.templates.env.filters["masked"] = _masked
        self.templates.env.filters["masked_target"] = _masked_target
        self.secure = (
            console.secure_cookies
            if console.secure_cookies is not None
            else (settings.api.public_url or "").startswith("https://")
        )
        self.header = console.trusted_header
        self.proxies = [
            ipaddress.ip_network(p, strict=False) for p in console.trusted_header_proxies
        ]
        self.proxy_role = (
            Role.parse(console.proxy_default_role) if console.proxy_default_role else None
        )
        self.sign_in_limit = SignInLimit(
            console.sign_in_failures, timedelta(minutes=console.sign_in_window_minutes)
        )
        self.oidc = Provider(console.oidc, key) if console.oidc is not None else None
        self.templates.env.globals["single_sign_on"] = self.oidc
        # Sign-out posts a form that ends at the provider: browsers hold redirects after a
        # form post to form-action too.
        form_action = "'self'" + (f" {self.oidc.origin}" if self.oidc is not None else "")
        self.csp = (
            f"default-src 'self'; frame-ancestors 'none'; form-action {form_action}; "
            "base-uri 'none'"
        )

    def from_proxy(self, request: Request) -> bool:
        if not self.header or request.client is None:
            return False
        try:
            address = ipaddress.ip_address(request.client.host)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def flash_value(self, message: str) -> str:
        return str(self._flash.dumps(message))

    def flash_message(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            message = self._flash.loads(cookie, max_age=120)
        except BadSignature:
            return None
        return message if isinstance(message, str) else None


def console_context(request: Request) -> ConsoleContext:
    context: ConsoleContext = request.app.state.console
    return context


@dataclass
class Visit:
    """One console request: its session (new when the cookie was missing or bad), the
    signed-in principal if any, and how to answer."""

    request: Request
    state: AppState
    context: ConsoleContext
    session: SessionData
    fresh: bool
    principal: Principal | None

    @property
    def csrf(self) -> str:
        return self.context.codec.csrf_token(self.session)

    def require(self, role: Role, what: str) -> Principal:
        if self.principal is None:
            raise LoginRequired(self.request.url.path + _query(self.request))
        if not self.principal.may(role):
            raise ConsoleRefusal(
                403,
                f"{self.principal.name} is a {self.principal.role.label}: {what} needs the "
                f"{role.label} role.",
            )
        return self.principal

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        flash = self.context.flash_message(self.request.cookies.get(FLASH_COOKIE))
        response = self.context.templates.TemplateResponse(
            self.request,
            template,
            {
                "user": self.principal,
                "csrf": self.csrf,
                "csrf_field": CSRF_FIELD,
                "flash": flash,
                "Role": Role,
                **values,
            },
            status_code=status,
        )
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path="/")
        response.headers["cache-control"] = "no-store"
        # No framing (clickjacking of the Approve button), no scripts or posts elsewhere.
        response.headers["content-security-policy"] = self.context.csp
        response.headers["x-frame-options"] = "DENY"
        response.headers["x-content-type-options"] = "nosniff"
        # Incident ids and references in console URLs stay out of other sites' logs.
        response.headers["referrer-policy"] = "same-origin"
        self.keep(response)
        return response

    def redirect(self, to: str, flash: str | None = None) -> RedirectResponse:
        response = RedirectResponse(to, status_code=303)
        if flash is not None:
            response.set_cookie(
                FLASH_COOKIE,
                self.context.flash_value(flash),
                max_age=120,
                path="/",
                httponly=True,
                samesite="lax",
                secure=self.context.secure,
            )
        self.keep(response)
        return response

    def keep(self, response: Response) -> None:
        """Send the session cookie when it is new or changed."""
        if self.fresh:
            set_session_cookie(response, self.context, self.session)

    def audit(
        self, action: str, subject: str, data: dict[str, Any], actor: str | None = None
    ) -> None:
        """Record a console decision in the hash-chained audit log, as its user."""
        actor = actor or (self.principal.name if self.principal else "anonymous")
        with self.state.store.transaction() as session:
            audit.append(
                session,
                actor=actor,
                action=action,
                subject=subject,
                data={**data, "via": "console"},
            )


def set_session_cookie(response: Response, context: ConsoleContext, data: SessionData) -> None:
    response.set_cookie(
        COOKIE,
        context.codec.dumps(data),
        max_age=context.codec.max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=context.secure,
    )


def _query(request: Request) -> str:
    return f"?{request.url.query}" if request.url.query else ""


def _principal(
    request: Request, state: AppState, context: ConsoleContext, session: SessionData | None
) -> Principal | None:
    if context.from_proxy(request):
        name = request.headers.get(context.header or "", "").strip()
        if name:
            with state.store.session() as db:
                known = active_principal(db, name, "proxy")
            if known is not None:
                return known
            if context.proxy_role is not None:
                return Principal(name=name, role=context.proxy_role, via="proxy")
            return None
    if session is None or session.user is None:
        return None
    if session.role is not None:
        return _single_sign_on(state, context, session.user, session.role)
    with state.store.session() as db:
        return active_principal(db, session.user, "session")


def _single_sign_on(
    state: AppState, context: ConsoleContext, name: str, role: str
) -> Principal | None:
    """A session single sign-on began: its role is the one the provider's claims gave.
    It ends when single sign-on is switched off, or the local account of that name is
    disabled (the name is the same person's either way)."""
    if context.oidc is None or role not in ("viewer", "responder", "admin"):
        return None
    with state.store.session() as db:
        local = db.scalar(select(User).where(User.name == name))
    if local is not None and local.disabled:
        return None
    return Principal(name=name, role=Role.parse(role), via="oidc")


async def visit(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    context: Annotated[ConsoleContext, Depends(console_context)],
) -> Visit:
    session = context.codec.loads(request.cookies.get(COOKIE))
    signed_out, principal = await asyncio.to_thread(_who, request, state, context, session)
    if signed_out:
        session = None
    fresh = session is None
    if session is None:
        session = context.codec.new()
    return Visit(request, state, context, session, fresh, principal)


def _who(
    request: Request, state: AppState, context: ConsoleContext, session: SessionData | None
) -> tuple[bool, Principal | None]:
    """(the cookie's session was signed out, who is asking)."""
    if session is not None and session.user is not None:
        with state.store.session() as db:
            if session_revocation.is_revoked(db, session.sid):
                return True, _principal(request, state, context, None)
    return False, _principal(request, state, context, session)


async def checked_visit(request: Request, current: Annotated[Visit, Depends(visit)]) -> Visit:
    """A visit whose POST carries this session's CSRF token (form field or header)."""
    form = await request.form()
    field = form.get(CSRF_FIELD)
    token = field if isinstance(field, str) else request.headers.get(CSRF_HEADER)
    if current.fresh or not current.context.codec.csrf_valid(current.session, token):
        raise ConsoleRefusal(
            403, "The form's CSRF token is missing or wrong. Reload the page and try again."
        )
    return current


Page = Annotated[Visit, Depends(visit)]
Form = Annotated[Visit, Depends(checked_visit)]


def login_url(path: str) -> str:
    return "/login?next=" + quote(path, safe="/")


def safe_next(target: str | None) -> str:
    """Only paths on this site: never `//host` or a full URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def digest(value: str | bytes) -> str:
    """A short fingerprint of what a panel or page shows: equal means nothing changed."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _masked(value: Any) -> Any:
    """Text, or the strings of a JSON value, with keys and personal data masked."""
    return None if value is None else mask_data(value)


def _masked_target(value: str | None) -> str:
    return "" if value is None else mask_target(value)


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """A human duration: 45s, 12m, 3h 05m, 2d 4h."""
    if seconds is None:
        return "—"
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
