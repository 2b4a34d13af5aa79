"""The HTTP floor of controls_check: a bare Starlette app served by uvicorn that answers
`GET /api/v1/controls/check` with a constant JSON body, and nothing else.

`python -m bench.constant_floor PORT [HTTP]` serves it on 127.0.0.1:PORT. HTTP is uvicorn's
`http` implementation: `auto` (uvicorn's default: httptools when installed) or `h11` (the
pure-Python parser the smokejumper API is served with). Same event loop choice as the API
(uvicorn's default, `auto`), no access log (the API has none either).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PATH = "/api/v1/controls/check"
ANSWER: dict[str, object] = {"allowed": True, "reasons": []}


async def check(_: Request) -> JSONResponse:
    return JSONResponse(ANSWER)


app = Starlette(routes=[Route(PATH, check, methods=["GET"])])


def main(argv: Sequence[str]) -> None:
    port = int(argv[0])
    http = argv[1] if len(argv) > 1 else "auto"
    uvicorn.run(app, host="127.0.0.1", port=port, http=http, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
