"""Helpers for the gateway tests: a gateway in this process, headless desktops (GatewayClient
feeding a Recorder on a temporary SQLite file), and waiting for conditions with a bound."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

from cstapopup.calls.recorder import Recorder
from cstapopup.csta.client import ClientOptions, LinkStateChanged, MonitorEvent, MonitorSnapshot
from cstapopup.gateway.broker import parse_broker_url
from cstapopup.gateway.client import GatewayClient, GatewayClientOptions
from cstapopup.gateway.rights import RightsFile
from cstapopup.gateway.service import Gateway, GatewayOptions, PbxSettings
from cstapopup.gateway.wire import event_dict

from .mosquitto_helpers import Mosquitto

FAST_PBX = {"backoff_initial": 0.05, "backoff_max": 0.3, "connect_timeout": 3.0, "request_timeout": 3.0}
USERS = {"gateway": "gw-secret", "alice": "alice-pw", "bob": "bob-pw", "admin": "admin-pw"}


def gateway_options(**extra) -> GatewayOptions:
    return GatewayOptions(**{"backoff_initial": 0.05, "backoff_max": 0.3, "broker_keepalive": 5,
                             "client": ClientOptions(**FAST_PBX), "rng": random.Random(1),
                             **extra})


def client_options(**extra) -> GatewayClientOptions:
    return GatewayClientOptions(**{"backoff_initial": 0.05, "backoff_max": 0.3,
                                   "connect_timeout": 5.0, "request_timeout": 5.0,
                                   "keepalive": 5, **extra})


class RunningGateway:
    """A Gateway run as a task; `stop()` waits for it."""

    def __init__(self, broker: Mosquitto, pbx_port: int, devices: list[str], *,
                 rights: Path | None = None, site: str = "default", **options) -> None:
        settings = parse_broker_url(broker.url, user="gateway", password=broker.users["gateway"],
                                    ca_file=str(broker.pki.ca) if broker.pki else None)
        self.gateway = Gateway(PbxSettings("127.0.0.1", pbx_port), settings, devices, site=site,
                               rights=RightsFile(rights), options=gateway_options(**options))
        self.task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 10.0) -> Gateway:
        self.task = asyncio.create_task(self.gateway.run())
        await asyncio.wait_for(self.gateway.connected.wait(), timeout)
        return self.gateway

    async def stop(self) -> None:
        if self.task is None:
            return
        self.gateway.stop()
        await asyncio.wait_for(self.task, 20)
        self.task = None


class Desktop:
    """A headless desktop: a GatewayClient whose items go into a Recorder (SQLite)."""

    def __init__(self, broker: Mosquitto, devices: list[str], db: Path | None, *,
                 user: str = "alice", site: str = "default", **options) -> None:
        settings = parse_broker_url(broker.url, user=user, password=broker.users[user],
                                    ca_file=str(broker.pki.ca) if broker.pki else None)
        self.client = GatewayClient(settings, site, client_options(**options))
        self.devices = devices
        self.recorder = Recorder.open(db, monitored=devices, snapshots=True) if db else None
        self.items: list = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 10.0) -> Desktop:
        self._task = asyncio.create_task(self._consume())
        await asyncio.sleep(0)
        for d in self.devices:
            await self.client.monitor_start(d)
        await self.client.connect()
        await self.client.wait_up(timeout)
        return self

    async def _consume(self) -> None:
        async for item in self.client.events():
            self.items.append(item)
            if self.recorder is not None:
                if isinstance(item, MonitorEvent):
                    self.recorder.feed(item.device, item.event)
                elif isinstance(item, MonitorSnapshot):
                    self.recorder.snapshot(item.device, item.calls)
                elif isinstance(item, LinkStateChanged) and item.state == "down":
                    self.recorder.link_lost()
            self._changed.set()

    @property
    def events(self) -> list[MonitorEvent]:
        return [i for i in self.items if isinstance(i, MonitorEvent)]

    @property
    def states(self) -> list[LinkStateChanged]:
        return [i for i in self.items if isinstance(i, LinkStateChanged)]

    def lines(self, device: str | None = None) -> list[dict]:
        """The events as `monitor --json` objects, without the monitor's cross-ref id (each
        link has its own)."""
        out = []
        for e in self.events:
            if device is None or e.device == device:
                d = event_dict(e.device, e.event)
                d.pop("cross_ref_id")
                out.append(d)
        return out

    async def wait(self, predicate, timeout: float = 15.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.recorder is not None:
            self.recorder.close()


def rows_by_gid(recorder: Recorder) -> dict[str | None, list]:
    out: dict[str | None, list] = {}
    for call in recorder.store.iter_calls():
        gid = call.key.split(":")[1] if call.key.startswith("g:") else None
        out.setdefault(gid, []).append(call)
    return out
