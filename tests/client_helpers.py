"""Helpers shared by the tests that run a real CstaClient against a simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib

from cstapopup.csta.client import (
    ClientOptions,
    CstaClient,
    LinkStateChanged,
    MonitorEvent,
    MonitorSnapshot,
)
from cstapopup.csta.switch.server import SwitchServer

#: ClientOptions keywords for every test client (the one place for them): quick reconnects
#: and short timeouts, so that a test of a link loss takes fractions of a second.
QUICK_CLIENT = {"backoff_initial": 0.05, "backoff_max": 0.2, "connect_timeout": 3.0,
                "request_timeout": 3.0}


def fast_options(**extra) -> ClientOptions:
    """ClientOptions for a test client: QUICK_CLIENT with `extra` on top."""
    return ClientOptions(**{**QUICK_CLIENT, **extra})


class Collector:
    """Collects a client's items; lets a test await a condition on them."""

    def __init__(self, client: CstaClient, timeout: float = 10.0) -> None:
        self.items: list = []
        self.timeout = timeout
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(client))

    async def _run(self, client: CstaClient) -> None:
        async for item in client.events():
            self.items.append(item)
            self._changed.set()

    @property
    def events(self) -> list[MonitorEvent]:
        return [i for i in self.items if isinstance(i, MonitorEvent)]

    @property
    def states(self) -> list[LinkStateChanged]:
        return [i for i in self.items if isinstance(i, LinkStateChanged)]

    @property
    def snapshots(self) -> list[MonitorSnapshot]:
        return [i for i in self.items if isinstance(i, MonitorSnapshot)]

    async def wait(self, predicate, timeout: float | None = None) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout or self.timeout)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def running(server: SwitchServer):
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
