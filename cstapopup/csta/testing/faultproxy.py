"""A fault-injecting TCP proxy (asyncio) to put between a CSTA client and a PBX or the simulator.

Per direction ("up": client to PBX, "down": PBX to client) it can re-chunk the byte stream at
random points (splitting writes and coalescing several into one), delay it (fixed + jitter,
order kept), stall it (nothing forwarded, sockets kept open) for a while or until resumed,
reset the connections (RST), and cut a connection half-way through a frame (it follows the
3-byte frame headers to find where frames start).  Faults are applied by hand (`stall()`,
`resume()`, `reset_all()`, `cut_mid_frame()`) or by a seeded `FaultSchedule` for soak runs.
Every random choice comes from `random.Random(seed)` (one generator per connection, in the
order of acceptance), so the same seed makes the same choices for the same arrivals; the
kernel's timing still varies.  It serves any number of client connections at once and counts
what it did in `counters`.

    proxy = FaultProxy("127.0.0.1", simulator_port, seed=7)
    proxy.faults[DOWN] = DirectionFaults(split=True, max_chunk=5, delay=0.01, jitter=0.02)
    await proxy.start()
    client = CstaClient("127.0.0.1", proxy.port, ...)
    ...
    proxy.stall(DOWN, duration=2.0)
    await proxy.stop()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import random
import socket
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Self

log = logging.getLogger(__name__)

UP = "up"  # client -> server
DOWN = "down"  # server -> client
BOTH = "both"
_DIRECTIONS = (UP, DOWN)

#: What a FaultSchedule can do.  "slow": a delay (with jitter) for a while.
FAULT_KINDS = ("stall", "reset", "cut", "slow")

_FRAME_MARK = 0x26
_HEADER = 3
_READ_SIZE = 65536


def _directions(direction: str) -> tuple[str, ...]:
    if direction == BOTH:
        return _DIRECTIONS
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be {UP!r}, {DOWN!r} or {BOTH!r}, not {direction!r}")
    return (direction,)


@dataclass
class DirectionFaults:
    """The standing faults of one direction; changes apply at once, to every connection."""

    #: Re-chunk the stream: write it in pieces of 1..max_chunk bytes, cut at random points.
    split: bool = False
    max_chunk: int = 64
    #: Pause between the pieces of a split write (0: just let the event loop run).
    chunk_pause: float = 0.0
    #: Probability, per write, of holding it up to `coalesce_window` seconds so that what
    #: arrives meanwhile goes out with it.  (Data that is already waiting is always merged.)
    coalesce: float = 0.0
    coalesce_window: float = 0.005
    #: Every chunk read is forwarded `delay` + uniform(0, `jitter`) seconds later, never
    #: before the chunk read before it.
    delay: float = 0.0
    jitter: float = 0.0


@dataclass
class FaultCounters:
    """What the proxy did (all connections together)."""

    connections: int = 0  # client connections accepted
    active: int = 0  # of them open now
    upstream_failures: int = 0  # connections to the target that could not be made
    reads_up: int = 0  # chunks read from the client
    reads_down: int = 0  # chunks read from the server
    bytes_up: int = 0  # bytes forwarded client -> server
    bytes_down: int = 0  # bytes forwarded server -> client
    writes_up: int = 0
    writes_down: int = 0
    splits: int = 0  # extra writes made by splitting a chunk
    #: chunks read that went out merged into an earlier write (coalescing also happens
    #: without faults configured, whenever data waits in the proxy)
    coalesced: int = 0
    delayed: int = 0  # chunks held back by a delay
    stalls: int = 0  # stall() calls (manual or scheduled)
    resets: int = 0  # connections reset with an RST
    cuts: int = 0  # connections closed half-way through a frame
    slowdowns: int = 0  # scheduled "slow" periods
    scheduled: int = 0  # schedule actions applied

    @property
    def faults(self) -> int:
        """Faults injected: re-chunkings, delays, stalls, resets, cuts, slow periods."""
        return (
            self.splits
            + self.coalesced
            + self.delayed
            + self.stalls
            + self.resets
            + self.cuts
            + self.slowdowns
        )

    def as_dict(self) -> dict[str, int]:
        out = dataclasses.asdict(self)
        out["faults"] = self.faults
        return out


# Frame boundaries --------------------------------------------------------------------------------


class FrameTracker:
    """Follows the frame boundaries (0x26, 0x8000 | length, APDU) in a forwarded byte stream."""

    __slots__ = ("_body_left", "_header", "frames", "in_sync")

    def __init__(self) -> None:
        self._header = bytearray()  # header bytes of the current frame seen so far
        self._body_left = 0  # APDU bytes of the current frame still to come
        #: Whole frames forwarded so far.
        self.frames = 0
        #: False once a header did not start with 0x26 (boundaries are guesses from then on).
        self.in_sync = True

    @property
    def at_boundary(self) -> bool:
        return not self._header and not self._body_left

    def feed(self, data: bytes | bytearray) -> None:
        """Account for bytes that were forwarded."""
        i, n = 0, len(data)
        while i < n:
            if self._body_left:
                take = min(self._body_left, n - i)
                self._body_left -= take
                i += take
                if not self._body_left:
                    self.frames += 1
                continue
            take = min(_HEADER - len(self._header), n - i)
            self._header += data[i : i + take]
            i += take
            if len(self._header) == _HEADER:
                self._body_left = self._length(self._header)
                self._header.clear()
                if not self._body_left:
                    self.frames += 1

    def _length(self, header: bytes | bytearray) -> int:
        if header[0] != _FRAME_MARK:
            self.in_sync = False
        return ((header[1] << 8) | header[2]) & 0x7FFF

    def cut_offset(self, data: bytes | bytearray, rng: random.Random) -> int | None:
        """Where to stop forwarding `data` (the bytes that come next) so that the frame being
        forwarded is completed, the one after it is started but not finished; None when
        `data` does not reach into that next frame."""
        start: int
        if self.at_boundary:
            start = 0
        elif self._header:
            need = _HEADER - len(self._header)
            if len(data) < need:
                return None
            header = bytes(self._header) + bytes(data[:need])
            start = need + (((header[1] << 8) | header[2]) & 0x7FFF)
        else:
            start = self._body_left
        available = len(data) - start
        if available <= 0:
            return None
        if available >= _HEADER:
            total = _HEADER + (((data[start + 1] << 8) | data[start + 2]) & 0x7FFF)
        else:
            total = _HEADER  # only part of its header is here: cut inside the header
        return start + rng.randint(1, min(total - 1, available))


# The proxy ---------------------------------------------------------------------------------------


class _Pipe:
    """One direction of one connection: a reader task queues what arrives (with its due time),
    a forwarder task writes it on, applying the direction's faults."""

    def __init__(
        self,
        link: _Link,
        direction: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        rng: random.Random,
    ) -> None:
        self.link = link
        self.proxy = link.proxy
        self.direction = direction
        self.reader = reader
        self.writer = writer
        self.rng = rng
        self.tracker = FrameTracker()
        self.cut_armed = False
        self._queue: collections.deque[tuple[float, bytes] | None] = collections.deque()
        self._more = asyncio.Event()
        self._queued = 0  # bytes read and not yet written
        self._room = asyncio.Event()
        self._room.set()
        self._last_due = 0.0
        self.source_failed = False

    def _put(self, item: tuple[float, bytes] | None) -> None:
        self._queue.append(item)
        self._more.set()
        if item is not None:
            self._queued += len(item[1])

    async def _get(self) -> tuple[float, bytes] | None:
        while not self._queue:
            self._more.clear()
            await self._more.wait()
        return self._queue.popleft()

    def _written(self, n: int) -> None:
        self._queued -= n
        if self._queued < self.proxy.max_buffer:
            self._room.set()

    async def read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self.reader.read(_READ_SIZE)
                if not data:
                    break
                self.proxy._count("reads_up" if self.direction == UP else "reads_down")
                cfg = self.proxy.faults[self.direction]
                now = loop.time()
                due = now
                if cfg.delay > 0 or cfg.jitter > 0:
                    due = (
                        now + cfg.delay + (self.rng.uniform(0, cfg.jitter) if cfg.jitter > 0 else 0)
                    )
                    self.proxy._count("delayed")
                due = max(due, self._last_due)  # never overtake what was read before
                self._last_due = due
                self._put((due, data))
                if self._queued >= self.proxy.max_buffer:
                    # Held data (a stall, a slow reader) stops the reading: TCP flow control
                    # then holds the sender, and the proxy's memory stays bounded.
                    self._room.clear()
                    await self._room.wait()
        except (ConnectionError, OSError):
            self.source_failed = True
        finally:
            self._put(None)

    async def forward_loop(self) -> None:
        loop = asyncio.get_running_loop()
        flowing = self.proxy._flowing[self.direction]
        while True:
            item = await self._get()
            if item is None:
                await flowing.wait()
                if self.source_failed:
                    self.link.abort()
                    return
                with contextlib.suppress(OSError, RuntimeError):
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                return
            due, data = item
            await flowing.wait()  # what a stall held back goes out merged, below
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            cfg = self.proxy.faults[self.direction]
            buf = bytearray(data)
            if cfg.coalesce > 0 and self.rng.random() < cfg.coalesce and not self._queue:
                self._more.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._more.wait(), cfg.coalesce_window)
            ended = self._merge_ready(buf, loop.time())
            await flowing.wait()
            close_after = False
            taken = len(buf)
            if self.cut_armed:
                cut = self.tracker.cut_offset(buf, self.rng)
                if cut is not None:
                    del buf[cut:]
                    close_after = True
            if not await self._write(buf, cfg):
                self.link.abort()
                return
            self._written(taken)
            self.tracker.feed(buf)
            if close_after:
                self.proxy._count("cuts")
                self.link.close()
                return
            if ended:
                self._queue.appendleft(None)

    def _merge_ready(self, buf: bytearray, now: float) -> bool:
        """Append to `buf` every queued chunk already due; True if the end of the stream was
        reached (it is left for the caller to put back)."""
        while self._queue:
            nxt = self._queue[0]
            if nxt is None:
                self._queue.popleft()
                return True
            if nxt[0] > now:
                return False
            self._queue.popleft()
            buf += nxt[1]
            self.proxy._count("coalesced")
        return False

    async def _write(self, buf: bytearray, cfg: DirectionFaults) -> bool:
        flowing = self.proxy._flowing[self.direction]
        pos, n = 0, len(buf)
        try:
            while pos < n:
                size = n - pos
                if cfg.split:
                    size = min(size, self.rng.randint(1, max(1, cfg.max_chunk)))
                if pos:
                    self.proxy._count("splits")
                    if cfg.chunk_pause > 0:
                        await asyncio.sleep(cfg.chunk_pause)
                    else:
                        await asyncio.sleep(0)
                    await flowing.wait()
                chunk = bytes(buf[pos : pos + size])
                self.writer.write(chunk)
                await self.writer.drain()
                pos += size
                self.proxy._count_bytes(self.direction, size)
        except (ConnectionError, OSError, RuntimeError):
            return False
        return True


class _Link:
    """One client connection and its connection to the target."""

    def __init__(
        self,
        proxy: FaultProxy,
        number: int,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        server: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        rng: random.Random,
    ) -> None:
        self.proxy = proxy
        self.number = number
        self.client_writer = client[1]
        self.server_writer = server[1]
        self.pipes = {
            UP: _Pipe(self, UP, client[0], server[1], random.Random(rng.getrandbits(64))),
            DOWN: _Pipe(self, DOWN, server[0], client[1], random.Random(rng.getrandbits(64))),
        }
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = False

    async def run(self) -> None:
        for pipe in self.pipes.values():
            self._tasks.append(asyncio.create_task(pipe.read_loop()))
            self._tasks.append(asyncio.create_task(pipe.forward_loop()))
        try:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            self.close()

    def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()

    def close(self) -> None:
        """Close both sockets normally (FIN, after what was written)."""
        if self.closed:
            return
        self.closed = True
        self._stop_tasks()
        for writer in (self.client_writer, self.server_writer):
            with contextlib.suppress(Exception):
                writer.close()
        self.proxy._link_closed(self)

    def abort(self) -> None:
        """Close both sockets at once, dropping whatever is unsent."""
        if self.closed:
            return
        self.closed = True
        self._stop_tasks()
        for writer in (self.client_writer, self.server_writer):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self.proxy._link_closed(self)

    def reset(self) -> None:
        """Reset both connections: SO_LINGER 0, then close, so the kernel sends an RST."""
        if self.closed:
            return
        for writer in (self.client_writer, self.server_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.proxy._count("resets")
        self.abort()


class FaultProxy:
    """A TCP proxy from `listen_host:listen_port` (0: any free port, see `.port`) to
    `target_host:target_port` that injects faults; see the module documentation."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        seed: int = 0,
        *,
        up: DirectionFaults | None = None,
        down: DirectionFaults | None = None,
        connect_timeout: float = 5.0,
        max_buffer: int = 1 << 20,
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.seed = seed
        self.connect_timeout = connect_timeout
        #: Bytes held per direction of a connection before the proxy stops reading from its
        #: source (a stall or a slow peer then holds the sender through TCP flow control).
        self.max_buffer = max_buffer
        self.faults: dict[str, DirectionFaults] = {
            UP: up or DirectionFaults(),
            DOWN: down or DirectionFaults(),
        }
        self.counters = FaultCounters()
        self._rng = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._link_tasks: set[asyncio.Task[None]] = set()
        self._flowing: dict[str, asyncio.Event] = {}
        self._resume_handles: dict[str, asyncio.TimerHandle] = {}
        self._changed = asyncio.Event()
        self._schedule_tasks: set[asyncio.Task[None]] = set()
        self._slow_saved: dict[str, tuple[float, float]] = {}
        self._unslow_handles: list[asyncio.TimerHandle] = []

    # Life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        for direction in _DIRECTIONS:
            event = asyncio.Event()
            event.set()
            self._flowing[direction] = event
        self._changed = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, close every connection, cancel the schedules."""
        for task in list(self._schedule_tasks):
            task.cancel()
        for handle in [*self._resume_handles.values(), *self._unslow_handles]:
            handle.cancel()
        self._resume_handles.clear()
        self._unslow_handles.clear()
        self._unslow(BOTH)
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.abort()
        tasks = list(self._link_tasks) + list(self._schedule_tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.counters.connections
        self.counters.connections += 1
        link_rng = random.Random(self._rng.getrandbits(64))
        try:
            server = await asyncio.wait_for(
                asyncio.open_connection(self.target_host, self.target_port), self.connect_timeout
            )
        except (TimeoutError, OSError) as exc:
            log.info("proxy: cannot reach %s:%s: %s", self.target_host, self.target_port, exc)
            self.counters.upstream_failures += 1
            writer.close()
            self._notify()
            return
        for w in (writer, server[1]):
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(self, number, (reader, writer), server, link_rng)
        self._links.add(link)
        self.counters.active += 1
        self._notify()
        task = asyncio.current_task()
        if task is not None:
            self._link_tasks.add(task)
        try:
            await link.run()
        finally:
            if task is not None:
                self._link_tasks.discard(task)

    def _link_closed(self, link: _Link) -> None:
        if link in self._links:
            self._links.discard(link)
            self.counters.active -= 1
            self._notify()

    # Counters and waiting --------------------------------------------------------------------

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _count(self, name: str, n: int = 1) -> None:
        setattr(self.counters, name, getattr(self.counters, name) + n)
        self._notify()

    def _count_bytes(self, direction: str, n: int) -> None:
        c = self.counters
        if direction == UP:
            c.bytes_up += n
            c.writes_up += 1
        else:
            c.bytes_down += n
            c.writes_down += 1
        self._notify()

    async def wait_until(
        self, predicate: Callable[[FaultCounters], bool], timeout: float = 5.0
    ) -> None:
        """Wait until `predicate(counters)` holds (checked at every change); TimeoutError if
        it does not within `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if predicate(self.counters):
                    return
                await changed.wait()

    # Manual faults ---------------------------------------------------------------------------

    def stall(self, direction: str = BOTH, duration: float | None = None) -> None:
        """Stop forwarding in `direction` (sockets stay open, arriving data is kept) for
        `duration` seconds, or until resume()."""
        loop = asyncio.get_running_loop()
        for d in _directions(direction):
            self._flowing[d].clear()
            handle = self._resume_handles.pop(d, None)
            if handle is not None:
                handle.cancel()
            if duration is not None:
                self._resume_handles[d] = loop.call_later(duration, self.resume, d)
        self._count("stalls")

    def resume(self, direction: str = BOTH) -> None:
        """Forward again what a stall held back, in order."""
        for d in _directions(direction):
            handle = self._resume_handles.pop(d, None)
            if handle is not None:
                handle.cancel()
            self._flowing[d].set()
        self._notify()

    def stalled(self, direction: str) -> bool:
        return not self._flowing[direction].is_set()

    def held_bytes(self, direction: str = BOTH) -> int:
        """Bytes read and not yet forwarded, over all connections (at most about `max_buffer`
        plus one read per connection and direction)."""
        ds = _directions(direction)
        return sum(link.pipes[d]._queued for link in self._links for d in ds)

    def reset_all(self) -> int:
        """Reset every open connection (an RST to both the client and the target); returns
        how many."""
        links = list(self._links)
        for link in links:
            link.reset()
        return len(links)

    def cut_mid_frame(self, direction: str = DOWN) -> int:
        """On every open connection, finish the frame being forwarded in `direction`, forward
        part of the next one (at least one byte, never all of it), then close the connection.
        Returns on how many connections the cut is armed (it happens when the data comes)."""
        links = list(self._links)
        for link in links:
            for d in _directions(direction):
                link.pipes[d].cut_armed = True
        return len(links)

    # Scheduled faults ------------------------------------------------------------------------

    def apply(self, action: FaultAction) -> None:
        """Carry out one scheduled action now."""
        if action.kind == "stall":
            self.stall(action.direction, action.duration)
        elif action.kind == "reset":
            self.reset_all()
        elif action.kind == "cut":
            self.cut_mid_frame(action.direction)
        elif action.kind == "slow":
            self._slow(action)
        else:
            raise ValueError(f"unknown fault kind {action.kind!r}")
        self._count("scheduled")

    def _slow(self, action: FaultAction) -> None:
        loop = asyncio.get_running_loop()
        for d in _directions(action.direction):
            cfg = self.faults[d]
            self._slow_saved.setdefault(d, (cfg.delay, cfg.jitter))
            cfg.delay, cfg.jitter = action.delay, action.delay
        if action.duration is not None:
            self._unslow_handles.append(
                loop.call_later(action.duration, self._unslow, action.direction)
            )
        self._count("slowdowns")

    def _unslow(self, direction: str) -> None:
        for d in _directions(direction):
            saved = self._slow_saved.pop(d, None)
            if saved is not None:
                self.faults[d].delay, self.faults[d].jitter = saved

    def run_schedule(self, schedule: FaultSchedule, time_scale: float = 1.0) -> asyncio.Task[None]:
        """Apply the schedule's actions at their times (seconds from now, times `time_scale`),
        in the background; the task ends after the last one (cancel it to stop early)."""
        task = asyncio.create_task(self._run_schedule(schedule, time_scale))
        self._schedule_tasks.add(task)
        task.add_done_callback(self._schedule_tasks.discard)
        return task

    async def _run_schedule(self, schedule: FaultSchedule, time_scale: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for action in schedule.actions:
            wait = start + action.at * time_scale - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # the action's time has come: this is the schedule
            if action.duration is not None and time_scale != 1.0:
                action = dataclasses.replace(action, duration=action.duration * time_scale)
            self.apply(action)


# Schedules ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultAction:
    """One fault at `at` seconds from the start of a schedule."""

    at: float
    kind: str
    direction: str = BOTH
    #: For stall and slow: how long it lasts (None: a stall until resume()).
    duration: float | None = None
    #: For slow: the delay (and jitter) per chunk.
    delay: float = 0.0


@dataclass(frozen=True)
class FaultSchedule:
    """Timed fault actions, in order of time."""

    actions: tuple[FaultAction, ...]
    seed: int | None = None
    duration: float = 0.0

    @classmethod
    def generate(
        cls,
        seed: int,
        duration: float,
        rates: Mapping[str, float],
        *,
        stall_duration: tuple[float, float] = (0.05, 1.0),
        slow_duration: tuple[float, float] = (0.1, 2.0),
        slow_delay: tuple[float, float] = (0.005, 0.1),
    ) -> FaultSchedule:
        """Faults of each kind at random times: a Poisson process of `rates[kind]` per second
        over `duration` seconds, all drawn from random.Random(seed)."""
        unknown = set(rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        rng = random.Random(seed)
        actions: list[FaultAction] = []
        for kind in FAULT_KINDS:  # a fixed order, so that the seed alone decides
            rate = rates.get(kind, 0.0)
            if rate <= 0:
                continue
            t = rng.expovariate(rate)
            while t < duration:
                if kind == "stall":
                    actions.append(
                        FaultAction(
                            t, kind, rng.choice((UP, DOWN, BOTH)), rng.uniform(*stall_duration)
                        )
                    )
                elif kind == "reset":
                    actions.append(FaultAction(t, kind))
                elif kind == "cut":
                    actions.append(FaultAction(t, kind, rng.choice((UP, DOWN))))
                else:
                    actions.append(
                        FaultAction(
                            t,
                            kind,
                            rng.choice((UP, DOWN, BOTH)),
                            rng.uniform(*slow_duration),
                            rng.uniform(*slow_delay),
                        )
                    )
                t += rng.expovariate(rate)
        actions.sort(key=lambda a: (a.at, a.kind))
        return cls(tuple(actions), seed, duration)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.actions if a.kind == kind)

    def __iter__(self) -> Iterator[FaultAction]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)
