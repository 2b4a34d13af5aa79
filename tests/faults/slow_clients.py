"""A crowd of slow, unauthenticated HTTP clients (run as its own process by
test_slow_connections.py): each holds a connection open by sending a request head one header
a second, and connects again when the server drops it. Prints `connected <n>` once every
client has connected at least once, or `started <n>` after 20 s if the server let fewer in."""

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


async def main(host: str, port: int, count: int) -> None:
    connected = asyncio.Event()
    started = [0, count]
    tasks = []
    for _ in range(count):
        tasks.append(asyncio.create_task(client(host, port, connected, started)))
        await asyncio.sleep(0)
    try:
        await asyncio.wait_for(connected.wait(), timeout=20)
        print(f"connected {count}", flush=True)
    except TimeoutError:
        print(f"started {count}", flush=True)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
