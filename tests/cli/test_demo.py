"""`smokejumper demo` as a newcomer runs it: every example alert opens its incident, the
local control plane contains, Slack hears of it, the printed approve commands work, nothing
leaks and nothing is left running."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote_plus

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types import TextContent

from integrations.endpoints.local import LocalEndpoints
from integrations.keys.local import LocalKeys
from tests.console.test_access import csrf_of
from tests.helpers import free_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "alerts"
PLAYBOOKS = {
    "generic.json": "prompt-injection",
    "data_leakage.json": "sensitive-data-leakage",
    "prompt_injection_indirect.json": "prompt-injection",
    "prompt_injection_agentic.json": "prompt-injection",
    "model_extraction.json": "model-extraction",
    "model_compromise.json": "model-compromise",
    "native/llm_guard_output_secret.json": "sensitive-data-leakage",
    "native/azure_prompt_shields_document_attack.json": "prompt-injection",
    "native/model_integrity_mismatch.json": "model-compromise",
    "system_prompt_leakage.json": "system-prompt-leakage",
}
# Planted in the example alerts; the demo's output and Slack must never carry them in clear.
PLANTED = (
    "AKIAIOSFODNN7EXAMPLE",
    # The leaked system prompt's own words, and its canary as the model spelled it.
    "You are SupportBot",
    "sj-canary 5f0c 8e21 d7a4",
    "jane.doe@example.com",
    "sj_live_ab41c9e07d2f8a65",
    "trucy@fakemail.com",
)
FIRED = re.compile(r"^  examples/alerts/(\S+)\s+opened (INC-\d{4}-\d{4})  \(playbook (\S+)\)$")


def processes_mentioning(text: str) -> list[str]:
    """Processes whose command line or environment names `text` (the demo's data dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in seen:
            found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:200]!r}")
    return found


def assert_no_planted_secret(where: str, text: str) -> None:
    for secret in PLANTED:
        assert secret not in text, f"{secret} in clear in {where}"


class Lines:
    """The demo's stdout, read as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout

        def pump() -> None:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
            self._queue.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def until(self, pattern: str, within: float) -> re.Match[str]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; stdout:\n" + "\n".join(self.seen))


def assistant_adds_note(client_file: Path, ref: str, text: str) -> dict[str, object]:
    """An assistant started as the demo's MCP client file says, adding a note."""
    entry = json.loads(client_file.read_text())["mcpServers"]["smokejumper-demo"]

    async def go() -> dict[str, object]:
        server = StdioServerParameters(command=entry["command"], args=entry["args"])
        async with Client(server) as client:
            result = await client.call_tool("add_note", {"incident": ref, "text": text})
        answer = "".join(b.text for b in result.content if isinstance(b, TextContent))
        assert not result.is_error, answer
        note: dict[str, object] = json.loads(answer)
        return note

    return anyio.run(go)


def cli(command: str) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    assert argv[0] == "smokejumper"
    return subprocess.run(
        [sys.executable, "-m", "cli", *argv[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_demo_fires_every_example_contains_and_resumes_for_approval(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    ports = [str(free_port()) for _ in range(4)]
    port_options = ["--api-port", ports[0], "--temporal-port", ports[1]]
    port_options += ["--temporal-ui-port", ports[2], "--slack-port", ports[3]]
    once = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "demo",
            "--once",
            "--data-dir",
            str(data),
            *port_options,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert once.returncode == 0, once.stdout + once.stderr
    out = once.stdout

    # One incident per example alert, each with the playbook the example is written for.
    fired = {m[1]: (m[2], m[3]) for line in out.splitlines() if (m := FIRED.match(line))}
    examples = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.json")}
    assert set(fired) == examples == set(PLAYBOOKS), out
    assert {name: playbook for name, (_, playbook) in fired.items()} == PLAYBOOKS
    assert len({ref for ref, _ in fired.values()}) == len(PLAYBOOKS)
    console = f"http://127.0.0.1:{ports[0]}/incidents/"
    for ref, _ in fired.values():
        assert f"{ref}  " in out and f"{console}{ref}" in out

    # Containment happened at the embedded control plane, before anyone approved.
    keys = LocalKeys(data / "keys.json")
    assert keys.state("AKIAIOSFODNN7EXAMPLE").status == "inactive"  # data_leakage.json
    assert keys.state("key-support-web").status == "inactive"  # llm_guard_output_secret.json
    blocked = json.loads((data / "principals.json").read_text())["principals"]
    assert blocked["user:u-18273"]["status"] == "blocked"  # generic.json
    assert blocked["api_key:key-partner-acme"]["status"] == "blocked"  # model_extraction.json
    documents = json.loads((data / "documents.json").read_text())["documents"]
    assert documents["kb/returns-policy.md"]["status"] == "quarantined"
    assert "contained: revoke_key [REDACTED" in out

    # Slack (the emulator) got a card for every incident, and nothing planted in clear.
    recorded = [json.loads(line) for line in (data / "slack-requests.jsonl").open()]
    triage = [
        r["body"]
        for r in recorded
        if r["method"] == "chat.postMessage" and "CDEMOTRIAGE" in r["body"]
    ]
    for ref, _ in fired.values():
        assert any(f"incident {ref}:" in body for body in triage), ref
    assert_no_planted_secret("Slack", "\n".join(unquote_plus(r["body"]) for r in recorded))
    assert_no_planted_secret("the demo's output", out + once.stderr)
    assert not processes_mentioning(str(data)), "a demo process outlived --once"

    # Case work on the first incident (a commander, an assignee, a note and a task through
    # the API) and its service levels from the demo's [slas.*]; the commands to go on.
    first = re.search(r"^Incidents \(console pages\):\n  (INC-\d{4}-\d{4}) ", out, re.M)
    assert first, out
    ref = first[1]
    assert f"Case work on {ref} " in out
    case = re.search(
        r"^  commander alice, assignees operator, 1 note, task (\d+) open for alice$", out, re.M
    )
    assert case, out
    sla = r"within \d+ min, by \d\d:\d\d UTC \((running|met|met late|breached)\)"
    assert re.search(rf"^  SLA \(\w+\): acknowledge {sla}; contain {sla}$", out, re.M), out
    note_command = re.search(rf"^\s+(smokejumper .* incidents note {ref} .*)$", out, re.M)
    done_command = re.search(rf"^\s+(smokejumper .* tasks done {ref} {case[1]} .*)$", out, re.M)
    assert note_command and done_command, out
    # The assistant's API token: in a 0600 file, named but never printed nor logged.
    token_file = data / "secrets" / "api-token-alice"
    assert f"API token in {token_file}" in out
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("sjt_")
    logs = "".join(log.read_text(errors="replace") for log in (data / "logs").iterdir())
    assert token not in out + once.stderr + logs
    assert re.search(
        rf'^\s+SMOKEJUMPER_TOKEN="\$\(cat {token_file}\)" smokejumper -c \S+ mcp$', out, re.M
    )

    # The printed approve command moves a playbook on; run again on the same data dir, the
    # demo resumes the incidents rather than firing the alerts again.
    compromise = fired["model_compromise.json"][0]
    leak = fired["data_leakage.json"][0]
    purge = re.search(rf"^\s+(smokejumper .* approve {leak} 'purge memory' .*)$", out, re.M)
    assert purge, out
    command = re.search(
        rf"^\s+(smokejumper .* approve {compromise} 'isolate endpoints' .*)$", out, re.M
    )
    assert command, out
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "demo", "--data-dir", str(data)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "demo.log").open("w"),
        text=True,
    )
    lines = Lines(process)
    try:
        console_line = lines.until(r"^  Console:\s+(\S+)/  \(user alice, password in (\S+)\)", 90)
        slack = lines.until(r"^  Slack:\s+(\S+)/ ", within=30)[1]
        lines.until("Resuming the incidents", within=30)
        lines.until("Press Ctrl-C to stop", within=90)
        approved = cli(command[1])
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert f"isolate endpoints on {compromise}: approved by operator" in approved.stdout
        lines.until(rf"{compromise}  contained: isolate_endpoint \S*support-bot-prod", within=60)
        lines.until(rf"{compromise}  waits for approval of 'roll back model'", within=60)
        assert LocalEndpoints(data / "endpoints.json").verify_isolated("support-bot-prod")

        # The leaking conversation's memory, seeded by the demo, goes on approval.
        memory = data / "memory.json"
        assert "message_store:sess_01HZX3K9" in json.loads(memory.read_text())["memory"]
        assert cli(purge[1]).returncode == 0
        lines.until(rf"{leak}  contained: purge_memory ", within=60)
        assert "message_store:sess_01HZX3K9" not in json.loads(memory.read_text())["memory"]

        # The printed case commands work; the resumed demo wrote no second note or task.
        resumed_case = f"  commander alice, assignees operator, 1 note, task {case[1]} open"
        assert any(line.startswith(resumed_case) for line in lines.seen), lines.seen
        assert cli(note_command[1]).returncode == 0
        finished = cli(done_command[1])
        assert finished.returncode == 0, finished.stdout + finished.stderr
        # An assistant started as the demo's MCP client file says acts as alice, via mcp.
        client_file = data / "mcp-client.json"
        assert str(client_file) in out and token not in client_file.read_text()
        by_assistant = assistant_adds_note(client_file, ref, "Assistant: owner informed")
        assert (by_assistant["author"], by_assistant["via"]) == ("alice", "mcp")

        # The console user the demo printed can sign in and sees the approval waiting.
        password = Path(console_line[2]).read_text().strip()
        with httpx.Client(base_url=console_line[1], timeout=10) as browser:
            form = browser.get("/login")
            signed = browser.post(
                "/login",
                data={"username": "alice", "password": password, "csrf_token": csrf_of(form)},
            )
            assert signed.status_code == 303, signed.text
            page = browser.get(f"/incidents/{compromise}")
            assert page.status_code == 200 and "roll back model" in page.text

            # The first incident's page shows its commander, assignee, task and notes.
            casework = browser.get(f"/incidents/{ref}").text
            assert re.search(r'data-testid="commander">alice<', casework)
            assert re.search(r'data-testid="assignees">operator<', casework)
            assert "confirm nothing else leaked" in casework
            assert re.search(rf'data-testid="task-{case[1]}">(?:(?!</tr>).)*>done<', casework, re.S)
            for text in ("First look:", "nothing else leaked", "Assistant: owner informed"):
                assert text in casework, text

            # The printed restore retests the endpoint (the demo's model) before it lifts
            # the block; alice approves it, since the operator asked.
            injection = fired["generic.json"][0]
            restore = re.search(
                rf"^\s+(smokejumper .* incidents restore {injection} .*)$", out, re.M
            )
            assert restore, out
            assert cli(restore[1]).returncode == 0
            lines.until(rf"{injection}  waits for approval of 'restore'", within=60)
            voted = browser.post(
                f"/incidents/{injection}/approvals/restore",
                data={"decision": "approve", "csrf_token": csrf_of(page)},
            )
            assert voted.status_code == 303, voted.text
            lines.until(rf"{injection}  Retest passed: \d+ probes answered, nothing flagged", 60)
            lines.until(rf"{injection}  contained: block_principal user:u-18273 \(restored\)", 60)

        page = httpx.get(f"{slack}/", timeout=10)
        assert page.status_code == 200 and "Slack emulator" in page.text
        view = httpx.get(f"{slack}/messages.json", timeout=10).json()
        assert any(
            compromise in message["text"]
            for channel in view["channels"]
            for message in channel["messages"]
        ), view
        assert httpx.post(f"{slack}/messages.json", timeout=10).status_code == 405
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    assert code == 0, (tmp_path / "demo.log").read_text()
    assert_no_planted_secret("the demo's output", "\n".join(lines.seen))
    assert not processes_mentioning(str(data)), "a demo process outlived Ctrl-C"


def test_demo_refuses_half_the_port_options(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "demo", "--api-port", "18000"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "give all of --api-port" in result.stderr
    assert not list(tmp_path.iterdir())
