"""The asyncio client against the switch simulator over real TCP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from cstapopup.csta import codec, framing, operations
from cstapopup.csta.client import (
    AssociationRejectedError,
    ClientOptions,
    ConnectError,
    CstaClient,
    CstaServiceError,
)
from cstapopup.csta.switch import faults
from cstapopup.csta.switch.server import SwitchServer

from .client_helpers import Collector, fast_options, running


def is_subsequence(needles: list[str], hay: list[str]) -> bool:
    it = iter(hay)
    return all(any(n == h for h in it) for n in needles)


EXPECTED = {
    "incoming-answered": (["100"], ["delivered", "established", "connection_cleared"]),
    "incoming-missed": (["100"], ["delivered", "connection_cleared"]),
    "incoming-busy": (["100"], ["failed"]),
    "outgoing": (["100"], ["service_initiated", "originated", "network_reached", "established", "connection_cleared"]),
    "internal": (["100", "101"], ["delivered", "established", "connection_cleared"]),
    "transfer": (["100", "101"], ["delivered", "established", "held", "transferred"]),
    "deflect": (["100", "101", "102"], ["delivered", "diverted"]),
    "restricted-caller": (["100"], ["delivered", "established", "connection_cleared"]),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
async def test_every_scenario_reaches_the_client(scenario):
    devices, expected = EXPECTED[scenario]
    server = SwitchServer(port=0, devices="100-105", speed=40)
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(client)
        try:
            await client.connect()
            for d in devices:
                await client.monitor_start(d)
            records = await server.run_scenario(scenario, "100", timeout=20)
            assert records, "the scenario finished no call"
            await col.wait(lambda: is_subsequence(expected, [e.event.name for e in col.events if e.device == "100"]))
            at_100 = [e.event for e in col.events if e.device == "100"]
            if scenario == "restricted-caller":
                delivered = next(e for e in at_100 if e.name == "delivered")
                assert delivered.calling_device.kind == "restricted"
            if scenario == "incoming-answered":
                delivered = next(e for e in at_100 if e.name == "delivered")
                assert delivered.calling_device.is_known and delivered.associated_calling_device is not None
            if scenario == "internal":
                await col.wait(lambda: any(e.device == "101" and e.event.name == "established" for e in col.events))
        finally:
            await client.close()
            await col.stop()


async def test_callbacks_per_event_kind_and_perl_style_names():
    server = SwitchServer(port=0, devices="100-103", speed=40)
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        got: dict[str, list[str]] = {"delivered": [], "established": [], "connection_cleared": [], "link": []}
        client.on_delivered(lambda device, ev: got["delivered"].append(device))
        client.on_established(lambda device, ev: got["established"].append(device))
        cleared_seen = asyncio.Event()

        async def cleared(device, ev):  # coroutine callbacks are scheduled
            got["connection_cleared"].append(device)
            cleared_seen.set()

        client.on_connection_cleared(cleared)
        client.on("link", lambda change: got["link"].append(change.state))
        client.on("delivered", lambda device, ev: 1 / 0)  # a failing callback must not matter
        try:
            await client.connect()
            await client.monitor_start("100")
            await server.run_scenario("incoming-answered", "100", timeout=20)
            await asyncio.wait_for(cleared_seen.wait(), 10)
            assert got["delivered"] == ["100"] and got["established"] == ["100"]
            assert got["link"][:2] == ["connecting", "up"]
        finally:
            await client.close()
        assert got["link"][-1] == "closed"


async def test_two_clients_monitor_the_same_device_and_both_see_the_call():
    server = SwitchServer(port=0, devices="100-103", speed=40)
    async with running(server):
        a = CstaClient("127.0.0.1", server.port, options=fast_options())
        b = CstaClient("127.0.0.1", server.port, options=fast_options())
        ca, cb = Collector(a), Collector(b)
        try:
            await a.connect()
            await b.connect()
            ha = await a.monitor_start("100")
            hb = await b.monitor_start("100")
            assert ha.cross_ref_id and hb.cross_ref_id
            await server.run_scenario("incoming-answered", "100", timeout=20)
            for col in (ca, cb):
                await col.wait(lambda col=col: "established" in [e.event.name for e in col.events])
            assert [e.event.name for e in ca.events][:2] == [e.event.name for e in cb.events][:2]
        finally:
            await a.close()
            await b.close()
            await ca.stop()
            await cb.stop()


async def test_wrong_password_is_a_clear_rejection():
    server = SwitchServer(port=0, devices="100-101")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, "AMHOST", "wrong", options=fast_options())
        with pytest.raises(AssociationRejectedError, match="password"):
            await client.connect()
        assert client.state != "up"


async def test_refused_connection_is_a_clear_error():
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    client = CstaClient("127.0.0.1", port, options=fast_options())
    with pytest.raises(ConnectError, match="refused"):
        await client.connect()


async def test_connect_timeout_when_the_peer_never_answers_the_association():
    async def mute(reader, writer):
        await reader.read(1000)   # the AARQ, never answered
        await reader.read()       # until the client gives up and closes

    srv = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        client = CstaClient("127.0.0.1", port, options=fast_options(connect_timeout=0.5))
        with pytest.raises(ConnectError, match="did not answer"):
            await client.connect()
    finally:
        srv.close()


async def test_a_device_the_pbx_does_not_have():
    server = SwitchServer(port=0, devices="100-101")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        try:
            await client.connect()
            with pytest.raises(CstaServiceError) as info:
                await client.monitor_start("999")
            assert info.value.reason == "invalid_monitor_object"
            assert [h.device for h in client.monitors] == []
            assert client.state == "up"
        finally:
            await client.close()


async def test_simulator_restarted_under_a_running_client():
    server = SwitchServer(port=0, devices="100-103", speed=40)
    await server.start()
    port = server.port
    client = CstaClient("127.0.0.1", port, options=fast_options())
    col = Collector(client)
    try:
        await client.connect()
        handle = await client.monitor_start("100")
        await server.stop()
        await col.wait(lambda: any(s.state == "down" for s in col.states))
        server = SwitchServer(port=port, devices="100-103", speed=40)
        await server.start()
        await col.wait(lambda: sum(s.state == "up" for s in col.states) >= 2, timeout=15)
        await server.wait_for(lambda: server.monitors_of("100") == 1, timeout=10)
        assert handle.active and handle.cross_ref_id is not None
        before = len(col.events)
        await server.run_scenario("incoming-answered", "100", timeout=20)
        await col.wait(lambda: [e.event.name for e in col.events[before:]].count("established") >= 1)
        names = [e.event.name for e in col.events[before:]]
        # each event exactly once: no duplicate monitor, no duplicate delivery
        assert names.count("delivered") == 1 and names.count("established") == 1
        assert client.reconnects >= 1
    finally:
        await client.close()
        await col.stop()
        await server.stop()


async def test_a_silent_peer_is_noticed_and_the_client_reconnects():
    server = SwitchServer(port=0, devices="100-101")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port,
                            options=fast_options(keepalive_interval=0.3, keepalive_timeout=0.3))
        col = Collector(client)
        try:
            await client.connect()
            await client.monitor_start("100")
            server.set_silent(True)
            await col.wait(lambda: any(s.state == "down" and "dead" in s.reason for s in col.states), timeout=10)
            server.set_silent(False)
            await col.wait(lambda: sum(s.state == "up" for s in col.states) >= 2, timeout=10)
            await server.wait_for(lambda: server.monitors_of("100") >= 1, timeout=10)
        finally:
            await client.close()
            await col.stop()


class _ProbeCounter(logging.Handler):
    """Counts the invokes the switch receives (its wire trace): the client's probes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if " <- invoke:" in record.getMessage():
            self.count += 1


async def test_keepalive_probe_keeps_a_quiet_but_alive_link_up():
    """The client probes a quiet link every 0.2 s and calls it dead after 1 s without an
    answer: once the switch has had six probes (so at least 1 s has passed since the first,
    without waiting for the clock), the link is still up and has never been down."""
    server = SwitchServer(port=0, devices="100-101", trace=True)
    wire = logging.getLogger("cstapopup.csta.switch.wire")
    probes = _ProbeCounter()
    level = wire.level
    wire.addHandler(probes)
    wire.setLevel(logging.DEBUG)
    try:
        async with running(server):
            client = CstaClient("127.0.0.1", server.port,
                                options=fast_options(keepalive_interval=0.2, keepalive_timeout=1.0))
            col = Collector(client)
            try:
                await client.connect()
                await server.wait_for(lambda: probes.count >= 6, 10)
                assert client.state == "up"
                assert not any(s.state == "down" for s in col.states)
            finally:
                await client.close()
                await col.stop()
    finally:
        wire.removeHandler(probes)
        wire.setLevel(level)


async def test_undecodable_and_unknown_event_reports_are_skipped_and_the_link_stays_up():
    server = SwitchServer(port=0, devices="100-103", speed=40)
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(client)
        try:
            await client.connect()
            handle = await client.monitor_start("100")
            server.inject(faults.UNDECODABLE_EVENT_REPORT)
            server.inject(faults.unknown_event_report(77, handle.cross_ref_id))
            await server.run_scenario("incoming-answered", "100", timeout=20)
            await col.wait(lambda: "established" in [e.event.name for e in col.events])
            names = [e.event.name for e in col.events]
            assert names[0] == "unknown" and "delivered" in names
            assert client.state == "up" and client.reconnects == 0
        finally:
            await client.close()
            await col.stop()


@pytest.mark.parametrize("bad", ["garbage", "truncated"])
async def test_garbage_or_a_truncated_frame_resets_the_link_and_it_comes_back(bad):
    server = SwitchServer(port=0, devices="100-103", speed=40)
    async with running(server):
        client = CstaClient("127.0.0.1", server.port,
                            options=fast_options(keepalive_interval=0.3, keepalive_timeout=0.3))
        col = Collector(client)
        try:
            await client.connect()
            await client.monitor_start("100")
            if bad == "garbage":
                server.inject(faults.GARBAGE)
            else:
                # half a frame, then silence: the rest never comes; the link is probed, found
                # dead (the probe's answer is stuck behind the broken frame) and re-made
                server.inject(faults.TRUNCATED_FRAME)
            await col.wait(lambda: any(s.state == "down" for s in col.states), timeout=10)
            await col.wait(lambda: sum(s.state == "up" for s in col.states) >= 2, timeout=10)
            await server.wait_for(lambda: server.monitors_of("100") >= 1, timeout=10)
            before = len(col.events)
            await server.run_scenario("incoming-missed", "100", timeout=20)
            await col.wait(lambda: "delivered" in [e.event.name for e in col.events[before:]])
        finally:
            await client.close()
            await col.stop()


async def test_services_against_the_simulator():
    server = SwitchServer(port=0, devices="100-103", speed=40, remote_answer_after=None,
                          auto_answer_after=None)
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(client)
        try:
            await client.connect()
            await client.monitor_start("100")
            await client.monitor_start("101")
            conn = await client.make_call("100", "101")
            assert conn.device.number == "100" and conn.call_id
            await col.wait(lambda: any(e.device == "101" and e.event.name == "delivered" for e in col.events))
            delivered = next(e.event for e in col.events if e.device == "101" and e.event.name == "delivered")
            await client.answer_call(delivered.connection)
            await col.wait(lambda: any(e.event.name == "established" for e in col.events))
            calls = await client.snapshot_device("101")
            assert calls and calls[0].call_id == conn.call_id
            assert calls[0].state == "connected" and calls[0].global_call_id
            await client.hold_call(delivered.connection)
            await col.wait(lambda: any(e.event.name == "held" for e in col.events))
            await client.retrieve_call(delivered.connection)
            await col.wait(lambda: any(e.event.name == "retrieved" for e in col.events))
            await client.clear_connection(delivered.connection)
            await col.wait(lambda: any(e.event.name == "connection_cleared" for e in col.events))
            with pytest.raises(CstaServiceError) as info:
                await client.answer_call(delivered.connection)  # the call is gone
            assert info.value.reason
        finally:
            await client.close()
            await col.stop()


async def test_events_split_at_every_byte_offset_and_coalesced_reach_the_client():
    """A peer that writes one byte at a time, then everything at once."""
    server = SwitchServer(port=0, devices="100-103", speed=40)
    async with running(server):
        # Put a byte-splitting relay between client and switch.
        async def relay(reader, writer, *, chunk):
            try:
                while data := await reader.read(4096):
                    for i in range(0, len(data), chunk):
                        writer.write(data[i:i + chunk])
                        await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        async def handle(cr, cw):
            sr, sw = await asyncio.open_connection("127.0.0.1", server.port)
            await asyncio.gather(relay(cr, sw, chunk=4096), relay(sr, cw, chunk=1))

        proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = proxy.sockets[0].getsockname()[1]
        client = CstaClient("127.0.0.1", port, options=fast_options())
        col = Collector(client)
        try:
            await client.connect()
            await client.monitor_start("100")
            await server.run_scenario("incoming-answered", "100", timeout=20)
            await col.wait(lambda: is_subsequence(["delivered", "established", "connection_cleared"],
                                                  [e.event.name for e in col.events]))
        finally:
            await client.close()
            await col.stop()
            proxy.close()


async def test_close_stops_monitors_and_leaves_the_association():
    server = SwitchServer(port=0, devices="100-101")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        await client.connect()
        await client.monitor_start("100")
        await server.wait_for(lambda: server.monitors_of("100") == 1)
        await client.close()
        await server.wait_for(lambda: server.monitors_of("100") == 0 and not server.associated_links, timeout=5)


def test_password_never_in_repr():
    c = CstaClient("192.0.2.1", 7001, "AMHOST", "s3cret")
    assert "s3cret" not in repr(c)


def test_client_options_are_validated():
    with pytest.raises(ValueError, match="queue_size"):
        ClientOptions(queue_size=0)
    with pytest.raises(ValueError, match="max_frame_length"):
        ClientOptions(max_frame_length=40000)
    with pytest.raises(ValueError, match="keepalive_interval"):
        ClientOptions(keepalive_interval=0)


async def test_a_peer_that_never_reads_is_dropped_not_buffered_forever(caplog):
    """A PBX that floods SystemStatus invokes but reads nothing: the replies would pile up."""
    server = SwitchServer(port=0, devices="100-101")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port,
                            options=fast_options(max_write_buffer=2000, keepalive_interval=60))
        col = Collector(client)
        try:
            await client.connect()
            link = server.associated_links[0]
            link.transport.pause_reading()  # the switch stops reading the client's bytes
            # Small kernel buffers on both ends (the default ones take megabytes of replies,
            # which a busy machine is slow to produce): a few thousand replies fill them.
            assert client._writer is not None
            client._writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            link.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            status = framing.frame(codec.encode_apdu(codec.Invoke(9, 211, {"systemStatus": "normal"})))
            # Keep asking until the kernel's socket buffers are full and the client's own
            # buffer passes its limit.  Bounded by the work, not the clock: 200 rounds of 500
            # invokes ask for about 1.4 MB of replies, many times what the buffers hold.  The
            # switch asks again only once the client has read most of what it was sent, so
            # that the switch's own limit for a client that does not read stays out of play.
            rounds = 0
            hang_guard = asyncio.get_running_loop().time() + 90
            while not any(s.state == "down" for s in col.states):
                assert rounds < 200, "the link was never dropped"
                assert asyncio.get_running_loop().time() < hang_guard, "the client hangs"
                if link.transport.get_write_buffer_size() < 64 * 1024:
                    server.inject(status * 500)
                    rounds += 1
                await asyncio.sleep(0.001)
            assert "the PBX does not read what we send" in caplog.text
            assert "the client does not read" not in caplog.text
        finally:
            await client.close()
            await col.stop()


# Snapshots after each monitor start ---------------------------------------------------------


async def test_a_snapshot_follows_each_monitor_start_and_lists_calls_under_way():
    """A call already ringing when the monitor starts is listed, with its global call id;
    after the simulator is restarted (a new PBX: no calls) the restored monitor's snapshot
    is empty."""
    server = SwitchServer("127.0.0.1", 0, devices="100-102", remote_answer_after=None,
                          auto_answer_after=None)
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(client)
        try:
            await client.connect()
            await client.monitor_start("100")
            await col.wait(lambda: col.snapshots)
            conn = await client.make_call("100", "101")       # rings at 101, not monitored yet
            await client.monitor_start("101")
            await col.wait(lambda: any(s.device == "101" for s in col.snapshots))
            snaps = col.snapshots
            assert [s.device for s in snaps] == ["100", "101"]
            assert snaps[0].calls == ()                        # 100 was idle at its start
            (listed,) = snaps[1].calls
            assert listed.call_id == conn.call_id and listed.state == "alerting"
            assert listed.connection.device.number == "101" and listed.global_call_id
            callbacks: list = []
            client.on("snapshot", callbacks.append)
            port = server.port
            await server.stop()
            await col.wait(lambda: any(s.state == "down" for s in col.states))
            server2 = SwitchServer("127.0.0.1", port, devices="100-102")
            async with running(server2):
                await col.wait(lambda: len(col.snapshots) == 4, timeout=15)
            restored = col.snapshots[2:]
            assert sorted(s.device for s in restored) == ["100", "101"]
            assert all(s.calls == () for s in restored)
            assert sorted(s.device for s in callbacks) == ["100", "101"]
        finally:
            await col.stop()
            await client.close()


async def test_a_pbx_that_refuses_snapshots_still_gets_its_monitors(monkeypatch):
    from cstapopup.csta.switch import server as server_module
    from cstapopup.csta.switch.model import SwitchError

    def refuse(self, arg):
        raise SwitchError("operation", "generic")

    monkeypatch.setitem(server_module._SERVICES, operations.SNAPSHOT_DEVICE, refuse)
    server = SwitchServer("127.0.0.1", 0, devices="100-101")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(client)
        try:
            await client.connect()
            handle = await client.monitor_start("100")
            assert handle.active
            await col.wait(lambda: col.snapshots)
            (snap,) = col.snapshots
            assert snap.device == "100" and snap.calls is None and "snapshotDevice" in snap.reason
            assert client.state == "up"
        finally:
            await col.stop()
            await client.close()


async def test_snapshots_can_be_switched_off():
    server = SwitchServer("127.0.0.1", 0, devices="100-101")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options(snapshot_monitors=False))
        col = Collector(client)
        try:
            await client.connect()
            await client.monitor_start("100")
            conn = await client.make_call("100", "101")
            await col.wait(lambda: any(e.event.name == "originated" or e.event.name == "delivered"
                                       for e in col.events))
            assert conn.call_id
            assert not col.snapshots
        finally:
            await col.stop()
            await client.close()
