"""Backpressure, not loss: a consumer of events() that falls behind pauses the client's reading
(TCP holds the PBX back) and gets every event, in order, with the link state changes in their
place; the liveness clock stands still while paused; what a bound must drop is counted.  Also:
monitors found by cross-ref id through an index that stays right across start, stop, restore
and reconnect.  Real TCP on 127.0.0.1 against a fake PBX (csta.testing.fakepbx) or the
simulator."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cstapopup.csta import codec, operations
from cstapopup.csta.client import (
    READ_SIZE,
    ClientOptions,
    CstaClient,
    LinkStateChanged,
    MonitorEvent,
    MonitorHandle,
)
from cstapopup.csta.events import ConnectionClearedEvent, ConnectionId, DeviceId
from cstapopup.csta.framing import HEADER_SIZE
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.csta.testing.fakepbx import FakePbx, call_events, event_frames

from .client_helpers import fast_options

TIMEOUT = 20.0


def options(**extra) -> ClientOptions:
    return fast_options(snapshot_monitors=False, **extra)


def key(event) -> tuple[str, str]:
    return event.name, event.call_id.hex()


async def slow_consumer(client: CstaClient, items: list, gate: asyncio.Event,
                        stop_after: int, every: int = 7) -> None:
    """Takes items, waiting for `gate` before each; every `every` items it also lets the
    loop run a few times (a consumer slower than the socket)."""
    async for item in client.events():
        await gate.wait()
        items.append(item)
        if len(items) % every == 0:
            for _ in range(3):
                await asyncio.sleep(0)
        if sum(isinstance(i, MonitorEvent) for i in items) >= stop_after:
            return


async def test_a_slow_consumer_gets_every_event_in_order_and_reading_pauses_instead():
    count = 6000
    events = call_events(b"\x00\x01", count)
    frames = event_frames(events)
    smallest = min(len(f) for f in frames)
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options(queue_size=50))
        items: list = []
        gate = asyncio.Event()
        consumer = asyncio.create_task(slow_consumer(client, items, gate, count))
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            link = pbx.links[0]
            assert link.monitors["100"] == b"\x00\x01"
            flood = asyncio.create_task(link.flood(frames))
            # The consumer does not read yet: the client must stop reading, not drop.
            await wait_until(lambda: client.paused)
            assert client.counters.read_pauses >= 1
            # What the client holds stays bounded: the consumer's queue plus one read.
            held = client.backlog
            assert held <= 50 + READ_SIZE // smallest + 2
            gate.set()
            await asyncio.wait_for(consumer, TIMEOUT)
            await asyncio.wait_for(flood, TIMEOUT)
        finally:
            gate.set()
            await client.close(timeout=1.0)
    got = [i.event for i in items if isinstance(i, MonitorEvent)]
    assert [key(e) for e in got] == [key(e) for e in events]  # all, in order, once
    assert all(i.device == "100" for i in items if isinstance(i, MonitorEvent))
    assert client.counters.read_pauses >= 2  # it paused and resumed along the way
    assert client.counters.callbacks_skipped == 0


async def test_issue_13_1_no_event_is_lost_to_a_consumer_that_reads_late():
    """Issue 13.1 as it was seen: the PBX sends as fast as TCP allows while the consumer does
    not read; once the PBX is done (or held back), the consumer reads: every event is there."""
    count = 6000
    events = call_events(b"\x00\x01", count)
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options(queue_size=100))
        items: list = []
        gate = asyncio.Event()
        consumer = asyncio.create_task(slow_consumer(client, items, gate, count))
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            flood = asyncio.create_task(pbx.links[0].flood(event_frames(events)))
            await wait_until(lambda: flood.done() or getattr(client, "paused", False))
            gate.set()
            await asyncio.wait_for(consumer, TIMEOUT)
        finally:
            gate.set()
            await client.close(timeout=1.0)
    assert len([i for i in items if isinstance(i, MonitorEvent)]) == count


async def wait_until(predicate, timeout: float = TIMEOUT) -> None:
    async def loop() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(loop(), timeout)


async def test_link_states_keep_their_place_behind_the_events_and_are_never_dropped():
    """The PBX floods, then drops the link; the consumer is far behind.  It sees every event,
    then "down", then "connecting" and "up" of the new link — none dropped or moved ahead."""
    count = 3000
    events = call_events(b"\x00\x01", count)
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options(queue_size=20))
        items: list = []
        gate = asyncio.Event()
        consumer = asyncio.create_task(slow_consumer(client, items, gate, count + 10**9))
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            link = pbx.links[0]
            flood = asyncio.create_task(link.flood(event_frames(events)))
            await wait_until(lambda: client.paused)
            gate.set()
            await asyncio.wait_for(flood, TIMEOUT)
            link.writer.close()  # the PBX ends the link after the last event (FIN)
            second = await pbx.wait_link(2, TIMEOUT)
            await second.wait_monitor("100", TIMEOUT)
            await wait_until(lambda: sum(isinstance(i, LinkStateChanged) and i.state == "up"
                                         for i in items) >= 2)
        finally:
            gate.set()
            await client.close(timeout=1.0)
            await asyncio.wait_for(consumer, TIMEOUT)
    got = [key(i.event) for i in items if isinstance(i, MonitorEvent)]
    assert got == [key(e) for e in events]
    states = [(n, i.state) for n, i in enumerate(items) if isinstance(i, LinkStateChanged)]
    last_event = max(n for n, i in enumerate(items) if isinstance(i, MonitorEvent))
    names = [s for _, s in states]
    assert names[:2] == ["connecting", "up"]
    down_at = next(n for n, s in states if s == "down")
    assert down_at > last_event  # behind every event read before the link broke
    assert names[names.index("down"):] == ["down", "connecting", "up", "closed"]


async def test_a_paused_link_is_not_declared_dead_and_answers_after_it_resumes():
    """Keep-alive 0.2 + 0.2 s; the consumer does not read for many of those periods while the
    PBX has more to send: the link stays up (the clock stands still while paused), and once
    the consumer reads on, the link is still the same one and everything arrives."""
    count = 3000
    events = call_events(b"\x00\x01", count)
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options(
            queue_size=20, keepalive_interval=0.2, keepalive_timeout=0.2))
        items: list = []
        gate = asyncio.Event()
        consumer = asyncio.create_task(slow_consumer(client, items, gate, count))
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            flood = asyncio.create_task(pbx.links[0].flood(event_frames(events)))
            await wait_until(lambda: client.paused)
            await asyncio.sleep(2.0)  # elapsed time is the point: 5 keep-alive windows
            assert client.paused and client.state == "up"
            gate.set()
            await asyncio.wait_for(consumer, TIMEOUT)
            await asyncio.wait_for(flood, TIMEOUT)
            assert client.state == "up" and len(pbx.links) == 1
            assert client.counters.paused_seconds >= 2.0
            # and the link still works both ways
            await asyncio.wait_for(client.request(operations.REQUEST_SYSTEM_STATUS, {}), TIMEOUT)
        finally:
            gate.set()
            await client.close(timeout=1.0)
    assert not any(isinstance(i, LinkStateChanged) and i.state == "down" for i in items)
    assert [key(i.event) for i in items if isinstance(i, MonitorEvent)] == \
        [key(e) for e in events]


async def test_a_request_made_while_paused_waits_for_its_answer_instead_of_timing_out():
    """The answer to a request sent while reading is paused is in the stream behind events
    nobody took yet: the request's clock stands still while paused (request_timeout 0.3 s,
    paused far longer), and the answer arrives once the consumer reads on."""
    # Few events: after the pause ends, what stands between the client and the answer must
    # be read within the request's 0.3 s even on a loaded machine.
    count = 300
    events = call_events(b"\x00\x01", count)
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options(
            queue_size=20, request_timeout=0.3))
        items: list = []
        gate = asyncio.Event()
        consumer = asyncio.create_task(slow_consumer(client, items, gate, count))
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            flood = asyncio.create_task(pbx.links[0].flood(event_frames(events)))
            await wait_until(lambda: client.paused)
            request = asyncio.create_task(client.request(operations.REQUEST_SYSTEM_STATUS, {}))
            await asyncio.sleep(1.0)  # elapsed time is the point: over three request timeouts
            assert not request.done() and client.paused
            gate.set()
            result = await asyncio.wait_for(request, TIMEOUT)
            assert result == {"systemStatus": "normal"}
            await asyncio.wait_for(consumer, TIMEOUT)
            await asyncio.wait_for(flood, TIMEOUT)
        finally:
            gate.set()
            await client.close(timeout=1.0)
    assert len([i for i in items if isinstance(i, MonitorEvent)]) == count


async def test_the_reader_lets_other_tasks_run_during_a_flood():
    """While one flood of events is read (the consumer keeping up), a task that only yields
    gets turns all along: the read loop does not hold the event loop."""
    count = 4000
    events = call_events(b"\x00\x01", count)
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options())
        seen = 0
        turns_while_reading: list[int] = []
        ticks = 0

        def on_event(device, event) -> None:
            nonlocal seen
            seen += 1
            turns_while_reading.append(ticks)

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        client.on("*", on_event)
        tick = asyncio.create_task(ticker())
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            await asyncio.wait_for(pbx.links[0].flood(event_frames(events)), TIMEOUT)
            await wait_until(lambda: seen == count)
        finally:
            tick.cancel()
            await client.close(timeout=1.0)
    # The ticker ran between the reads: its count grew while the events came in.
    distinct = len(set(turns_while_reading))
    assert distinct >= count // (READ_SIZE // 100 + 1) // 2, distinct


async def test_skipped_coroutine_callbacks_are_counted(caplog):
    count = 40
    events = call_events(b"\x00\x01", count)
    async with FakePbx() as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options(max_callback_tasks=3))
        release = asyncio.Event()
        seen: list = []

        async def slow(device, event) -> None:
            await release.wait()

        client.on("*", slow)
        client.on("*", lambda d, e: seen.append(e))
        caplog.set_level(logging.WARNING, logger="cstapopup.csta.client")
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            await pbx.links[0].flood(event_frames(events))
            await wait_until(lambda: len(seen) == count)
            assert client.counters.callbacks_skipped == count - 3
            assert f"({count - 3} skipped so far)" in caplog.text
        finally:
            release.set()
            await client.close(timeout=1.0)


# The monitor index ------------------------------------------------------------------------


def expected_index(client: CstaClient) -> dict[bytes, list[str]]:
    out: dict[bytes, list[str]] = {}
    for h in client.monitors:
        if h.active:
            out.setdefault(h.cross_ref_id, []).append(h.device)
    return out


def actual_index(client: CstaClient) -> dict[bytes, list[str]]:
    return {x: sorted(h.device for h in hs) for x, hs in client._by_cross_ref.items()}


def cleared(cross_ref: bytes, device: str) -> ConnectionClearedEvent:
    return ConnectionClearedEvent(cross_ref_id=cross_ref, connection=ConnectionId(
        b"\x00\x07", DeviceId.of(device)), releasing_device=DeviceId.of(device))


async def test_the_cross_ref_index_follows_start_stop_restore_and_reconnect():
    devices = [str(d) for d in range(100, 140)]
    server = SwitchServer(port=0, devices="100-140")
    await server.start()
    port = server.port
    client = CstaClient("127.0.0.1", port, options=options())
    try:
        await asyncio.wait_for(client.connect(), TIMEOUT)
        for d in devices:
            await asyncio.wait_for(client.monitor_start(d), TIMEOUT)
        assert actual_index(client) == {x: sorted(v) for x, v in expected_index(client).items()}
        assert len(client._by_cross_ref) == 40
        for d in devices[::3]:
            await asyncio.wait_for(client.monitor_stop(d), TIMEOUT)
        assert actual_index(client) == {x: sorted(v) for x, v in expected_index(client).items()}
        kept = [h.device for h in client.monitors]
        old = {h.device: h.cross_ref_id for h in client.monitors}
        # The PBX restarts: every monitor is restored, with new cross-ref ids.
        await server.stop()
        await wait_until(lambda: client.state != "up")
        assert client._by_cross_ref == {}
        server = SwitchServer(port=port, devices="100-140")
        await server.start()
        await wait_until(lambda: client.state == "up" and all(h.active for h in client.monitors))
        assert [h.device for h in client.monitors] == kept
        assert actual_index(client) == {x: sorted(v) for x, v in expected_index(client).items()}
        assert len(client._by_cross_ref) == len(kept)
        # Each restored monitor gets the events of its new cross-ref, none of a stopped one.
        for h in client.monitors:
            assert [x.device for x in client._monitors_for(cleared(h.cross_ref_id, h.device))] \
                == [h.device]
        stale = {old[d] for d in old} - {h.cross_ref_id for h in client.monitors}
        for x in stale:
            assert client._monitors_for(cleared(x, "100")) == []
    finally:
        await client.close(timeout=1.0)
        await server.stop()


async def test_a_cross_ref_shared_by_two_monitors_goes_to_the_device_it_names():
    """HiPath has been seen giving 00 00 to several monitors: the index keeps them all."""
    async with FakePbx(cross_ref_base=0) as pbx:
        client = CstaClient("127.0.0.1", pbx.port, options=options())
        try:
            await asyncio.wait_for(client.connect(), TIMEOUT)
            a = await asyncio.wait_for(client.monitor_start("100"), TIMEOUT)
            # Force the second one onto the same id, as such a PBX would.
            pbx.links[0].next_cross_ref = 0
            b = await asyncio.wait_for(client.monitor_start("101"), TIMEOUT)
            assert a.cross_ref_id == b.cross_ref_id == b"\x00\x00"
            assert [h.device for h in client._monitors_for(cleared(b"\x00\x00", "101"))] == ["101"]
            assert [h.device for h in client._monitors_for(cleared(b"\x00\x00", "100"))] == ["100"]
            await asyncio.wait_for(client.monitor_stop("100"), TIMEOUT)
            assert [h.device for h in client._monitors_for(cleared(b"\x00\x00", "100"))] == ["101"]
        finally:
            await client.close(timeout=1.0)


@pytest.mark.parametrize("n", [1, 500])
def test_monitors_for_does_not_scan_every_monitor(n):
    """The index answers from the event's cross-ref id alone: the monitor list is never read."""
    client = CstaClient("127.0.0.1", 1, options=options())
    handles = []
    for i in range(n):
        h = MonitorHandle(str(1000 + i))
        client.monitors.append(h)
        client._activate(h, i.to_bytes(2, "big"))
        handles.append(h)

    class Untouchable(list):
        def __iter__(self):
            raise AssertionError("scanned the monitor list")

    client.monitors = Untouchable(client.monitors)
    target = handles[-1]
    assert client._monitors_for(cleared(target.cross_ref_id, target.device)) == [target]


def test_codec_value_used_here_is_real():
    # the fake PBX's frames decode to what was meant (guards the helpers above)
    ev = call_events(b"\x00\x09", 1)[0]
    frame = event_frames([ev])[0]
    assert codec.decode_apdu(frame[HEADER_SIZE:]).event == ev
