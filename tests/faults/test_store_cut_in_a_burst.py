"""PostgreSQL connections cut while a burst of alerts and reads is under way (as a
failover or an administrator's `pg_terminate_backend` does): every answer is a 202 for a
stored alert or a 503 with Retry-After, never a 500, and the next requests work as soon as
connections can be made again: no session is left holding a dead transaction."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from smokejumper.store.tables import AlertRow
from tests.engine import in_process_api
from tests.test_end_to_end import example

TERMINATE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def cut_connections_until(stop: threading.Event, dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        while not stop.is_set():
            admin.execute(TERMINATE)
            time.sleep(0.02)


async def test_connections_cut_in_a_burst_are_503_with_retry_after_then_recover(
    tmp_path: Path, postgres_url: str
) -> None:
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    async with in_process_api(tmp_path, postgres_url) as (http, store, _):
        answers: Counter[tuple[str, int]] = Counter()
        accepted: list[str] = []

        async def one(number: int) -> None:
            alert = example(kind="data_leakage", title=f"burst {number % 5}")
            # Every other alert through the idempotency claim, which has writes of its own.
            keyed = {"Idempotency-Key": f"burst-{number}"} if number % 2 else {}
            for method, response in (
                ("POST", await http.post("/api/v1/alerts", json=alert, headers=keyed)),
                ("GET", await http.get("/api/v1/incidents")),
            ):
                answers[method, response.status_code] += 1
                assert response.status_code in (200, 202, 503), response.text
                if response.status_code == 503:
                    assert int(response.headers["retry-after"]) > 0
                    assert response.json()["error"].startswith("the incident store is unavailable")
                if response.status_code == 202:
                    accepted.append(response.json()["alert_id"])

        stop = threading.Event()
        cutter = threading.Thread(target=cut_connections_until, args=(stop, dsn))
        cutter.start()
        try:
            # Until both intake and a read were caught by a cut (each round is quick).
            for round_number in range(50):
                await asyncio.gather(*(one(round_number * 40 + i) for i in range(40)))
                if answers["POST", 503] and answers["GET", 503]:
                    break
        finally:
            stop.set()
            cutter.join()
        assert answers["POST", 503] and answers["GET", 503], answers

        # Connections can be made again: the very next requests are served.
        after = await http.post("/api/v1/alerts", json=example(kind="data_leakage"))
        assert after.status_code == 202, after.text
        accepted.append(after.json()["alert_id"])
        assert (await http.get("/api/v1/incidents")).status_code == 200
        assert (await http.get("/healthz")).json()["components"]["database"] == "ok"

        # Every 202 was a stored alert.
        with store.session() as session:
            stored = set(session.scalars(select(AlertRow.id)))
        assert set(accepted) <= stored
