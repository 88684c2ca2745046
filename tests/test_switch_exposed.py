"""The simulator exposed to hostile peers, over real TCP on 127.0.0.1.

A connection that does not get its association accepted in time is closed (silent, half a
frame, a byte now and then); the connections waiting for their association are capped; what
such a peer can make the switch hold is bounded; and a flood of them does not keep a
logged-in client from its events and SystemStatus invokes.

No test judges by the clock: the timeouts in the server configurations are small so that the
tests are quick, and every wait is for a condition, with a bound.  The trickler pauses between
its bytes because that is the attack, not to wait for anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from cstapopup.csta import codec, framing, operations
from cstapopup.csta.client import CstaClient
from cstapopup.csta.codec import AssociationRequest, ReturnResult
from cstapopup.csta.switch.server import MAX_PRE_ASSOCIATION_BYTES, SwitchServer

from .client_helpers import Collector, fast_options, running
from .test_switch_server import RawClient, up

#: Bound on every wait: far above what any condition here needs on a loaded machine.
BOUND = 20.0
AARQ = framing.frame(codec.encode_apdu(AssociationRequest("AMHOST", "77777")))
SWITCH_LOG = "cstapopup.csta.switch"
#: Connections the flood test may open at most.
FLOOD_BUDGET = 5000


async def open_raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), BOUND)


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = BOUND) -> bytes:
    """Read until the server closes the connection (EOF or reset); what it sent meanwhile."""
    got = bytearray()

    async def read_all() -> None:
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionError:
                return
            if not data:
                return
            got.extend(data)

    await asyncio.wait_for(read_all(), timeout)
    return bytes(got)


def close_quietly(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


# The association deadline --------------------------------------------------------------------


async def test_a_silent_connection_is_closed_when_its_association_time_is_up() -> None:
    server = SwitchServer(port=0, association_timeout=0.3)
    async with running(server):
        reader, writer = await open_raw(server.port)
        await server.wait_for(lambda: len(server.links) == 1, BOUND)
        assert await closed_by_server(reader) == b""  # not a word: just closed
        await server.wait_for(lambda: not server.links, BOUND)
        assert server.links_timed_out == 1
        close_quietly(writer)


async def test_half_a_frame_is_closed_too() -> None:
    server = SwitchServer(port=0, association_timeout=0.3)
    async with running(server):
        reader, writer = await open_raw(server.port)
        writer.write(AARQ[: len(AARQ) // 2])
        assert await closed_by_server(reader) == b""
        await server.wait_for(lambda: not server.links, BOUND)
        assert server.links_timed_out == 1
        close_quietly(writer)


async def test_a_trickler_is_closed_before_its_aarq_is_complete() -> None:
    """One byte of a good AARQ at a time, 100 ms apart: the whole AARQ would take seconds, the
    deadline is 0.4 s after the connection, whatever the bytes say meanwhile."""
    server = SwitchServer(port=0, association_timeout=0.4)
    assert len(AARQ) * 0.1 > 10 * 0.4  # the trickle cannot finish before the deadline
    async with running(server):
        reader, writer = await open_raw(server.port)
        sent = 0

        async def trickle() -> None:
            nonlocal sent
            for byte in AARQ:
                writer.write(bytes((byte,)))
                await writer.drain()
                sent += 1
                await asyncio.sleep(0.1)

        trickler = asyncio.create_task(trickle())
        try:
            assert await closed_by_server(reader) == b""  # no AARE ever came
        finally:
            trickler.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await trickler
        assert 0 < sent < len(AARQ)
        await server.wait_for(lambda: not server.links, BOUND)
        assert server.links_timed_out == 1
        assert not server.associated_links
        close_quietly(writer)


async def test_an_associated_link_outlives_the_deadline() -> None:
    """The deadline ends with the association: a silent connection opened after a client
    logged in is closed for want of one (so the client's own deadline has passed too), and
    the client's link still answers."""
    server = SwitchServer(port=0, association_timeout=0.3)
    async with running(server):
        client = await up(server)
        (link,) = server.associated_links
        assert link.deadline is None
        reader, writer = await open_raw(server.port)
        assert await closed_by_server(reader) == b""
        await server.wait_for(lambda: server.links_timed_out == 1, BOUND)
        assert server.links == [link]
        res = await client.request(operations.REQUEST_SYSTEM_STATUS, {})
        assert isinstance(res, ReturnResult)
        await client.close()
        close_quietly(writer)


async def test_a_rejected_association_still_gets_its_answer() -> None:
    """A wrong password is answered (AARE rejected) and the link then closed by the linger
    logic, not cut by the association deadline before the client could read the answer."""
    server = SwitchServer(port=0, association_timeout=0.3)
    async with running(server):
        client = await RawClient.connect(server.port)
        aare = await client.associate(password="wrong")
        assert aare.result != 0
        await client.closed()
        await server.wait_for(lambda: not server.links, BOUND)
        assert server.links_timed_out == 0


# What a peer that has not logged in can make the switch hold --------------------------------------


async def test_a_peer_sending_more_than_an_aarq_could_be_is_closed(caplog) -> None:
    """A frame header announcing 8000 bytes (within the frame limit) and then bytes that never
    end: closed once past MAX_PRE_ASSOCIATION_BYTES, long before the deadline."""
    caplog.set_level(logging.WARNING, SWITCH_LOG)
    server = SwitchServer(port=0, association_timeout=None)
    async with running(server):
        reader, writer = await open_raw(server.port)
        writer.write(b"\x26\x9f\x40")  # 0x1f40 = 8000 bytes to come
        with contextlib.suppress(ConnectionError):
            for _ in range(2 * MAX_PRE_ASSOCIATION_BYTES // 512):
                writer.write(b"\x30" * 512)
                await writer.drain()
        assert await closed_by_server(reader) == b""
        await server.wait_for(lambda: not server.links, BOUND)
        assert server.links_timed_out == 0
        assert any("no association; closing" in r.getMessage() for r in caplog.records)
        close_quietly(writer)


async def test_an_aarq_with_a_long_password_is_within_the_bound() -> None:
    password = "p" * 300
    server = SwitchServer(port=0, password=password, association_timeout=None)
    async with running(server):
        client = await RawClient.connect(server.port)
        aare = await client.associate(password=password)
        assert aare.result == 0
        await client.close()


# The cap on connections waiting for their association --------------------------------------------


async def test_connections_beyond_the_cap_are_closed_at_once_and_logged_once(caplog) -> None:
    caplog.set_level(logging.WARNING, SWITCH_LOG)
    server = SwitchServer(port=0, association_timeout=None, max_pending_links=3)
    server.refusal_quiet = 0.5
    async with running(server):
        conns = [await open_raw(server.port) for _ in range(10)]
        reads = [asyncio.create_task(closed_by_server(r)) for r, _ in conns]
        await server.wait_for(lambda: server.connections_refused == 7, BOUND)
        assert len(server.links) == 3
        # The seven refused connections are closed by the switch without a word; the three
        # waiting ones have no deadline here, so nothing else can close them.
        async def seven_closed() -> None:
            while sum(t.done() for t in reads) < 7:
                await asyncio.wait([t for t in reads if not t.done()],
                                   return_when=asyncio.FIRST_COMPLETED)
        await asyncio.wait_for(seven_closed(), BOUND)
        assert [t.result() for t in reads if t.done()] == [b""] * 7
        assert len(server.links) == 3
        # A burst is logged when it starts and summed up when it is over (one burst here,
        # unless this machine paused for refusal_quiet between two of the ten connections).
        await server.wait_for(lambda: server._refused_in_burst == 0, BOUND)
        started = [r for r in caplog.records if "waiting for their association" in r.getMessage()]
        over = [r.getMessage() for r in caplog.records if "in that burst" in r.getMessage()]
        assert 1 <= len(started) == len(over) <= 7
        assert sum(int(m.split()[0]) for m in over) == 7
        assert over[-1].endswith(" connections were closed at once in that burst; it is over")
        # When the waiting ones go, their places are free: a client gets in.
        for t in reads:
            t.cancel()
        for _, w in conns:
            close_quietly(w)
        await server.wait_for(lambda: not server.links, BOUND)
        client = await up(server)
        assert len(server.associated_links) == 1
        assert server.connections_refused == 7
        await client.close()


async def test_the_cap_counts_only_connections_that_have_not_logged_in() -> None:
    server = SwitchServer(port=0, association_timeout=None, max_pending_links=1, max_links=4)
    async with running(server):
        clients = [await up(server) for _ in range(3)]  # one at a time: each frees its place
        assert len(server.associated_links) == 3
        assert server.connections_refused == 0
        for c in clients:
            await c.close()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        SwitchServer(association_timeout=0)
    with pytest.raises(ValueError):
        SwitchServer(max_pending_links=0)


# A flood beside a logged-in client -----------------------------------------------------------------


async def test_a_flood_of_idle_and_short_connections_does_not_stop_a_clients_events(
        caplog) -> None:
    """A real CstaClient monitors six devices of a demo switch.  Then 200 connections that
    never log in (silent, or half a frame) are held open and reopened shortly after the switch
    closes them, while two more flooders connect and close, up to 100 times a second each.
    During the flood the client must go on getting events and answering the switch's
    SystemStatus invokes.

    The flood has a budget of connections (each leaves a TIME_WAIT entry on this shared
    machine); the client's events must come before it is spent."""
    caplog.set_level(logging.WARNING, SWITCH_LOG)
    devices = [str(d) for d in range(100, 106)]
    server = SwitchServer(port=0, devices=devices, demo=True, rate=120, speed=20, seed=11,
                          phonebook=[], hold_traffic=True, periodic_system_status=0.1,
                          association_timeout=0.5, max_pending_links=8)
    budget = [FLOOD_BUDGET]
    opened = [0, 0]

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        while budget[0] > 0:
            budget[0] -= 1
            try:
                return await open_raw(server.port)
            except OSError:  # the listen backlog is full: try again
                await asyncio.sleep(0.01)
        return None

    async def hold_open(slot: int) -> None:
        while (conn := await connect()) is not None:
            reader, writer = conn
            opened[0] += 1
            if slot % 2:
                writer.write(AARQ[:5])
            try:
                await reader.read(65536)  # until the switch closes it
            except ConnectionError:
                pass
            finally:
                close_quietly(writer)
            await asyncio.sleep(0.5)

    async def connect_and_close() -> None:
        while (conn := await connect()) is not None:
            opened[1] += 1
            conn[1].close()
            with contextlib.suppress(Exception):
                await conn[1].wait_closed()
            await asyncio.sleep(0.01)

    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(client, timeout=BOUND)
        flooders: list[asyncio.Task[None]] = []
        try:
            await client.connect()
            for d in devices:
                await client.monitor_start(d)
            server.start_traffic()
            await col.wait(lambda: len(col.events) >= 10)
            (link,) = server.associated_links

            flooders = [asyncio.create_task(hold_open(i)) for i in range(200)]
            flooders += [asyncio.create_task(connect_and_close()) for _ in range(2)]
            # The flood is on: the cap is full, connections are refused and others time out.
            await server.wait_for(
                lambda: server.connections_refused >= 150 and server.links_timed_out >= 8
                and opened[1] >= 20, BOUND)
            events_before = len(col.events)
            status_before = link.session.status_confirmed
            await server.wait_for(lambda: link.session.status_confirmed >= status_before + 3, BOUND)
            await col.wait(lambda: len(col.events) >= events_before + 50)
            # All that happened in the middle of the flood.
            assert budget[0] > 0 and all(not t.done() for t in flooders)
            assert len(server.links) <= 1 + server.max_pending_links
            assert server.associated_links == [link]
            assert [s.state for s in col.states] == ["connecting", "up"]  # never lost its link
            # Hundreds of refusals, one warning (the flood never paused for refusal_quiet).
            started = [r for r in caplog.records
                       if "waiting for their association" in r.getMessage()]
            assert len(started) == 1
        finally:
            for t in flooders:
                t.cancel()
            for t in flooders:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await asyncio.wait_for(client.close(), BOUND)
            await col.stop()


# `cstapopup sim` ----------------------------------------------------------------------------------


def test_sim_options_reach_the_server() -> None:
    from cstapopup import cli
    from cstapopup.commands.sim import build_server

    args = cli.build_parser(["sim"]).parse_args(["sim"])
    server = build_server(args)
    assert server.association_timeout == 5.0 and server.max_pending_links == 16
    args = cli.build_parser(["sim"]).parse_args(
        ["sim", "--association-timeout", "2.5", "--max-pending", "40"])
    server = build_server(args)
    assert server.association_timeout == 2.5 and server.max_pending_links == 40


def test_sim_refuses_senseless_limits() -> None:
    from cstapopup import cli

    assert cli.main(["sim", "--association-timeout", "0"]) == 2
    assert cli.main(["sim", "--max-pending", "0"]) == 2
