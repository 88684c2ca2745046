"""The call-control services a receptionist needs, client against the simulator over TCP:
reconnect, alternate and directed pickup (the new ones) with the events the PBX sends; the
PBX's monitor limit, and the app link telling each device it could not monitor as data
(never as a sentence to parse back)."""

from __future__ import annotations

import asyncio

import pytest

from cstapopup.calls.link import LinkChange, LinkState, MonitorFailure, PbxLink
from cstapopup.csta.client import CstaClient, CstaServiceError, MonitorStartError
from cstapopup.csta.events import ConnectionId, DeviceId
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.settings import ConnectionParameters
from tests.client_helpers import Collector, fast_options, running

X = "00891234567"
TIMEOUT = 10.0


def conn(call_id: bytes, device: str) -> ConnectionId:
    return ConnectionId(call_id, DeviceId.of(device))


async def client_for(server: SwitchServer, *devices: str) -> tuple[CstaClient, Collector]:
    client = CstaClient("127.0.0.1", server.port, options=fast_options(reconnect=False))
    collector = Collector(client, TIMEOUT)
    await client.connect()
    for device in devices:
        await client.monitor_start(device)
    return client, collector


def seen(collector: Collector, device: str) -> list[tuple[str, str | None, str | None]]:
    return [(i.event.name, i.event.connection.call_id.hex(), i.event.local_connection_state)
            for i in collector.events if i.device == device and hasattr(i.event, "connection")]


async def consulting(server: SwitchServer, client: CstaClient, collector: Collector):
    """X calls 100, 100 answers and consults 101, 101 answers: (C1 at 100, C2 at 100)."""
    call = server.traffic.incoming(X, "100")
    await collector.wait(lambda: ("delivered", "0001", "alerting") in seen(collector, "100"))
    c1 = conn(call.call_id, "100")
    await client.answer_call(c1)
    c2 = await client.consultation_call(c1, "101")
    assert c2 == conn(b"\x00\x02", "100")
    await collector.wait(lambda: ("delivered", "0002", "alerting") in seen(collector, "101"))
    await client.answer_call(conn(b"\x00\x02", "101"))
    await collector.wait(lambda: ("established", "0002", "connected") in seen(collector, "101"))
    return c1, c2


async def test_reconnect_call_ends_the_consultation_and_takes_the_caller_back():
    server = SwitchServer(port=0, devices="100-105", auto_answer_after=None)
    async with running(server):
        client, collector = await client_for(server, "100", "101")
        try:
            c1, c2 = await consulting(server, client, collector)
            before = len(seen(collector, "100"))
            await client.reconnect_call(c2, c1)
            await collector.wait(lambda: ("retrieved", "0001", "connected")
                                 in seen(collector, "100"))
            assert seen(collector, "100")[before:] == [
                ("connection_cleared", "0002", "null"), ("retrieved", "0001", "connected")]
            await collector.wait(lambda: ("connection_cleared", "0002", "null")
                                 in seen(collector, "101"))
        finally:
            await client.close()
            await collector.stop()


async def test_alternate_call_swaps_held_and_active():
    server = SwitchServer(port=0, devices="100-105", auto_answer_after=None)
    async with running(server):
        client, collector = await client_for(server, "100", "101")
        try:
            c1, c2 = await consulting(server, client, collector)
            before = len(seen(collector, "100"))
            await client.alternate_call(c1, c2)
            await collector.wait(lambda: len(seen(collector, "100")) >= before + 2)
            assert seen(collector, "100")[before:] == [
                ("held", "0002", "hold"), ("retrieved", "0001", "connected")]
            causes = [i.event.cause for i in collector.events if i.device == "100"][before:]
            assert causes == ["alternate", "alternate"]
        finally:
            await client.close()
            await collector.stop()


async def test_directed_pickup_takes_the_call_ringing_elsewhere():
    server = SwitchServer(port=0, devices="100-105", auto_answer_after=None)
    async with running(server):
        client, collector = await client_for(server, "100", "103")
        try:
            call = server.traffic.incoming(X, "103")
            await collector.wait(lambda: ("delivered", "0001", "alerting")
                                 in seen(collector, "103"))
            picked = await client.directed_pickup_call(conn(call.call_id, "103"), "100")
            assert picked == conn(call.call_id, "100")
            await collector.wait(lambda: ("established", "0001", "connected")
                                 in seen(collector, "100"))
            assert ("established", "0001", "null") in seen(collector, "103")
            with pytest.raises(CstaServiceError) as refused:   # it rings nowhere any more
                await client.directed_pickup_call(conn(call.call_id, "103"), "101")
            assert refused.value.reason == "invalid_connection_state"
        finally:
            await client.close()
            await collector.stop()


async def test_the_pbx_monitor_limit_is_a_typed_refusal():
    async with running(SwitchServer(port=0, devices="100-105", max_monitors=2)) as server:
        client, collector = await client_for(server, "100", "101")
        try:
            with pytest.raises(MonitorStartError) as refused:
                await client.monitor_start("102")
            assert refused.value.device == "102"
            assert refused.value.reason == "overall_monitor_limit_exceeded"
            assert isinstance(refused.value, CstaServiceError)   # the older catch still holds
        finally:
            await client.close()
            await collector.stop()


class Seen:
    def __init__(self) -> None:
        self.changes: list[LinkChange] = []
        self.failures: list[MonitorFailure] = []
        self.changed = asyncio.Event()

    def state(self, change: LinkChange) -> None:
        self.changes.append(change)
        self.changed.set()

    def failed(self, failure: MonitorFailure) -> None:
        self.failures.append(failure)
        self.changed.set()

    async def wait(self, predicate) -> None:
        async def loop() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), TIMEOUT)


async def test_the_link_stops_asking_at_the_limit_and_says_which_devices_are_not_monitored():
    async with running(SwitchServer(port=0, devices="100-110", max_monitors=3)) as server:
        seen_ = Seen()
        params = ConnectionParameters("127.0.0.1", server.port, "AMHOST", "77777")
        link = PbxLink(params, ["100", "101", "102", "103", "999", "104"],
                       on_state=seen_.state, on_event=lambda d, e: None,
                       on_monitor_failed=seen_.failed, options=fast_options())
        try:
            await link.start()
            await seen_.wait(lambda: link.state is LinkState.UP)
            assert server.monitors_of("102") == 1 and server.monitors_of("103") == 0
            failures = {f.device: f for f in seen_.failures}
            assert list(failures) == ["103", "999", "104"]
            assert failures["103"].reason == "overall_monitor_limit_exceeded"
            assert failures["103"].asked
            # Beyond the limit nothing more is asked for: not even the unknown 999.
            assert not failures["999"].asked and not failures["104"].asked
            assert failures["999"].reason == "overall_monitor_limit_exceeded"
            assert "monitoring 100–102" in link.reason
            assert "cannot monitor 103: the PBX monitors as many devices as it can" in link.reason
        finally:
            await link.stop(timeout=1.0)


async def test_a_monitor_not_restored_after_a_reconnect_is_reported_as_data():
    async with running(SwitchServer(port=0, devices="100-110", max_monitors=2)) as server:
        seen_ = Seen()
        params = ConnectionParameters("127.0.0.1", server.port, "AMHOST", "77777")
        link = PbxLink(params, ["100", "101"], on_state=seen_.state,
                       on_event=lambda d, e: None, on_monitor_failed=seen_.failed,
                       options=fast_options())
        other: CstaClient | None = None
        try:
            await link.start()
            await seen_.wait(lambda: link.state is LinkState.UP)
            server.drop_link()
            await seen_.wait(lambda: link.state is LinkState.DOWN)
            # Meanwhile another application takes one of the PBX's two monitors.
            other = CstaClient("127.0.0.1", server.port, options=fast_options(reconnect=False))
            await other.connect()
            await other.monitor_start("105")
            await seen_.wait(lambda: bool(seen_.failures))
            (failure,) = seen_.failures
            # The client re-monitored 100, then 101 was refused: typed, with its device.
            assert (failure.device, failure.reason) == ("101", "overall_monitor_limit_exceeded")
            await seen_.wait(lambda: link.state is LinkState.UP and "101" in link.failed)
        finally:
            await link.stop(timeout=1.0)
            if other is not None:
                await other.close()


async def test_a_snapshot_comes_before_the_events_read_after_it(monkeypatch):
    """The snapshot is taken before a call starts; the call's first event follows its result
    in the same burst of bytes.  A consumer must get the (empty) snapshot first, then the
    event: the other way round, the snapshot would wipe out the call it just saw ringing."""
    from cstapopup.csta import operations
    from cstapopup.csta.client import MonitorEvent, MonitorSnapshot
    from cstapopup.csta.switch import server as server_module

    original = server_module._SERVICES[operations.SNAPSHOT_DEVICE]

    def snapshot_then_ring(server: SwitchServer, argument):
        result = original(server, argument)
        if server.model.calls == {}:
            server.traffic.incoming(X, "100")   # its events go out right behind the result
        return result

    monkeypatch.setitem(server_module._SERVICES, operations.SNAPSHOT_DEVICE, snapshot_then_ring)
    server = SwitchServer(port=0, devices="100-105", auto_answer_after=None)
    async with running(server):
        client, collector = await client_for(server, "100")
        try:
            await collector.wait(lambda: any(isinstance(i, MonitorEvent) for i in collector.items)
                                 and any(isinstance(i, MonitorSnapshot) for i in collector.items))
            kinds = [type(i).__name__ for i in collector.items
                     if isinstance(i, MonitorEvent | MonitorSnapshot)]
            assert kinds[:2] == ["MonitorSnapshot", "MonitorEvent"]
            assert collector.snapshots[0].calls == ()
        finally:
            await client.close()
            await collector.stop()
