"""A crowd of slow, unauthenticated HTTP clients (run as its own process by
test_slow_connections.py): each holds a connection open by sending a request head one header
a second, and connects again a second after the server drops it. Prints `connected <n>` once
every client has connected at least once, or `started <m> of <n>` if the server let fewer in
within 90 s of the crowd's start (a busy
machine needs a good part of that to open 10,000 sockets)."""

from __future__ import annotations

import asyncio
import sys


async def client(host: str, port: int, connected: asyncio.Event, started: list[int]) -> None:
    first = True
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        if first:
            first = False
            started[0] += 1
            if started[0] == started[1]:
                connected.set()
        try:
            writer.write(b"POST /api/v1/alerts HTTP/1.1\r\nHost: smokejumper\r\n")
            while True:
                await writer.drain()
                await asyncio.sleep(1)
                writer.write(b"X-Slow: 1\r\n")
        except OSError:
            writer.close()
            # As a real client backs off: reconnecting at once would make the crowd a busy
            # loop that starves its own process of the CPU the test's timers need.
            await asyncio.sleep(1)


async def main(host: str, port: int, count: int) -> None:
    connected = asyncio.Event()
    started = [0, count]
    ready = asyncio.create_task(asyncio.wait_for(connected.wait(), timeout=90))
    tasks = []
    for n in range(count):
        tasks.append(asyncio.create_task(client(host, port, connected, started)))
        if n % 100 == 99:  # in steps, so the listen backlog is not swamped at once
            await asyncio.sleep(0)
    try:
        await ready
        print(f"connected {count}", flush=True)
    except TimeoutError:
        print(f"started {started[0]} of {count}", flush=True)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
