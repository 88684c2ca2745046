"""The colleagues' board (busy lamp field) without Qt, fed by the real simulator over TCP
through the app's link: states change live with internal, external, held, transferred and
picked-up calls, do not disturb and forwarding; a device the PBX will not monitor, a link
loss and calls under way before monitoring are said as such."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from cstapopup.calls.colleagues import ColleagueBoard, ColleagueState
from cstapopup.calls.link import LinkChange, LinkState, MonitorFailure, PbxLink
from cstapopup.csta.switch.server import SwitchServer
from cstapopup.settings import ConnectionParameters
from tests.client_helpers import fast_options, running

X = "00891234567"
TIMEOUT = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Watched:
    """A board fed by a PbxLink, as the desk feeds it."""

    def __init__(self, server: SwitchServer, devices: list[str]) -> None:
        self.clock = Clock()
        self.board = ColleagueBoard(devices, clock=self.clock)
        self.changed = asyncio.Event()
        self.failures: list[MonitorFailure] = []
        params = ConnectionParameters("127.0.0.1", server.port, "AMHOST", "77777")
        self.link = PbxLink(params, devices, on_state=self._state, on_event=self._event,
                            on_snapshot=self._snapshot, on_monitor_failed=self._failed,
                            options=fast_options())

    def _state(self, change: LinkChange) -> None:
        if change.state is LinkState.UP:
            self.board.link_up()
        else:
            self.board.link_down()
        self.changed.set()

    def _event(self, device, event) -> None:
        self.board.on_event(device, event)
        self.changed.set()

    def _snapshot(self, device, calls) -> None:
        self.board.on_snapshot(device, calls)
        self.changed.set()

    def _failed(self, failure: MonitorFailure) -> None:
        self.failures.append(failure)
        self.board.monitor_failed(failure.device, failure.words)
        self.changed.set()

    def state(self, device: str) -> ColleagueState:
        status = self.board.status(device)
        assert status is not None
        return status.state

    async def until(self, predicate) -> None:
        async def loop() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(loop(), TIMEOUT)

    async def states(self, **wanted: ColleagueState) -> None:
        """Until each device ("d101"=...) is in the wanted state."""
        await self.until(lambda: all(self.state(d[1:]) is s for d, s in wanted.items()))


@contextlib.asynccontextmanager
async def watching(server: SwitchServer, devices: list[str]):
    watched = Watched(server, devices)
    await watched.link.start()
    try:
        await watched.until(lambda: watched.link.state is LinkState.UP)
        yield watched
    finally:
        await watched.link.stop(timeout=1.0)


def simulator(**kw) -> SwitchServer:
    return SwitchServer(port=0, devices="100-110", auto_answer_after=None,
                        remote_answer_after=None, **kw)


async def test_an_internal_call_lights_both_lamps_with_the_other_party_and_since_when():
    async with running(simulator()) as server, watching(server, ["101", "102"]) as w:
        assert w.state("101") is ColleagueState.FREE
        assert w.board.status("101").since is None   # free since before we looked
        call = server.model.make_call("101", "102").call
        await w.states(d101=ColleagueState.BUSY, d102=ColleagueState.RINGING)
        assert w.board.status("101").party == "102"
        ringing = w.board.status("102")
        assert (ringing.party, ringing.ringing, ringing.since) == ("101", True, w.clock.now)
        w.clock.now += timedelta(seconds=5)
        server.model.answer(call, "102")
        await w.states(d102=ColleagueState.BUSY)
        talking = w.board.status("102")
        assert (talking.party, talking.since) == ("101", w.clock.now)
        w.clock.now += timedelta(seconds=60)
        server.model.hang_up(call, "101")
        await w.states(d101=ColleagueState.FREE, d102=ColleagueState.FREE)
        assert w.board.status("102").since == w.clock.now   # free since the call ended
        assert w.board.lines("101") == [] and w.board.lines("102") == []


async def test_an_outside_caller_on_hold_then_put_through_blind():
    async with running(simulator()) as server, watching(server, ["100", "103"]) as w:
        call = server.traffic.incoming(X, "100")
        await w.states(d100=ColleagueState.RINGING)
        assert w.board.status("100").party == X
        server.model.answer(call, "100")
        server.model.hold(call, "100")
        await w.states(d100=ColleagueState.HELD)
        assert w.board.status("100").party == X
        server.model.single_step_transfer(call, "100", "103")
        await w.states(d100=ColleagueState.FREE, d103=ColleagueState.RINGING)
        assert w.board.status("103").party == X
        (line,) = w.board.lines("103")
        assert line.connection.call_id == call.call_id and line.connection.device.number == "103"


async def test_a_consulted_transfer_moves_the_caller_to_the_colleague():
    async with running(simulator()) as server, watching(server, ["100", "101"]) as w:
        c1 = server.traffic.incoming(X, "100")
        server.model.answer(c1, "100")
        c2 = server.model.consult(c1, "100", "101").call
        await w.states(d100=ColleagueState.BUSY, d101=ColleagueState.RINGING)
        lines = w.board.lines("100")
        assert [(line.state, line.party) for line in lines] == [("hold", X), ("connected", "101")]
        assert w.board.status("100").calls == 2 and w.board.status("100").party == "101"
        server.model.answer(c2, "101")
        await w.until(lambda: w.board.status("101").state is ColleagueState.BUSY)
        assert w.board.status("101").party == "100"
        server.model.transfer(c1, c2, "100")
        await w.states(d100=ColleagueState.FREE)
        await w.until(lambda: w.board.status("101").party == X)
        (line,) = w.board.lines("101")
        # The colleague's line is now in the surviving call C1.
        assert line.connection.call_id == c1.call_id and line.state == "connected"


async def test_a_picked_up_call_leaves_the_lamp_of_the_phone_it_rang_at():
    async with running(simulator()) as server, watching(server, ["100", "104"]) as w:
        call = server.traffic.incoming(X, "104")
        await w.states(d104=ColleagueState.RINGING)
        server.model.pickup(call, "100", "104")
        await w.states(d104=ColleagueState.FREE, d100=ColleagueState.BUSY)
        assert w.board.status("100").party == X


async def test_do_not_disturb_and_forwarding_as_the_pbx_says_them():
    async with running(simulator()) as server, watching(server, ["105", "106"]) as w:
        server.model.set_do_not_disturb("105", True)
        server.model.set_forwarding("106", "101")
        await w.states(d105=ColleagueState.DO_NOT_DISTURB, d106=ColleagueState.FORWARDED)
        assert w.board.status("106").forwarded_to == "101"
        # A call at a DND phone shows the call first, and DND still as a fact.
        call = server.model.make_call("105", "107").call
        await w.states(d105=ColleagueState.BUSY)
        assert w.board.status("105").do_not_disturb
        server.model.clear_call(call)
        server.model.set_do_not_disturb("105", False)
        server.model.set_forwarding("106", None)
        await w.states(d105=ColleagueState.FREE, d106=ColleagueState.FREE)


async def test_a_device_the_pbx_refuses_is_not_monitored_and_says_why():
    async with running(simulator()) as server, watching(server, ["101", "999"]) as w:
        await w.states(d999=ColleagueState.NOT_MONITORED, d101=ColleagueState.FREE)
        status = w.board.status("999")
        assert status.why == "the PBX does not know this device"
        assert [f.reason for f in w.failures] == ["invalid_monitor_object"]


async def test_beyond_the_monitor_limit_lamps_are_dark_not_wrong():
    async with running(simulator(max_monitors=2)) as server, \
            watching(server, ["101", "102", "103"]) as w:
        await w.states(d101=ColleagueState.FREE, d103=ColleagueState.NOT_MONITORED)
        assert w.board.status("103").why == "the PBX monitors as many devices as it can"


async def test_a_link_loss_makes_everything_unknown_and_the_snapshot_restores_calls():
    async with running(simulator()) as server, watching(server, ["101", "102"]) as w:
        call = server.model.make_call("101", "102").call
        server.model.answer(call, "102")
        await w.states(d101=ColleagueState.BUSY, d102=ColleagueState.BUSY)
        server.drop_link()
        await w.states(d101=ColleagueState.UNKNOWN, d102=ColleagueState.UNKNOWN)
        assert w.board.status("101").why == "no link to the PBX"
        # Back up: the snapshot says 101 and 102 are still in their call.
        await w.states(d101=ColleagueState.BUSY, d102=ColleagueState.BUSY)
        assert w.link.state is LinkState.UP
        (line,) = w.board.lines("101")
        assert line.connection.call_id == call.call_id and line.state == "connected"


async def test_a_call_under_way_before_monitoring_comes_from_the_snapshot():
    async with running(simulator()) as server:
        call = server.traffic.incoming(X, "103")
        server.model.answer(call, "103")
        async with watching(server, ["103"]) as w:
            await w.states(d103=ColleagueState.BUSY)
            (line,) = w.board.lines("103")
            assert line.connection.call_id == call.call_id
            assert w.board.status("103").party is None   # the snapshot does not say who
            server.model.remote_hang_up(call)
            await w.states(d103=ColleagueState.FREE)


def test_a_pbx_that_never_ends_calls_cannot_grow_a_device_without_bound(caplog):
    from cstapopup.calls.colleagues import MAX_LINES
    from cstapopup.csta.events import ConnectionId, DeliveredEvent, DeviceId

    clock = Clock()
    board = ColleagueBoard(["101"], clock=clock)
    board.link_up()
    for n in range(1, MAX_LINES + 11):
        clock.now += timedelta(seconds=1)
        board.on_event("101", DeliveredEvent(
            cross_ref_id=b"\x00\x01", connection=ConnectionId(n.to_bytes(2, "big"),
                                                              DeviceId.of("101")),
            local_connection_state="alerting", calling_device=DeviceId.of(X)))
    lines = board.lines("101")
    assert len(lines) == MAX_LINES and board.lines_dropped == 10
    assert lines[0].call_id == (11).to_bytes(2, "big")      # the oldest ten went
    assert "more than 32 calls at once" in caplog.text
