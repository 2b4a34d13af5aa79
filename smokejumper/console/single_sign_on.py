"""Signing in to the console through the OpenID Connect provider (`[console.oidc]`):
`/login/oidc` sends the browser to the provider, `/login/oidc/callback` brings it back
signed in, with the same kind of session a local sign-in makes."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from smokejumper.console.context import Page, Visit, safe_next
from smokejumper.console.oidc import (
    CALLBACK_PATH,
    PENDING_COOKIE,
    PENDING_SECONDS,
    START_PATH,
    Identity,
    Provider,
    SignInFailed,
)
from smokejumper.security import sign_in_limits
from smokejumper.store.tables import SsoIdentity, User

log = logging.getLogger("smokejumper.console")

router = APIRouter(include_in_schema=False)

REFUSED = "console.sign_in_refused"

Param = Annotated[str | None, Query(max_length=2000)]


def _provider(page: Visit) -> Provider:
    if page.context.oidc is None:
        raise HTTPException(status_code=404, detail="single sign-on is not configured")
    return page.context.oidc


def callback_url(page: Visit, provider: Provider) -> str:
    base = (
        provider.settings.redirect_base_url
        or page.state.settings.api.public_url
        or str(page.request.base_url)
    )
    return base.rstrip("/") + CALLBACK_PATH


@router.get(START_PATH, response_class=HTMLResponse)
async def start(page: Page, next: Param = None) -> Response:
    provider = _provider(page)
    try:
        url, pending = await provider.start(callback_url(page, provider), safe_next(next))
    except SignInFailed as exc:
        return page.render(
            "error.html", status=exc.status, message=exc.message, title="Not signed in"
        )
    response = page.redirect(url)
    response.set_cookie(
        PENDING_COOKIE,
        pending,
        max_age=PENDING_SECONDS,
        path=START_PATH,
        httponly=True,
        # Lax: the provider brings the browser back with a top-level GET from its own site.
        samesite="lax",
        secure=page.context.secure,
    )
    return response


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
async def callback(
    page: Page,
    code: Param = None,
    state: Param = None,
    error: Param = None,
) -> Response:
    provider = _provider(page)
    pending = provider.pending(page.request.cookies.get(PENDING_COOKIE))
    params = {k: v for k, v in (("code", code), ("state", state), ("error", error)) if v}
    response: Response
    try:
        identity = await provider.finish(pending, params, callback_url(page, provider))
        name = await asyncio.to_thread(_admit, page, provider, identity)
    except SignInFailed as exc:
        response = page.render(
            "error.html", status=exc.status, message=exc.message, title="Not signed in"
        )
    else:
        assert identity.role is not None
        page.session = page.context.codec.new(user=name, role=identity.role.label)
        page.fresh = True
        data = {**identity.audit_data(provider.issuer), "role": identity.role.label}
        await asyncio.to_thread(page.audit, sign_in_limits.SIGNED_IN, name, data, name)
        log.info(
            "console sign-in of %s through %s as %s", name, provider.issuer, identity.role.label
        )
        response = page.redirect(pending.next if pending else "/")
    # The pending sign-in is spent, whatever came of it.
    response.delete_cookie(PENDING_COOKIE, path=START_PATH)
    return response


def _admit(page: Visit, provider: Provider, identity: Identity) -> str:
    """The user name to sign in as; refusals are audited (without any token) and raised."""
    settings = provider.settings
    reason: str | None = None
    if identity.name is None:
        reason = (
            f"the ID token has no usable {settings.username_claim!r} claim (the user name: "
            "letters, digits and . _ @ - only)"
        )
    elif identity.role is None:
        reason = "no role: none of the user's groups maps to a console role"
    else:
        with page.state.store.session() as session:
            local = session.scalar(select(User).where(User.name == identity.name))
        if local is not None and local.disabled:
            reason = f"the account {identity.name!r} is disabled"
        elif not _bind(page, provider.issuer, identity.name, identity.subject):
            reason = (
                f"the user name {identity.name!r} belongs to another identity at the "
                "provider (it signed in first); ask an admin"
            )
    if reason is None:
        assert identity.name is not None
        return identity.name
    # The audit row's actor and subject are bounded; the claims in its data are whole.
    who = (identity.name or identity.email or identity.subject)[:200]
    log.warning("console sign-in through %s refused for %s: %s", provider.issuer, who, reason)
    page.audit(REFUSED, who, {**identity.audit_data(provider.issuer), "reason": reason}, who)
    raise SignInFailed(
        403, f"{provider.name} signed you in, but the console refuses you: {reason}."
    )


def _bind(page: Visit, issuer: str, name: str, subject: str) -> bool:
    """True when `name` is this provider identity's: bound now at its first sign-in, or
    bound to it before."""
    for _ in range(2):
        try:
            with page.state.store.transaction() as session:
                bound = session.get(SsoIdentity, name, with_for_update=True)
                if bound is None:
                    session.add(SsoIdentity(user_name=name, issuer=issuer, subject=subject))
                    return True
                return (bound.issuer, bound.subject) == (issuer, subject)
        except IntegrityError:
            continue  # a first sign-in under this name raced ours: read what it bound
    return False


async def after_sign_out(page: Visit) -> str:
    """Where the browser goes once a single sign-on session is ended here: the provider's
    end-session endpoint when it has one, else the sign-in page."""
    provider = page.context.oidc
    if provider is None:
        return "/login"
    after = callback_url(page, provider).removesuffix(CALLBACK_PATH) + "/login"
    try:
        return await provider.end_session_url(after) or "/login"
    except SignInFailed:
        # Our session has ended all the same; the provider's will end on its own.
        return "/login"
