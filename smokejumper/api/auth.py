"""The operator credential on API routes (roles and per-user tokens come with the console)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from smokejumper.api.state import AppState, app_state
from smokejumper.intake.auth import OPERATOR, bearer


def require_operator(request: Request, state: Annotated[AppState, Depends(app_state)]) -> str:
    token = bearer(request.headers)
    if token is None or not hmac.compare_digest(token.encode(), state.operator_token.encode()):
        raise HTTPException(
            status_code=401,
            detail="operator bearer token required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return OPERATOR


Operator = Annotated[str, Depends(require_operator)]
