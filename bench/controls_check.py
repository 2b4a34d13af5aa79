"""controls_check: `GET /api/v1/controls/check` from 32 concurrent keep-alive clients,
against `smokejumper api` as a child process (on its controls listener, `api.controls_port`,
as gateways are told to call it), with a loaded control plane.

Loaded in the control plane's state files before the API starts (one whole-file write
each, in the format the local providers write): 10,000 active blocks (users, sessions and
API keys; some with a future expiry) among lapsed and lifted ones that must not count,
revoked keys among active ones, quarantined and released documents, and 1,000 input-filter
rules in force among removed and lapsed ones. The checks mix user, key, session and
document checks, and a gateway's combined key + user + session check.

Floor: `bench.constant_floor`, a bare Starlette app served by uvicorn (its defaults) that
answers the same path with a constant JSON body, driven by the same client code, with
the same requests, concurrency and count. It is measured before and after the API (the
ratio uses their mean, to even out a shared machine's drift), and once more served by h11
(the parser the API is served with) to tell the parser's share of the gap from the app's.

Checks: every answer is 200 and the one the loaded state implies (its reasons too); a key
revoked by this process mid-run is denied by every check sent after the revoke returned;
`GET /api/v1/controls/filter-rules` returns exactly the 1,000 rules in force.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.constant_floor import ANSWER
from bench.constant_floor import PATH as CHECK
from bench.harness import (
    Result,
    child,
    engine_env,
    free_port,
    machine,
    percentile,
    wait_for,
)
from bench.http_load import Connection, Response
from integrations.keys.local import LocalKeys
from integrations.local_state import LocalStateFile
from smokejumper.settings.temporal import TemporalSettings

TOTAL = 20_000  # measured checks per server
WARMUP = 2_000  # checks before the measured ones (answers checked, not timed)
CONCURRENCY = 32
TOKEN = "bench-controls-token-0123456789"  # noqa: S105 - a throwaway credential for the run
TARGET_RATIO = 0.8
TARGET_P99_MS = 5.0

USERS = 9_000  # user ids u-0…; the even ones blocked (4,500)
SESSIONS = 9_000  # session ids s-0…; the odd ones blocked (4,500)
KEYS = 2_000  # sk-bench-0…; the odd ones blocked as api_key principals (1,000)
BLOCKS = USERS // 2 + SESSIONS // 2 + KEYS // 2
DOCUMENTS = 2_000
RULES = 1_000
MID_RUN_KEY = "sk-bench-2"  # active and not blocked until revoked mid-run


def _user_blocked(n: int) -> bool:
    return n % 2 == 0


def _session_blocked(n: int) -> bool:
    return n % 2 == 1


def _key_blocked(n: int) -> bool:
    return n % 2 == 1


def _key_revoked(n: int) -> bool:
    return n % 5 == 0  # overlaps the blocked keys: two reasons for sk-bench-5, -15, …


def _quarantined(n: int) -> bool:
    return n % 3 == 0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _seed(data: Path) -> dict[str, int]:
    """Write the state files; returns how many records of each kind were written."""
    now = datetime.now(UTC)
    later, earlier = _iso(now + timedelta(days=1)), _iso(now - timedelta(hours=1))
    stamp = _iso(now)

    def block(expires_at: str | None, status: str = "blocked") -> dict[str, Any]:
        return {
            "status": status,
            "by": "bench",
            "reason": "seeded",
            "changed_at": stamp,
            "expires_at": expires_at,
        }

    principals: dict[str, dict[str, Any]] = {}
    distractors = lapsed = 0
    for n in range(USERS):
        if _user_blocked(n):
            principals[f"user:u-{n}"] = block(later if n % 4 == 0 else None)
        elif n % 10 == 1:  # a block that has lapsed
            principals[f"user:u-{n}"] = block(earlier)
            distractors += 1
            lapsed += 1
        elif n % 10 == 3:  # a block lifted
            principals[f"user:u-{n}"] = block(None, "allowed")
            distractors += 1
    for n in range(SESSIONS):
        if _session_blocked(n):
            principals[f"session:s-{n}"] = block(later if n % 4 == 1 else None)
        elif n % 10 == 2:
            principals[f"session:s-{n}"] = block(earlier)
            distractors += 1
            lapsed += 1
        elif n % 10 == 4:
            principals[f"session:s-{n}"] = block(None, "allowed")
            distractors += 1
    for n in range(KEYS):
        if _key_blocked(n):
            principals[f"api_key:sk-bench-{n}"] = block(None)
    active = sum(1 for r in principals.values() if r["status"] == "blocked") - lapsed
    assert active == BLOCKS, active
    LocalStateFile(data / "principals.json", "principals").write(principals)

    keys = {
        f"sk-bench-{n}": (
            {"status": "inactive", "changed_at": stamp} if _key_revoked(n) else {"status": "active"}
        )
        for n in range(KEYS)
    }
    LocalStateFile(data / "keys.json", "keys").write(keys)

    documents = {
        f"doc-{n}": {
            "status": "quarantined" if _quarantined(n) else "released",
            "source": "bench",
            "by": "bench",
            "reason": "seeded",
            "changed_at": stamp,
        }
        for n in range(DOCUMENTS)
        if n % 3 != 2
    }
    LocalStateFile(data / "documents.json", "documents").write(documents)

    rules: dict[str, dict[str, Any]] = {}
    for n in range(RULES + 200):
        status, expires = "active", later
        if n >= RULES + 100:
            status = "removed"
        elif n >= RULES:
            expires = earlier
        rules[f"rule-{n:04d}"] = {
            "status": status,
            "kind": "canary" if n % 2 else "pattern",
            "pattern": f"canary-{n}" if n % 2 else rf"ignore (all )?previous instructions #{n}\b",
            "by": "bench",
            "reason": "seeded",
            "changed_at": stamp,
            "expires_at": expires,
        }
    LocalStateFile(data / "filter_rules.json", "rules").write(rules)
    return {
        "active_blocks": BLOCKS,
        "lapsed_or_lifted_blocks": distractors,
        "keys": KEYS,
        "revoked_keys": sum(1 for n in range(KEYS) if _key_revoked(n)),
        "quarantined_documents": sum(1 for n in range(DOCUMENTS) if _quarantined(n)),
        "released_documents": len(documents) - sum(1 for n in range(DOCUMENTS) if _quarantined(n)),
        "rules_in_force": RULES,
        "rules_removed_or_lapsed": 200,
    }


Reasons = list[tuple[str, str]]


@dataclass(frozen=True)
class Check:
    path: str
    reasons: Reasons  # sorted (code, target) the loaded state implies
    key: str | None


def _key_reasons(k: int) -> Reasons:
    reasons = []
    if _key_revoked(k):
        reasons.append(("key_revoked", f"sk-bench-{k}"))
    if _key_blocked(k):
        reasons.append(("principal_blocked", f"api_key:sk-bench-{k}"))
    return reasons


def _checks(count: int, seed: int) -> list[Check]:
    """User, key, session, document and combined checks, in turn, over random ids (a key
    check asks for MID_RUN_KEY one time in 40)."""
    rng = random.Random(seed)
    made = []
    for i in range(count):
        u, s = rng.randrange(USERS + 500), rng.randrange(SESSIONS + 500)  # some never seen
        k = 2 if rng.randrange(40) == 0 else rng.randrange(KEYS)
        user = [("principal_blocked", f"user:u-{u}")] if u < USERS and _user_blocked(u) else []
        session = (
            [("principal_blocked", f"session:s-{s}")]
            if s < SESSIONS and _session_blocked(s)
            else []
        )
        kind = i % 5
        key: str | None = None
        if kind == 0:
            path, reasons = f"{CHECK}?user=u-{u}", user
        elif kind == 1:
            key = f"sk-bench-{k}"
            path, reasons = f"{CHECK}?key_id={key}", _key_reasons(k)
        elif kind == 2:
            path, reasons = f"{CHECK}?session_id=s-{s}", session
        elif kind == 3:
            docs = [rng.randrange(DOCUMENTS + 100) for _ in range(2)]
            path = f"{CHECK}?" + "&".join(f"document=doc-{d}" for d in docs)
            reasons = [
                ("document_quarantined", f"doc-{d}")
                for d in docs
                if d < DOCUMENTS and _quarantined(d)
            ]
        else:
            key = f"sk-bench-{k}"
            path = f"{CHECK}?key_id={key}&user=u-{u}&session_id=s-{s}"
            reasons = _key_reasons(k) + user + session
        made.append(Check(path, sorted(reasons), key))
    return made


@dataclass
class Drive:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wrong: int = 0
    wrong_examples: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    @property
    def non_200(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200)


# Whether an answer is right: (the check, its response, when it was sent).
Verify = Callable[[Check, Response, float], bool]


async def _drive(
    port: int,
    checks: Sequence[Check],
    verify: Verify,
    midway: Callable[[], Awaitable[None]] | None = None,
) -> Drive:
    """`checks` from CONCURRENCY keep-alive connections, each taking the next one when its
    previous answer is in; `midway` is awaited before the middle check is sent."""
    result = Drive()
    pending = iter(enumerate(checks))
    middle = len(checks) // 2

    async def client() -> None:
        connection = Connection("127.0.0.1", port, {"Authorization": f"Bearer {TOKEN}"})
        try:
            for i, check in pending:
                if i == middle and midway is not None:
                    await midway()
                sent = time.perf_counter()
                response = await connection.get(check.path)
                result.latencies.append(response.seconds)
                result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
                if response.status == 200 and not verify(check, response, sent):
                    result.wrong += 1
                    if len(result.wrong_examples) < 5:
                        result.wrong_examples.append(f"{check.path} -> {response.body!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    result.elapsed = time.perf_counter() - started
    return result


def _constant(_: Check, response: Response, __: float) -> bool:
    """The floor's verification: the same JSON decoding and comparison work per answer."""
    return bool(json.loads(response.body) == ANSWER)


@dataclass
class Revoke:
    """MID_RUN_KEY's revoke by this process while the API serves."""

    keys: LocalKeys
    started: float | None = None
    finished: float | None = None
    seen_after: int = 0  # checks of the key sent after the revoke, denied as revoked
    in_flight: int = 0  # checks of the key under way during the revoke (either answer right)

    async def __call__(self) -> None:
        self.started = time.perf_counter()
        await asyncio.to_thread(self.keys.revoke, MID_RUN_KEY)
        self.finished = time.perf_counter()

    def verify(self, check: Check, response: Response, sent: float) -> bool:
        answer = json.loads(response.body)
        got = sorted((r["code"], r["target"]) for r in answer["reasons"])
        expected = check.reasons
        if check.key == MID_RUN_KEY and self.started is not None:
            revoked = sorted([*expected, ("key_revoked", MID_RUN_KEY)])
            if self.finished is not None and sent >= self.finished:
                expected = revoked
                self.seen_after += got == revoked
            elif sent + response.seconds > self.started:
                self.in_flight += 1
                if got == revoked:
                    expected = revoked
        return bool(answer["allowed"] is (not expected) and got == expected)


def _serving(url: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    return ready


def _measure(port: int, verify: Verify, revoke: Revoke | None = None) -> tuple[Drive, Drive]:
    """Warm-up, then the measured checks; the same requests for every server."""
    warmup = asyncio.run(_drive(port, _checks(WARMUP, seed=1), verify))
    measured = asyncio.run(_drive(port, _checks(TOTAL, seed=2), verify, revoke))
    return warmup, measured


def run(temporal: TemporalSettings, workdir: Path) -> list[Result]:
    data = workdir / "data"
    api_port, controls_port = free_port(), free_port()
    floor_port, h11_port = free_port(), free_port()
    # Served as gateways are told to deploy it: `smokejumper api` with `api.controls_port`,
    # the check's own listener in the same process (smokejumper.api.controls_listener).
    env = engine_env(
        data,
        api_port,
        temporal,
        "bench-controls",
        api__controls_token=TOKEN,
        api__controls_port=str(controls_port),
    )
    loaded = _seed(data)
    revoke = Revoke(LocalKeys(data / "keys.json"))
    api = f"http://127.0.0.1:{controls_port}"
    with (
        child(["-m", "bench.constant_floor", str(floor_port)], env, workdir / "floor.log"),
        child(["-m", "bench.constant_floor", str(h11_port), "h11"], env, workdir / "floor.log"),
    ):
        wait_for(_serving(f"http://127.0.0.1:{floor_port}{CHECK}"), 30, "constant floor")
        wait_for(_serving(f"http://127.0.0.1:{h11_port}{CHECK}"), 30, "constant floor (h11)")
        _, floor_before = _measure(floor_port, _constant)
        _, floor_h11 = _measure(h11_port, _constant)
        with child(["-m", "cli", "api"], env, workdir / "api.log"):
            wait_for(_serving(f"{api}{CHECK}?user=u-1"), 60, "smokejumper API")
            warmup, ours = _measure(controls_port, revoke.verify, revoke)
            final = httpx.get(
                f"{api}{CHECK}?key_id={MID_RUN_KEY}",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            rules = httpx.get(
                f"{api}/api/v1/controls/filter-rules",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
        _, floor_after = _measure(floor_port, _constant)

    final_denied = final.status_code == 200 and final.json()["allowed"] is False
    revoke_seen = final_denied and revoke.seen_after > 0
    served_rules = sorted(r["id"] for r in rules.json()["rules"]) if rules.is_success else []
    rules_right = served_rules == [f"rule-{n:04d}" for n in range(RULES)]
    floor_rate = statistics.mean([floor_before.rate, floor_after.rate])
    ratio = ours.rate / floor_rate
    p99 = percentile(ours.latencies, 99) * 1000
    wrong = warmup.wrong + ours.wrong
    non_200 = warmup.non_200 + ours.non_200
    floor_wrong = sum(d.wrong + d.non_200 for d in (floor_before, floor_after, floor_h11))

    def ms3(values: Sequence[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 3)

    return [
        Result(
            name="controls_check",
            value=round(ours.rate, 1),
            unit="checks/s",
            floor=round(floor_rate, 1),
            ratio=round(ratio, 3),
            target=f"ratio >= {TARGET_RATIO}; p99 < {TARGET_P99_MS:g} ms; every answer right "
            "and 200; a mid-run revoke seen; the rules in force served",
            ok=(
                ratio >= TARGET_RATIO
                and p99 < TARGET_P99_MS
                and wrong == 0
                and non_200 == 0
                and revoke_seen
                and rules_right
                and floor_wrong == 0
            ),
            detail={
                "p50_ms": ms3(ours.latencies, 50),
                "p99_ms": round(p99, 3),
                "max_ms": round(max(ours.latencies) * 1000, 3),
                "floor_p50_ms": ms3(floor_before.latencies, 50),
                "floor_p99_ms": ms3(floor_before.latencies, 99),
                "floor_before_per_s": round(floor_before.rate, 1),
                "floor_after_per_s": round(floor_after.rate, 1),
                "floor_h11_per_s": round(floor_h11.rate, 1),
                "floor_h11_p99_ms": ms3(floor_h11.latencies, 99),
                "ratio_to_h11_floor": round(ours.rate / floor_h11.rate, 3),
                "checks": len(ours.latencies),
                "warmup_checks": len(warmup.latencies),
                "concurrency": CONCURRENCY,
                "non_200": non_200,
                "wrong_answers": wrong,
                "wrong_examples": [*warmup.wrong_examples, *ours.wrong_examples][:5],
                "floor_wrong_or_non_200": floor_wrong,
                "mid_run_revoke_seen": revoke_seen,
                "mid_run_key_checks_after_revoke": revoke.seen_after,
                "mid_run_key_checks_in_flight": revoke.in_flight,
                "filter_rules_served": len(served_rules),
                "loaded": loaded,
                "cpus": machine()["cpus"],
                "floor": "bench.constant_floor (bare Starlette + uvicorn defaults, constant "
                "JSON), same client, requests, concurrency and count; mean of runs before "
                "and after the API's",
            },
        )
    ]
