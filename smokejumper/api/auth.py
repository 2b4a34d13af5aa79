"""Who calls the API, and may they: bearer credentials mapped to a role.

The operator token (`api.operator_token` or `data_dir/operator.token`, used by the CLI) is
an admin credential acting as `settings.operator`. API tokens (`smokejumper users token`)
act as their user, with that user's role, read from the store on every call so a role
change or a disabled account applies at once. Viewers read; responders also decide
approvals, act on incidents and see raw evidence; admins may do everything.

A client may name the surface it serves in the `X-Smokejumper-Via` header: the MCP server
sends `mcp` on every call, so the writes it makes are recorded as made through it, and an
approval decided through it is refused (approvals stay with people).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from smokejumper.api.state import AppState, app_state
from smokejumper.intake.auth import bearer
from smokejumper.security.users import Principal, Role, principal_for_token, touch_token


def bearer_principal(state: AppState, token: str) -> Principal | None:
    if hmac.compare_digest(token.encode(), state.operator_token.encode()):
        return Principal(name=state.settings.operator, role=Role.ADMIN, via="operator-token")
    with state.store.session() as session:
        found = principal_for_token(session, token)
    if found is None:
        return None
    principal, token_id, stale = found
    if stale:
        with state.store.transaction() as session:
            touch_token(session, token_id)
    return principal


def refused(principal: Principal, needed: Role, what: str) -> HTTPException:
    return HTTPException(
        status_code=403,
        detail=f"{principal.name} is a {principal.role.label}; {what} needs the "
        f"{needed.label} role",
    )


def _require(role: Role, what: str) -> Callable[[Request, AppState], Principal]:
    # Sync on purpose: FastAPI runs it in the thread pool, off the event loop, with its
    # store read.
    def dependency(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Principal:
        token = bearer(request.headers)
        principal = bearer_principal(state, token) if token is not None else None
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="bearer token required: the operator token or an API token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.may(role):
            raise refused(principal, role, what)
        return principal

    return dependency


VIA_HEADER = "x-smokejumper-via"
# Surfaces a client may name; anything else (or nothing) is the plain API.
_NAMED_SURFACES = frozenset({"cli", "mcp"})


def request_surface(
    via: Annotated[
        str | None,
        Header(
            alias="X-Smokejumper-Via",
            max_length=20,
            description="The tool calling on a person's behalf: cli or mcp.",
        ),
    ] = None,
) -> str:
    """The surface a write is recorded under: `mcp` or `cli` when the caller says so in
    `X-Smokejumper-Via`, else `api`. It labels, it grants nothing: the token decides."""
    named = (via or "").strip().lower()
    return named if named in _NAMED_SURFACES else "api"


Surface = Annotated[str, Depends(request_surface)]
ViewerAccess = Annotated[Principal, Depends(_require(Role.VIEWER, "reading"))]
ResponderAccess = Annotated[Principal, Depends(_require(Role.RESPONDER, "acting on incidents"))]
AdminAccess = Annotated[Principal, Depends(_require(Role.ADMIN, "this"))]
# Routes written before roles existed took the operator token: admins, as the token is.
OperatorAccess = AdminAccess
