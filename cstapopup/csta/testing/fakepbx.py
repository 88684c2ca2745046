"""A minimal scripted PBX on 127.0.0.1, for tests and benchmarks that need to control the PBX
side byte by byte: it associates, answers MonitorStart / SnapshotDevice / MonitorStop /
RequestSystemStatus / RLRQ, and then does what the test asks on each link — flood pre-encoded
event frames as fast as TCP takes them, trickle bytes, go silent, drop the link.  It notes when
each link was accepted and when its first byte, its AARQ and its first MonitorStart came.

Unlike the simulator (switch/server.py) it has no call model: the events it sends are made by
`call_frames()`, realistic reports of many distinct calls.

    pbx = FakePbx()
    await pbx.start()
    client = CstaClient("127.0.0.1", pbx.port)
    ...
    link = await pbx.wait_link()
    await link.wait_monitor("100")
    await link.flood(call_frames(link.monitors["100"], 100_000))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self, TypedDict

from cstapopup.csta import codec, framing, operations
from cstapopup.csta.events import (
    NOT_KNOWN,
    ConnectionClearedEvent,
    ConnectionId,
    CstaEvent,
    DeliveredEvent,
    DeviceId,
    EstablishedEvent,
    NetworkReachedEvent,
    OriginatedEvent,
)

log = logging.getLogger(__name__)

#: Bytes written to a link before waiting for the socket to take them (TCP's pace).
FLOOD_CHUNK = 1 << 16


@dataclass(eq=False)
class FakeLink:
    """One client connection to the fake PBX.  Times are time.perf_counter() values."""

    pbx: FakePbx
    writer: asyncio.StreamWriter
    accepted_at: float
    first_byte_at: float | None = None
    aarq_at: float | None = None
    first_monitor_start_at: float | None = None
    #: device -> the cross-ref id given for its monitor
    monitors: dict[str, bytes] = field(default_factory=dict)
    #: The cross-ref id the next MonitorStart of this link gets (each link counts from the
    #: PBX's `cross_ref_base`, so that pre-encoded events fit every link).
    next_cross_ref: int = 1
    invokes: list[int] = field(default_factory=list)
    closed: bool = False
    #: Set to stop answering anything (a PBX that hangs).
    silent: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, predicate, timeout: float = 10.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    async def wait_monitor(self, device: str, timeout: float = 10.0) -> bytes:
        await self.wait(lambda: device in self.monitors, timeout)
        return self.monitors[device]

    def write(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    async def flood(self, frames: Sequence[bytes]) -> float:
        """Write `frames` as fast as TCP takes them (waiting only when the socket's buffer is
        full); the seconds it took until the last byte was handed to the kernel."""
        start = time.perf_counter()
        chunk = bytearray()
        for f in frames:
            chunk += f
            if len(chunk) >= FLOOD_CHUNK:
                self.write(bytes(chunk))
                chunk.clear()
                await self.writer.drain()
        if chunk:
            self.write(bytes(chunk))
        await self.writer.drain()
        return time.perf_counter() - start

    async def trickle(self, data: bytes, interval: float) -> None:
        """Send `data` one byte every `interval` seconds (until the link closes)."""
        for i in range(len(data)):
            if self.closed or self.writer.is_closing():
                return
            self.write(data[i : i + 1])
            await asyncio.sleep(interval)

    def abort(self) -> None:
        """Drop the link at once (RST)."""
        self.closed = True
        self.writer.transport.abort()


class FakePbx:
    """See the module docstring.  `cross_ref_base`: the cross-ref id of each link's first
    monitor."""

    def __init__(self, *, cross_ref_base: int = 1) -> None:
        self.links: list[FakeLink] = []
        self._server: asyncio.Server | None = None
        self.cross_ref_base = cross_ref_base
        self._changed = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for link in self.links:
            link.closed = True
            link.writer.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_link(self, count: int = 1, timeout: float = 10.0) -> FakeLink:
        """The `count`-th link accepted (1 = the first), once it is there."""

        async def loop() -> None:
            while len(self.links) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)
        return self.links[count - 1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = FakeLink(self, writer, time.perf_counter(), next_cross_ref=self.cross_ref_base)
        self.links.append(link)
        self._changed.set()
        frames = framing.FrameReader()
        try:
            while data := await reader.read(65536):
                if link.first_byte_at is None:
                    link.first_byte_at = time.perf_counter()
                for apdu in frames.feed(data):
                    if not link.silent:
                        self._answer(link, codec.decode_apdu(apdu))
                    link._changed.set()
        except (ConnectionError, OSError, framing.FramingError, codec.DecodeError) as exc:
            log.debug("fake PBX link ended: %r", exc)
        finally:
            link.closed = True
            link._changed.set()
            with contextlib.suppress(Exception):
                writer.close()

    def _answer(self, link: FakeLink, msg: codec.Apdu) -> None:
        def send(apdu: codec.Apdu) -> None:
            link.write(framing.frame(codec.encode_apdu(apdu)))

        if isinstance(msg, codec.AssociationRequest):
            link.aarq_at = time.perf_counter()
            send(codec.AssociationResponse(0, 0))
            send(codec.Invoke(1, operations.SYSTEM_STATUS, {"systemStatus": "normal"}))
        elif isinstance(msg, codec.Invoke):
            link.invokes.append(msg.operation)
            if msg.operation == operations.MONITOR_START:
                if link.first_monitor_start_at is None:
                    link.first_monitor_start_at = time.perf_counter()
                device = codec.device_from_asn1(msg.argument["monitorObject"][1]).number or ""
                cross_ref = link.next_cross_ref.to_bytes(2, "big")
                link.next_cross_ref = link.next_cross_ref % 0xFFFF + 1
                link.monitors[device] = cross_ref
                send(
                    codec.ReturnResult(
                        msg.invoke_id, msg.operation, {"crossRefIdentifier": cross_ref}
                    )
                )
            elif msg.operation == operations.SNAPSHOT_DEVICE:
                send(
                    codec.ReturnResult(
                        msg.invoke_id,
                        msg.operation,
                        {"crossRefIDorSnapshotData": ("snapshotData", [])},
                    )
                )
            elif msg.operation == operations.REQUEST_SYSTEM_STATUS:
                send(codec.ReturnResult(msg.invoke_id, msg.operation, {"systemStatus": "normal"}))
            else:
                send(codec.ReturnResult(msg.invoke_id, msg.operation, ("noData", None)))
        elif isinstance(msg, codec.ReleaseRequest):
            send(codec.ReleaseResponse())


# Realistic traffic --------------------------------------------------------------------------


class _CallCommon(TypedDict):
    """What every event of one call in `call_events` shares."""

    cross_ref_id: bytes
    connection: ConnectionId
    global_call_id: bytes
    timestamp: datetime


def call_events(cross_ref: bytes, count: int, device: str = "100") -> list[CstaEvent]:
    """`count` event reports of distinct calls at `device`, as HiPath lays them out: incoming
    calls answered (delivered, established, connection cleared), incoming calls missed
    (delivered, connection cleared) and outgoing calls (originated, network reached,
    established, connection cleared), with varied callers, trunks, causes and times."""
    out: list[CstaEvent] = []
    own = DeviceId.of(device)
    call = 0
    while len(out) < count:
        call += 1
        cid = (call % 0xFFFF + 1).to_bytes(2, "big")
        conn = ConnectionId(cid, own)
        gcid = b"\x01\x3e\xc5\xc3\x22\xc3\x47\x88\x01\x00\x80\x00" + call.to_bytes(4, "big")
        when = datetime(2024, 3, 1 + call % 28, 8 + call % 10, call % 60, (call * 7) % 60)
        other = DeviceId.of(f"0{89 + call % 7}{2000000 + call * 37 % 7000000:07d}")
        trunk = DeviceId.of(f"99{call % 8 + 1:02d}")
        common: _CallCommon = {
            "cross_ref_id": cross_ref,
            "connection": conn,
            "global_call_id": gcid,
            "timestamp": when,
        }
        kind = call % 3
        if kind in (0, 1):  # incoming, answered (0) or missed (1)
            out.append(
                DeliveredEvent(
                    alerting_device=own,
                    calling_device=other,
                    called_device=own,
                    last_redirection_device=NOT_KNOWN,
                    associated_calling_device=trunk,
                    cause="new_call",
                    local_connection_state="alerting",
                    **common,
                )
            )
            if kind == 0:
                out.append(
                    EstablishedEvent(
                        answering_device=own,
                        calling_device=other,
                        called_device=own,
                        last_redirection_device=NOT_KNOWN,
                        cause="new_call",
                        local_connection_state="connected",
                        **common,
                    )
                )
            out.append(
                ConnectionClearedEvent(
                    releasing_device=other if kind == 0 else own,
                    cause="normal_clearing",
                    local_connection_state="null",
                    **common,
                )
            )
        else:  # outgoing
            out.append(
                OriginatedEvent(
                    originating_device=own,
                    calling_device=own,
                    called_device=other,
                    cause="new_call",
                    local_connection_state="connected",
                    **common,
                )
            )
            out.append(
                NetworkReachedEvent(
                    calling_device=own,
                    called_device=other,
                    cause="normal",
                    local_connection_state="connected",
                    **common,
                )
            )
            out.append(
                EstablishedEvent(
                    answering_device=other,
                    calling_device=own,
                    called_device=other,
                    cause="normal",
                    local_connection_state="connected",
                    **common,
                )
            )
            out.append(
                ConnectionClearedEvent(
                    releasing_device=own,
                    cause="normal_clearing",
                    local_connection_state="null",
                    **common,
                )
            )
    return out[:count]


def event_frames(events: Iterable[CstaEvent], first_invoke_id: int = 100) -> list[bytes]:
    """The framed EventReport of each event, with growing invoke ids (1..0x7FFFFF, as HiPath)."""
    out = []
    iid = first_invoke_id
    for ev in events:
        out.append(framing.frame(codec.encode_apdu(codec.EventReport(iid, ev))))
        iid = iid % 0x7FFFFF + 1
    return out
