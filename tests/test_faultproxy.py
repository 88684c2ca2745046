"""The fault-injecting proxy, against a plain echo server and a server sending frames, on
127.0.0.1 with ephemeral ports.  Every wait is bounded; conditions are waited for, not slept on."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Self

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstapopup.csta.framing import FrameReader, frame
from cstapopup.csta.testing import (
    BOTH,
    DOWN,
    UP,
    DirectionFaults,
    FaultAction,
    FaultProxy,
    FaultSchedule,
    FrameTracker,
)

TIMEOUT = 10.0


# Servers -----------------------------------------------------------------------------------------


class Server:
    """A TCP server on 127.0.0.1 whose connections are handed to `handler`; it keeps them so a
    test can reach the server side of each."""

    def __init__(self, handler=None) -> None:
        self.finished = asyncio.Event()
        self.handler = handler or self.hold
        self.connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.connected = asyncio.Event()
        self.errors: list[BaseException] = []

    async def hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Neither reads nor writes by itself: the test does, through `connections`."""
        await self.finished.wait()

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader, writer) -> None:
        self.connections.append((reader, writer))
        self.connected.set()
        try:
            await self.handler(reader, writer)
        except (ConnectionError, OSError) as exc:
            self.errors.append(exc)
        finally:
            writer.close()

    async def __aexit__(self, *exc) -> None:
        self.finished.set()
        self.server.close()
        for _, w in self.connections:
            w.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.server.wait_closed(), TIMEOUT)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


async def read_exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), TIMEOUT)


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        data = await asyncio.wait_for(reader.read(65536), TIMEOUT)
        if not data:
            return bytes(out)
        out += data


def random_writes(rng: random.Random, total: int) -> list[bytes]:
    out, left = [], total
    while left:
        n = min(left, rng.choice((1, 2, 3, 17, 100, 1000, 5000)))
        out.append(rng.randbytes(n))
        left -= n
    return out


def random_apdus(rng: random.Random, count: int) -> list[bytes]:
    return [rng.randbytes(rng.choice((0, 1, 2, 5, 50, 156, 300, 1000))) for _ in range(count)]


FAULTY = DirectionFaults(
    split=True, max_chunk=7, coalesce=0.3, coalesce_window=0.002, delay=0.001, jitter=0.003
)


# Bytes intact and in order -----------------------------------------------------------------------


async def test_echo_through_split_coalesce_delay_keeps_every_byte_in_order():
    rng = random.Random(1)
    writes = random_writes(rng, 60_000)
    sent = b"".join(writes)
    async with (
        Server(echo) as server,
        FaultProxy("127.0.0.1", server.port, seed=11, up=FAULTY, down=FAULTY) as proxy,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)

        async def send() -> None:
            for w in writes:
                writer.write(w)
                await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        got = await read_to_eof(reader)
        await asyncio.wait_for(sender, TIMEOUT)
        writer.close()
        c = proxy.counters
        assert got == sent
        assert c.bytes_up == c.bytes_down == len(sent)
        assert c.splits > 0 and c.delayed > 0
        assert c.writes_down > c.reads_down  # re-chunked into more, smaller writes


async def test_framed_stream_reassembles_to_the_same_frames():
    rng = random.Random(2)
    apdus = random_apdus(rng, 300)

    async def sender(reader, writer):
        for a in apdus:
            writer.write(frame(a))
            await writer.drain()
        writer.write_eof()
        await reader.read()

    down = DirectionFaults(split=True, max_chunk=5, coalesce=0.5, delay=0.0005, jitter=0.002)
    async with (
        Server(sender) as server,
        FaultProxy("127.0.0.1", server.port, seed=3, down=down) as proxy,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        frames = FrameReader(max_length=0x7FFF)
        got: list[bytes] = []
        while data := await asyncio.wait_for(reader.read(65536), TIMEOUT):
            got += frames.feed(data)
        writer.close()
        assert got == apdus and frames.buffered == 0
        assert proxy.counters.splits > 0


async def test_what_arrives_separately_during_a_stall_goes_out_merged():
    async with Server() as server, FaultProxy("127.0.0.1", server.port, seed=4) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await asyncio.wait_for(server.connected.wait(), TIMEOUT)
        _, server_writer = server.connections[0]
        proxy.stall(DOWN)
        parts = [frame(bytes([i]) * 10) for i in range(5)]
        for i, part in enumerate(parts, start=1):
            server_writer.write(part)
            await server_writer.drain()
            await proxy.wait_until(lambda c, i=i: c.reads_down >= i, TIMEOUT)
        proxy.resume(DOWN)
        assert await read_exactly(reader, 5 * 13) == b"".join(parts)
        assert proxy.counters.coalesced >= 4
        writer.close()


async def test_several_connections_at_once():
    async with (
        Server(echo) as server,
        FaultProxy("127.0.0.1", server.port, seed=5, up=FAULTY, down=FAULTY) as proxy,
    ):

        async def one(i: int) -> bool:
            data = random.Random(i).randbytes(8_000)
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(data)
            await writer.drain()
            writer.write_eof()
            got = await read_to_eof(reader)
            writer.close()
            return got == data

        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(6))), TIMEOUT)
        assert all(results)
        assert proxy.counters.connections == 6
        await proxy.wait_until(lambda c: c.active == 0, TIMEOUT)


# Stall --------------------------------------------------------------------------------------------


async def test_stall_keeps_the_socket_open_and_delivers_nothing_until_resume():
    async with Server() as server, FaultProxy("127.0.0.1", server.port, seed=6) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await asyncio.wait_for(server.connected.wait(), TIMEOUT)
        server_reader, server_writer = server.connections[0]
        proxy.stall(DOWN)
        payload = frame(b"held back")
        server_writer.write(payload)
        await server_writer.drain()
        # the proxy has the bytes, and forwards none of them
        await proxy.wait_until(lambda c: c.reads_down >= 1, TIMEOUT)
        assert proxy.counters.bytes_down == 0 and proxy.stalled(DOWN)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.2)  # nothing within a while
        # the connection is alive: the other direction still flows
        writer.write(b"ping")
        await writer.drain()
        assert await read_exactly(server_reader, 4) == b"ping"
        assert not reader.at_eof() and proxy.counters.active == 1
        proxy.resume(DOWN)
        assert await read_exactly(reader, len(payload)) == payload
        writer.close()


async def test_a_long_stall_holds_the_sender_instead_of_filling_the_proxy():
    block = 1 << 20
    async with (
        Server() as server,
        FaultProxy("127.0.0.1", server.port, seed=12, max_buffer=65536) as proxy,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await asyncio.wait_for(server.connected.wait(), TIMEOUT)
        _, server_writer = server.connections[0]
        proxy.stall(DOWN)
        sent: list[int] = []
        stop = asyncio.Event()

        async def send() -> None:
            # 1 MiB blocks, each one byte value, until told to stop (at most 500 MiB)
            for n in range(500):
                if stop.is_set():
                    break
                server_writer.write(bytes([n % 251]) * block)
                await server_writer.drain()
                sent.append(n)
            server_writer.write_eof()

        sender = asyncio.create_task(send())
        await proxy.wait_until(lambda c: proxy.held_bytes(DOWN) >= 65536, TIMEOUT)
        # Kernel buffers take what the proxy does not read; then the sender is held.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while True:
            before = len(sent)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(sender), 0.3)
            if len(sent) == before or loop.time() > deadline:
                break
        assert not sender.done() and len(sent) < 200
        assert proxy.held_bytes(DOWN) <= 65536 + 65536  # the proxy itself holds little
        stop.set()
        proxy.resume(DOWN)
        got = await read_to_eof(reader)
        await asyncio.wait_for(sender, TIMEOUT)
        assert len(got) == len(sent) * block
        assert all(got[n * block] == got[(n + 1) * block - 1] == n % 251 for n in sent)
        writer.close()


async def test_stall_for_a_duration_resumes_by_itself():
    async with Server(echo) as server, FaultProxy("127.0.0.1", server.port, seed=7) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        loop = asyncio.get_running_loop()
        proxy.stall(BOTH, duration=0.3)
        start = loop.time()
        writer.write(b"x" * 1000)
        await writer.drain()
        assert await read_exactly(reader, 1000) == b"x" * 1000
        assert loop.time() - start >= 0.25
        assert not proxy.stalled(UP) and not proxy.stalled(DOWN)
        assert proxy.counters.stalls == 1
        writer.close()


# Reset and cut ------------------------------------------------------------------------------------


async def test_reset_gives_the_client_a_connection_reset_or_eof():
    async with Server() as server, FaultProxy("127.0.0.1", server.port, seed=8) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await asyncio.wait_for(server.connected.wait(), TIMEOUT)
        await proxy.wait_until(lambda c: c.active == 1, TIMEOUT)
        assert proxy.reset_all() == 1
        outcome: object
        try:
            outcome = await asyncio.wait_for(reader.read(100), TIMEOUT)
        except ConnectionResetError as exc:
            outcome = exc
        assert isinstance(outcome, ConnectionResetError) or outcome == b""
        # and the server side lost its connection too
        server_reader, _ = server.connections[0]
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(server_reader.read(100), TIMEOUT) == b""
        await proxy.wait_until(lambda c: c.active == 0, TIMEOUT)
        assert proxy.counters.resets == 1
        writer.close()


@pytest.mark.parametrize("seed", range(6))
async def test_cut_mid_frame_delivers_whole_frames_then_a_prefix_then_eof(seed):
    rng = random.Random(seed)
    before = random_apdus(rng, 2)
    after = [rng.randbytes(rng.choice((0, 3, 40, 500))) for _ in range(3)]
    down = DirectionFaults(split=seed % 2 == 1, max_chunk=9)
    async with (
        Server() as server,
        FaultProxy("127.0.0.1", server.port, seed=seed, down=down) as proxy,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await asyncio.wait_for(server.connected.wait(), TIMEOUT)
        _, server_writer = server.connections[0]
        first = b"".join(frame(a) for a in before)
        server_writer.write(first)
        await server_writer.drain()
        assert await read_exactly(reader, len(first)) == first
        assert proxy.cut_mid_frame(DOWN) == 1
        server_writer.write(b"".join(frame(a) for a in after))
        await server_writer.drain()
        rest = await read_to_eof(reader)
        target = frame(after[0])
        assert 1 <= len(rest) < len(target) and target.startswith(rest)
        assert proxy.counters.cuts == 1
        writer.close()


async def test_cut_armed_inside_a_frame_finishes_that_frame_first():
    async with Server() as server, FaultProxy("127.0.0.1", server.port, seed=9) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        await asyncio.wait_for(server.connected.wait(), TIMEOUT)
        _, server_writer = server.connections[0]
        one, two = frame(b"A" * 100), frame(b"B" * 100)
        server_writer.write(one[:50])
        await server_writer.drain()
        assert await read_exactly(reader, 50) == one[:50]
        proxy.cut_mid_frame(DOWN)
        server_writer.write(one[50:] + two)
        await server_writer.drain()
        rest = await read_to_eof(reader)
        assert rest.startswith(one[50:])
        prefix = rest[len(one) - 50 :]
        assert 1 <= len(prefix) < len(two) and two.startswith(prefix)
        writer.close()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=40), min_size=1, max_size=6),
    st.integers(min_value=0),
    st.integers(min_value=1, max_value=400),
    st.integers(0, 2**32),
)
def test_frame_tracker_cut_lands_inside_the_first_frame_not_yet_begun(apdus, p, k, seed):
    stream = b"".join(frame(a) for a in apdus)
    starts = [0]
    for a in apdus:
        starts.append(starts[-1] + 3 + len(a))  # starts[-1] == len(stream)
    p %= len(stream) + 1
    tracker = FrameTracker()
    tracker.feed(stream[:p])
    assert tracker.frames == sum(1 for s in starts[1:] if s <= p)
    chunk = stream[p : p + k]
    cut = tracker.cut_offset(chunk, random.Random(seed))
    nxt = next((i for i, s in enumerate(starts[:-1]) if s >= p), None)  # first frame not begun
    if cut is None:
        assert nxt is None or starts[nxt] >= p + len(chunk)
        return
    assert nxt is not None
    end = p + cut
    assert starts[nxt] < end < starts[nxt + 1] and end <= p + len(chunk)


# Schedules and the rest ---------------------------------------------------------------------------


def test_schedule_is_decided_by_the_seed():
    rates = {"stall": 0.5, "reset": 0.1, "cut": 0.1, "slow": 0.3}
    a = FaultSchedule.generate(42, 600.0, rates)
    assert a == FaultSchedule.generate(42, 600.0, rates)
    assert a != FaultSchedule.generate(43, 600.0, rates)
    assert [x.at for x in a] == sorted(x.at for x in a) and all(0 <= x.at < 600 for x in a)
    # Poisson counts: expected 300 / 60 / 60 / 180 (bounds at about 5 standard deviations)
    assert 215 <= a.count("stall") <= 385 and 25 <= a.count("reset") <= 100
    assert 25 <= a.count("cut") <= 100 and 115 <= a.count("slow") <= 245
    assert all(x.duration is not None and 0.05 <= x.duration <= 1.0 for x in a if x.kind == "stall")
    assert {x.direction for x in a if x.kind == "cut"} == {UP, DOWN}
    with pytest.raises(ValueError):
        FaultSchedule.generate(1, 10.0, {"meteor": 1.0})


async def test_a_schedule_runs_against_live_connections_and_every_byte_that_arrives_is_right():
    rates = {"stall": 4.0, "slow": 4.0, "cut": 1.0, "reset": 1.0}
    schedule = FaultSchedule.generate(
        7,
        3.0,
        rates,
        stall_duration=(0.01, 0.1),
        slow_duration=(0.01, 0.1),
        slow_delay=(0.001, 0.005),
    )
    assert len(schedule) > 0
    async with Server(echo) as server:
        chunky = DirectionFaults(split=True, max_chunk=3000, delay=0.001, jitter=0.002)
        async with FaultProxy("127.0.0.1", server.port, seed=7, up=chunky) as proxy:
            done = proxy.run_schedule(schedule, time_scale=0.2)  # 3 s of faults in 0.6 s

            async def client(i: int) -> None:
                # Echo a numbered stream until the proxy ends the connection: whatever came
                # back must be an exact prefix of what was sent.
                data = random.Random(i).randbytes(100_000)
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
                got = bytearray()

                async def send() -> None:
                    with contextlib.suppress(ConnectionError, OSError):
                        for pos in range(0, len(data), 1000):
                            writer.write(data[pos : pos + 1000])
                            await writer.drain()

                sender = asyncio.create_task(send())
                try:
                    while chunk := await asyncio.wait_for(reader.read(65536), TIMEOUT):
                        got.extend(chunk)
                        if len(got) == len(data):
                            break
                except ConnectionResetError:
                    pass
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
                writer.close()
                assert data.startswith(bytes(got))

            async def clients() -> None:
                while not done.done():
                    await asyncio.gather(*(client(i) for i in range(3)))

            await asyncio.wait_for(asyncio.gather(done, clients()), 4 * TIMEOUT)
            assert proxy.counters.scheduled == len(schedule)
            assert proxy.counters.stalls == schedule.count("stall")
            assert proxy.counters.slowdowns == schedule.count("slow")
            assert proxy.counters.resets + proxy.counters.cuts > 0  # they met live connections


async def test_apply_one_action_by_hand():
    async with Server(echo) as server, FaultProxy("127.0.0.1", server.port) as proxy:
        proxy.apply(FaultAction(0.0, "stall", UP, None))
        assert proxy.stalled(UP) and not proxy.stalled(DOWN)
        proxy.resume()
        with pytest.raises(ValueError):
            proxy.apply(FaultAction(0.0, "flood"))


async def test_unreachable_target_closes_the_client():
    placeholder = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = placeholder.sockets[0].getsockname()[1]
    placeholder.close()
    await placeholder.wait_closed()  # the port is now (almost certainly) closed
    async with FaultProxy("127.0.0.1", port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            assert await asyncio.wait_for(reader.read(10), TIMEOUT) == b""
        except ConnectionResetError:
            pass
        writer.close()
        await proxy.wait_until(lambda c: c.upstream_failures == 1, TIMEOUT)
        assert proxy.counters.active == 0
