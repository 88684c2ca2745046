"""How long `cstapopup monitor` takes to end after SIGTERM, in each state of its link.

States: connecting (the PBX's listen queue is full: the TCP connect hangs), associating (the PBX
took the AARQ and never answers), backing off (nothing listens: waiting to retry), up (the
simulator, two monitors, an orderly release) and paused (a fake PBX floods more events than the
monitor can print and record).  Each is measured --runs times from the signal to the process's
end, as the test's parent sees it (Python's own start-up is not in it).  Target: under a second.

Run: .venv/bin/python benchmarks/monitor_stop.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cstapopup.csta.switch.server import SwitchServer  # noqa: E402
from cstapopup.csta.testing.fakepbx import FakePbx, call_events, event_frames  # noqa: E402


async def run_monitor(port: int, *extra: str, ready: str) -> float:
    """Start a monitor, wait for the stderr line containing `ready`, SIGTERM it: the seconds
    until it has ended."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cstapopup", "monitor", "--port", str(port), "-d", "100", *extra,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    assert proc.stderr is not None
    try:
        async def seen() -> None:
            while line := await proc.stderr.readline():
                if ready in line.decode():
                    return
            raise RuntimeError("the monitor ended early")

        await asyncio.wait_for(seen(), 60)
        start = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 60)
        return time.perf_counter() - start
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@contextlib.asynccontextmanager
async def hanging_listener() -> AsyncIterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    try:
        yield port
    finally:
        for c in fillers:
            c.close()
        listener.close()


async def connecting() -> float:
    async with hanging_listener() as port:
        return await run_monitor(port, ready="link connecting")


async def associating() -> float:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    try:
        return await run_monitor(server.sockets[0].getsockname()[1], ready="link connecting")
    finally:
        server.close()


async def backing_off() -> float:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return await run_monitor(port, ready="retry in")


async def up() -> float:
    async with SwitchServer(port=0, devices="100-101") as server:
        return await run_monitor(server.port, "-d", "101", ready="monitoring 101")


FLOOD: list[bytes] = []


async def paused() -> float:
    async with FakePbx() as pbx:
        if not FLOOD:
            FLOOD.extend(event_frames(call_events(b"\x00\x01", 20000)))

        async def flood() -> None:
            link = await pbx.wait_link(1, 60)
            await link.wait_monitor("100", 60)
            while True:
                await link.flood(FLOOD)

        task = asyncio.create_task(flood())
        with tempfile.TemporaryDirectory() as tmp:
            try:
                return await run_monitor(pbx.port, "--json", "--db",
                                         str(Path(tmp) / "h.sqlite"),
                                         ready="reading paused until it catches up")
            finally:
                task.cancel()


STATES: dict[str, Callable[[], object]] = {
    "connecting": connecting, "associating": associating, "backing off": backing_off,
    "up": up, "paused by backpressure": paused,
}


async def main(runs: int) -> None:
    for name, measure in STATES.items():
        took = [await measure() for _ in range(runs)]  # type: ignore[misc]
        print(f"SIGTERM -> exit while {name}: median {statistics.median(took):.2f} s, "
              f"max {max(took):.2f} s over {runs} runs (target < 1 s)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    asyncio.run(main(ap.parse_args().runs))
