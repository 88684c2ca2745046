"""`cstapopup monitor` as a service: it retries its first connection too (unless --once), stops
promptly on SIGTERM / SIGINT in every state, and a link that delivers no complete frame within
the keep-alive window is dead even if bytes trickle in.  Real processes and real TCP on
127.0.0.1 (the simulator, a mute server, the scripted fake PBX)."""

from __future__ import annotations

import asyncio
import signal
import socket

import pytest

from cstapopup.csta import codec, framing, operations
from cstapopup.csta.client import CstaClient, LinkStateChanged
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.csta.testing.fakepbx import FakePbx, call_events, event_frames

from .client_helpers import Collector, fast_options
from .monitor_process import MonitorProcess

TIMEOUT = 20.0
#: How long a stop may take in these tests.  The target is under a second; the bound leaves
#: room for a loaded machine and stays far below the 10 s association timeout that the
#: association-state stop used to wait for.
STOP_BOUND = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_first_connect_is_retried_until_the_pbx_is_there():
    port = free_port()
    proc = await MonitorProcess.start("--port", str(port), "-d", "100")
    server = None
    try:
        await proc.wait_line("refused", times=2)  # each failure reported, no exit
        assert proc.proc.returncode is None
        assert proc.count("retry in") >= 2
        server = SwitchServer(port=port, devices="100-101")
        await server.start()
        await proc.wait_line("monitoring 100")
        await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=TIMEOUT)
        rc, _ = await proc.stop()
    finally:
        await proc.kill()
        if server is not None:
            await server.stop()
    assert rc == 0, proc.stderr


async def test_with_once_the_first_failed_connect_ends_it_with_code_4():
    proc = await MonitorProcess.start("--port", str(free_port()), "-d", "100", "--once")
    try:
        rc = await proc.exit_code()
    finally:
        await proc.kill()
    assert rc == 4, proc.stderr
    assert "refused" in proc.stderr


# Stopping in every state ------------------------------------------------------------------


async def test_stop_while_connecting():
    """The TCP connection itself hangs: a listener that never accepts, its queue full, so the
    kernel drops the monitor's SYNs (the connect would take the 10 s connect timeout)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    proc = await MonitorProcess.start("--port", str(port), "-d", "100")
    try:
        await proc.wait_line("link connecting")
        rc, took = await proc.stop()
    finally:
        await proc.kill()
        for c in fillers:
            c.close()
        listener.close()
    assert rc == 0, proc.stderr
    assert took < STOP_BOUND, took
    assert "link down" not in proc.stderr  # it was still connecting when stopped


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stop_while_associating(sig):
    """The PBX takes the TCP connection and the AARQ and never answers."""
    got_aarq = asyncio.Event()

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await reader.read(4096):
            got_aarq.set()
        await reader.read()  # until the client goes

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proc = await MonitorProcess.start("--port", str(port), "-d", "100")
    try:
        await asyncio.wait_for(got_aarq.wait(), TIMEOUT)
        rc, took = await proc.stop(sig)
    finally:
        await proc.kill()
        server.close()
    assert rc == 0, proc.stderr
    assert took < STOP_BOUND, took


async def test_stop_while_backing_off():
    proc = await MonitorProcess.start("--port", str(free_port()), "-d", "100")
    try:
        await proc.wait_line("retry in")
        rc, took = await proc.stop()
    finally:
        await proc.kill()
    assert rc == 0, proc.stderr
    assert took < STOP_BOUND, took


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_stop_while_up_leaves_the_pbx_properly(sig):
    server = SwitchServer(port=0, devices="100-101")
    await server.start()
    proc = await MonitorProcess.start("--port", str(server.port), "-d", "100", "-d", "101")
    try:
        await proc.wait_line("monitoring 101")
        rc, took = await proc.stop(sig)
        await server.wait_for(lambda: server.associated_links == [], timeout=TIMEOUT)
        assert server.monitors_of("100") == 0 and server.monitors_of("101") == 0
    finally:
        await proc.kill()
        await server.stop()
    assert rc == 0, proc.stderr
    assert took < STOP_BOUND, took


async def test_stop_while_paused_by_a_flood(tmp_path):
    """The PBX sends far more than the monitor can print and record: reading pauses (the
    monitor says so), and SIGTERM still ends it promptly."""
    async with FakePbx() as pbx:
        proc = await MonitorProcess.start("--port", str(pbx.port), "-d", "100", "--json",
                                          "--db", str(tmp_path / "history.sqlite"))
        flood = None
        try:
            link = await pbx.wait_link(1, TIMEOUT)
            cross_ref = await link.wait_monitor("100", TIMEOUT)
            frames = event_frames(call_events(cross_ref, 20000))

            async def flood_on() -> None:
                while True:  # the same calls again and again: more than TCP buffers hold
                    await link.flood(frames)

            flood = asyncio.create_task(flood_on())
            await proc.wait_line("reading paused until it catches up")
            rc, took = await proc.stop()
        finally:
            await proc.kill()
            if flood is not None:
                flood.cancel()
    assert rc == 0, proc.stderr
    assert took < STOP_BOUND, took
    assert "reading from the PBX was paused" in proc.stderr
    assert "nothing was dropped" in proc.stderr


async def wait_until(predicate, timeout: float = TIMEOUT) -> None:
    async def loop() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), timeout)


# Liveness counts frames, not bytes -------------------------------------------------------


async def test_a_pbx_trickling_bytes_without_a_frame_is_declared_dead():
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=fast_options(
            keepalive_interval=0.3, keepalive_timeout=0.3, snapshot_monitors=False))
        col = Collector(client, TIMEOUT)
        trickle = None
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            link = pbx.links[0]
            # A frame header announcing 8000 bytes, then its bytes one by one, 20 per second:
            # something arrives all the time, a frame never completes.
            trickle = asyncio.create_task(link.trickle(b"\x26\x9f\x40" + bytes(8000), 0.05))
            await col.wait(lambda: any(s.state == "down" for s in col.states))
            down = next(s for s in col.states if s.state == "down")
            assert "no complete frame" in down.reason and "dead" in down.reason
            assert not trickle.done()  # it was still trickling when the link was declared dead
            # and the client makes a new link
            await pbx.wait_link(2, TIMEOUT)
            await col.wait(lambda: sum(s.state == "up" for s in col.states) >= 2)
        finally:
            if trickle is not None:
                trickle.cancel()
            await client.close(timeout=1.0)
            await col.stop()


async def test_complete_frames_however_slow_keep_the_link_alive():
    """SystemStatus invokes every 0.15 s, each a whole frame, with keep-alive 0.3 + 0.3 s:
    the link stays up (and the client never needs its probe answered)."""
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=fast_options(
            keepalive_interval=0.3, keepalive_timeout=0.3, snapshot_monitors=False))
        col = Collector(client, TIMEOUT)
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            link = pbx.links[0]
            link.silent = True  # answers nothing, probes included
            status = framing.frame(codec.encode_apdu(codec.Invoke(
                77, operations.SYSTEM_STATUS, {"systemStatus": "normal"})))
            for _ in range(12):  # 1.8 s: three keep-alive windows
                link.write(status)
                await asyncio.sleep(0.15)
            assert client.state == "up"
            assert not any(isinstance(s, LinkStateChanged) and s.state == "down"
                           for s in col.states)
        finally:
            await client.close(timeout=1.0)
            await col.stop()
