"""Parameters the database cannot take. Numbers a row id or an offset cannot be (past 64
bits, past the 32-bit ids PostgreSQL keeps, negative) are answered 404 or 422, never a 500
from the database (once OverflowError on SQLite, `integer out of range` on PostgreSQL).
NUL in a URL, a form or a JSON field (which PostgreSQL refuses even as a query parameter)
is a 422 naming where."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from smokejumper.security.users import Role, add_user
from tests.engine import in_process_api
from tests.test_end_to_end import example

HUGE = ["2147483648", "9223372036854775808", "1" + "0" * 40]
NEGATIVE = ["-1", "-9223372036854775809"]
PASSWORD = "root-password-12"


@pytest_asyncio.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The API with one incident, signed in to the console as an admin too."""
    async with in_process_api(tmp_path, database_url) as (http, store, _):
        accepted = await http.post("/api/v1/alerts", json=example(kind="data_leakage"))
        assert accepted.status_code == 202, accepted.text
        with store.transaction() as session:
            add_user(session, "root", Role.ADMIN, PASSWORD)
        form = await http.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found, form.text[:300]
        signed = await http.post(
            "/login",
            data={"username": "root", "password": PASSWORD, "csrf_token": found.group(1)},
        )
        assert signed.status_code == 303, signed.text
        yield http, accepted.json()["incident_id"]


async def test_an_evidence_id_out_of_range_is_a_422(api: tuple[httpx.AsyncClient, str]) -> None:
    http, ref = api
    for path in (
        f"{prefix}/incidents/{ref}/evidence/{number}/raw"
        for number in [*HUGE, *NEGATIVE, "0"]
        for prefix in ("/api/v1", "")
    ):
        response = await http.get(path)
        assert response.status_code == 422, (path, response.status_code, response.text[:200])
        assert response.json()["detail"][0]["loc"] == ["path", "evidence_id"]


async def test_an_evidence_id_in_range_that_names_nothing_is_a_404(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, ref = api
    for path in (f"/api/v1/incidents/{ref}/evidence/2147483647/raw", "/incidents/1/evidence/1/raw"):
        assert (await http.get(path)).status_code == 404


async def test_an_incident_number_no_row_can_have_is_a_404(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, _ = api
    for path in (
        page.format(number)
        for number in [*HUGE, "99999999999", "-1", "1" * 100]
        for page in (
            "/api/v1/incidents/{}",
            "/api/v1/incidents/{}/report",
            "/api/v1/incidents/{}/evidence",
            "/incidents/{}",
        )
    ):
        response = await http.get(path)
        assert response.status_code == 404, (path, response.status_code, response.text[:200])


async def test_a_console_offset_out_of_range_is_a_422(api: tuple[httpx.AsyncClient, str]) -> None:
    http, _ = api
    for page in ("/", "/dead-letters", "/audit"):
        for offset in ("1000000001", "9223372036854775808", "9" * 30, "-1"):
            response = await http.get(page, params={"offset": offset})
            assert response.status_code == 422, (page, offset, response.text[:200])
            assert response.json()["detail"][0]["loc"] == ["query", "offset"]
        assert (await http.get(page, params={"offset": "1000000000"})).status_code == 200


async def test_a_nul_in_a_url_is_a_422_on_every_route_but_intake(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, ref = api
    for path in (
        "/api/v1/incidents/INC-2026-0001%00",
        f"/api/v1/incidents/{ref}/report?format=md%00",
        "/api/v1/incidents?playbook=%00",
        "/api/v1/dead-letters?source=a%00b",
        "/api/v1/dead-letters/%00",
        "/incidents/a%00b",
        "/?q=%00",
        "/audit?actor=%00",
    ):
        response = await http.get(path)
        assert response.status_code == 422, (path, response.status_code, response.text[:200])
        assert response.json()["detail"][0]["type"] == "url_nul"
    # Intake answers for itself, and keeps the request as a dead letter.
    refused = await http.post("/api/v1/alerts?user=a%00b", json=example(kind="data_leakage"))
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"] == "query.user"
    assert refused.json()["dead_letter_id"]


async def test_a_nul_in_a_form_or_json_field_is_a_422_naming_it(
    api: tuple[httpx.AsyncClient, str],
) -> None:
    http, ref = api
    closed = await http.post(f"/api/v1/incidents/{ref}/close", json={"reason": "done\x00"})
    assert closed.status_code == 422, closed.text
    assert closed.json()["detail"][0]["loc"] == ["body", "reason"]
    assert closed.json()["detail"][0]["type"] == "string_unstorable"
    # The signed-in session's token: the form is refused for its field, not its token.
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await http.get("/")).text)
    assert found
    signed = await http.post(
        "/login", data={"username": "root\x00", "password": PASSWORD, "csrf_token": found.group(1)}
    )
    assert signed.status_code == 422, signed.text
    assert signed.json()["detail"][0]["loc"] == ["body", "username"]
