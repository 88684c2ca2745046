"""`cstapopup gateway` and `cstapopup monitor --broker` as processes, against a real Mosquitto
with TLS and a password file: the same JSON lines as a direct monitor, clear exit codes for
wrong credentials (once, without a retry storm) and for bad options."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys

import pytest

from cstapopup.csta.switch.server import SwitchServer

from . import mosquitto_helpers
from .gateway_helpers import USERS
from .mosquitto_helpers import Mosquitto, wait_until

pytestmark = pytest.mark.skipif(not mosquitto_helpers.available(),
                                reason="mosquitto is not installed (apt-get install mosquitto)")

DEVICES = "100-105"


class Proc:
    """A cstapopup subprocess whose output lines are collected as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "cstapopup", *args]
        self.env = {**os.environ, **(env or {})}
        self.out: list[str] = []
        self.err: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task] = []

    async def start(self) -> Proc:
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL, env=self.env)

        async def read(stream, into) -> None:
            async for line in stream:
                into.append(line.decode().rstrip("\n"))

        self._readers = [asyncio.create_task(read(self.proc.stdout, self.out)),
                         asyncio.create_task(read(self.proc.stderr, self.err))]
        return self

    async def wait(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(asyncio.gather(*self._readers), 5)
        return code

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await self.wait()
        finally:
            if self.proc.returncode is None:
                self.proc.kill()

    def stderr(self) -> str:
        return "\n".join(self.err)


async def kill_all(procs: list[Proc]) -> None:
    """Whatever a test asserted: none of its processes outlives it."""
    for p in procs:
        if p.proc is not None and p.proc.returncode is None:
            p.proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(p.proc.wait(), 10)


def lines_without_cross_ref(lines: list[str]) -> list[dict]:
    out = []
    for line in lines:
        d = json.loads(line)
        d.pop("cross_ref_id")
        out.append(d)
    return out


@pytest.fixture
def tls_broker(tmp_path):
    m = Mosquitto(tmp_path / "broker", users=dict(USERS), tls=True)
    m.start()
    yield m
    m.stop()


async def test_gateway_and_monitor_broker_over_tls_print_what_a_direct_monitor_prints(
        tls_broker, tmp_path):
    server = SwitchServer(port=0, devices=DEVICES, speed=40)
    await server.start()
    ca = str(tls_broker.pki.ca)
    gateway = Proc("gateway", "--port", str(server.port), "--device", "100-103",
                   "--device", "104,105", "--broker", tls_broker.url, "--broker-user", "gateway",
                   "--broker-ca", ca, "--site", "hq",
                   env={"CSTAPOPUP_BROKER_PASSWORD": USERS["gateway"]})
    via_broker = Proc("monitor", "--broker", tls_broker.url, "--broker-user", "alice",
                      "--broker-ca", ca, "--site", "hq", "--device", "100", "--device", "101",
                      "--json", "--db", str(tmp_path / "via-broker.sqlite3"),
                      env={"CSTAPOPUP_BROKER_PASSWORD": USERS["alice"]})
    direct = Proc("monitor", "--port", str(server.port), "--device", "100", "--device", "101",
                  "--json")
    procs = [gateway, via_broker, direct]
    try:
        await gateway.start()
        await direct.start()
        await server.wait_for(lambda: all(server.monitors_of(d) >= 1 for d in
                                          ("100", "101", "102", "103", "104", "105")), 30)
        await server.wait_for(lambda: server.monitors_of("101") == 2, 30)
        await via_broker.start()
        await wait_until(lambda: any("link up" in line for line in via_broker.err), 30,
                         "monitor --broker up")
        for scenario in ("incoming-answered", "transfer", "internal", "deflect"):
            await server.run_scenario(scenario, "100", timeout=20)
        await server.wait_for(lambda: not server.model.calls, 10)
        # Devices 102-105 are the gateway's alone: every event of 100/101 went twice.
        await wait_until(lambda: len(direct.out) >= 20 and len(via_broker.out) >= len(direct.out),
                         20, "the events through the broker")
        codes = [await p.stop() for p in procs]
        assert codes == [0, 0, 0], [p.stderr() for p in procs]
        assert lines_without_cross_ref(via_broker.out) == lines_without_cross_ref(direct.out)
        for p in procs:
            assert USERS["gateway"] not in p.stderr() and USERS["alice"] not in p.stderr()
        assert "monitoring 6 of 6 devices" in gateway.stderr()
        # --db through the broker records as with the PBX (one writer, grouped commits, all
        # committed at the stop): the four calls, none left in progress.
        from cstapopup.calls.store import HistoryStore

        with HistoryStore(tmp_path / "via-broker.sqlite3", readonly=True) as store:
            calls = list(store.iter_calls())
        assert len(calls) >= 4 and all(c.ended_at is not None for c in calls), calls
    finally:
        await kill_all(procs)
        await server.stop()


async def test_wrong_broker_password_exits_with_its_code_after_one_attempt(tls_broker):
    server = SwitchServer(port=0, devices=DEVICES)
    await server.start()
    procs: list[Proc] = []
    try:
        gateway = Proc("gateway", "--port", str(server.port), "--device", DEVICES,
                       "--broker", tls_broker.url, "--broker-user", "gateway",
                       "--broker-ca", str(tls_broker.pki.ca),
                       env={"CSTAPOPUP_BROKER_PASSWORD": "wrong"})
        procs.append(gateway)
        await gateway.start()
        assert await gateway.wait(30) == 5, gateway.stderr()
        assert "refused user gateway" in gateway.stderr()
        assert "wrong" not in gateway.stderr()
        monitor = Proc("monitor", "--broker", tls_broker.url, "--broker-user", "alice",
                       "--broker-ca", str(tls_broker.pki.ca), "--device", "100",
                       env={"CSTAPOPUP_BROKER_PASSWORD": "wrong"})
        procs.append(monitor)
        await monitor.start()
        assert await monitor.wait(30) == 5, monitor.stderr()
        assert "refused user alice" in monitor.stderr()
    finally:
        await kill_all(procs)
        await server.stop()
    refusals = [line for line in tls_broker.log.read_text().splitlines()
                if "not authorised" in line.lower() or "bad user" in line.lower()]
    assert len(refusals) == 2, refusals  # one attempt each: no retry storm


async def test_unreachable_broker_with_once_and_usage_errors(tmp_path):
    port = mosquitto_helpers.free_port()  # nobody listens there
    procs: list[Proc] = []
    try:
        monitor = Proc("monitor", "--broker", f"mqtt://127.0.0.1:{port}", "--device", "100",
                       "--once")
        procs.append(monitor)
        await monitor.start()
        assert await monitor.wait(30) == 4
        assert "127.0.0.1" in monitor.stderr()
        bad_rights = tmp_path / "rights.toml"
        bad_rights.write_text("[users]\nalice = [\"100-\"]\n")
        for args in (
            ["gateway", "--device", "100", "--broker", "http://x"],
            ["gateway", "--device", "120-100", "--broker", "mqtt://127.0.0.1:1"],
            ["gateway", "--device", "100", "--broker", "mqtt://127.0.0.1:1", "--rights",
             str(bad_rights)],
            ["gateway", "--device", "100", "--broker", "mqtt://127.0.0.1:1", "--site", "a/b"],
            ["monitor", "--device", "100", "--broker", "mqtts://127.0.0.1:1",
             "--broker-ca", str(tmp_path / "missing.pem")],
        ):
            p = Proc(*args)
            procs.append(p)
            await p.start()
            assert await p.wait(30) == 2, (args, p.stderr())
            assert p.stderr().strip()
    finally:
        await kill_all(procs)


async def test_a_killed_gateway_is_reported_gone_by_its_last_will(tmp_path):
    from .gateway_helpers import Desktop

    broker = Mosquitto(tmp_path / "broker", users=dict(USERS))
    broker.start()
    server = SwitchServer(port=0, devices=DEVICES)
    await server.start()
    gateway = Proc("gateway", "--port", str(server.port), "--device", DEVICES, "--broker",
                   broker.url, "--broker-user", "gateway",
                   env={"CSTAPOPUP_BROKER_PASSWORD": USERS["gateway"]})
    desk = Desktop(broker, ["100"], None)
    try:
        await gateway.start()
        await server.wait_for(lambda: server.monitors_of("105") == 1, 30)
        await desk.start(timeout=30)
        gateway.proc.send_signal(signal.SIGKILL)
        await gateway.wait()
        await desk.wait(lambda: desk.client.state == "down", 30)
        assert "the office gateway is gone" in desk.client.state_reason
    finally:
        await desk.stop()
        await kill_all([gateway])
        await server.stop()
        broker.stop()
