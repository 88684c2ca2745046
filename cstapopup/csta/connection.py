"""The sans-IO CSTA client connection: bytes in -> events out; requests -> bytes out.

`ClientConnection` holds the association state, allocates invoke ids, matches results,
errors and rejects to requests by invoke id (never by order), answers every SystemStatus from
the PBX with its own invoke id, and turns every protocol violation into a `ProtocolError`
event instead of an exception.  It does no I/O: feed it with `receive_data()`, send what
`data_to_send()` returns.  The states and their legal transitions are in `LinkState` and
`_TRANSITIONS`.  An event report whose event cannot be decoded still comes out as an
`EventReceived`, holding an `UndecodableEvent` (and logged as a warning with its bytes).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import acse, codec, operations
from .codec import UniversalFailure
from .events import CstaEvent, UndecodableEvent
from .framing import DEFAULT_MAX_LENGTH, FrameReader, FramingError, frame

log = logging.getLogger(__name__)

#: Invoke ids are INTEGERs; we keep ours positive and below 2**15 and wrap around.
MAX_INVOKE_ID = 0x7FFF
#: Requests awaiting an answer at once; beyond this, send_request refuses (bounds memory).
DEFAULT_MAX_PENDING = 1024


class LinkState(enum.Enum):
    IDLE = "idle"  # nothing sent yet
    ASSOCIATING = "associating"  # AARQ sent, waiting for the AARE
    ASSOCIATED = "associated"  # AARE accepted, waiting for the PBX's first SystemStatus
    UP = "up"  # SystemStatus answered: requests may flow
    RELEASING = "releasing"  # RLRQ sent, waiting for the RLRE
    CLOSED = "closed"  # released, aborted, rejected or broken: make a new connection


_TRANSITIONS: dict[LinkState, set[LinkState]] = {
    LinkState.IDLE: {LinkState.ASSOCIATING, LinkState.CLOSED},
    LinkState.ASSOCIATING: {LinkState.ASSOCIATED, LinkState.CLOSED},
    LinkState.ASSOCIATED: {LinkState.UP, LinkState.RELEASING, LinkState.CLOSED},
    LinkState.UP: {LinkState.RELEASING, LinkState.CLOSED},
    LinkState.RELEASING: {LinkState.CLOSED},
    LinkState.CLOSED: set(),
}


class ConnectionStateError(Exception):
    """A request was made that the connection's state does not allow (a bug in the caller)."""


# Events the connection reports -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationAccepted:
    response: codec.AssociationResponse


@dataclass(frozen=True, slots=True)
class AssociationRejected:
    """The AARE refused the association: `permanent` (result 1: trying again will not help)
    or not (result 2, rejected-transient, e.g. all CSTA links in use; or a result no
    standard defines, which is retried too)."""

    response: codec.AssociationResponse

    @property
    def result(self) -> int:
        return self.response.result

    @property
    def diagnostic(self) -> int | None:
        return self.response.diagnostic

    @property
    def diagnostic_source(self) -> str:
        return self.response.diagnostic_source

    @property
    def permanent(self) -> bool:
        return self.response.result == acse.REJECTED_PERMANENT

    @property
    def reason(self) -> str:
        kind = {acse.REJECTED_PERMANENT: "permanent", acse.REJECTED_TRANSIENT: "transient"}
        text = f"association rejected ({kind.get(self.result, f'result {self.result}')})"
        name = acse.diagnostic_name(self.diagnostic_source, self.diagnostic)
        return f"{text}, {name}" if name else text


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The PBX's SystemStatus was answered: the link is ready for requests."""


@dataclass(frozen=True, slots=True)
class SystemStatusReceived:
    invoke_id: int
    status: str | None


@dataclass(frozen=True, slots=True)
class ResultReceived:
    invoke_id: int
    operation: int
    result: Any


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    invoke_id: int
    operation: int
    failure: UniversalFailure | None
    error_code: int


@dataclass(frozen=True, slots=True)
class RejectReceived:
    invoke_id: int | None
    operation: int | None
    problem_kind: str
    problem: str


@dataclass(frozen=True, slots=True)
class EventReceived:
    invoke_id: int
    event: CstaEvent


@dataclass(frozen=True, slots=True)
class InvokeReceived:
    """An invoke from the PBX other than SystemStatus and event reports (already rejected
    when its operation is unknown)."""

    invoke: codec.Invoke


@dataclass(frozen=True, slots=True)
class Released:
    """The association was released (RLRE received, or an RLRQ from the PBX answered)."""


@dataclass(frozen=True, slots=True)
class Aborted:
    source: int | None
    by_peer: bool = True


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """A protocol violation.  `fatal` means the connection is closed and must be dropped."""

    message: str
    fatal: bool = False
    data: bytes | None = field(default=None, repr=False)


ConnectionEvent = (
    AssociationAccepted
    | AssociationRejected
    | LinkUp
    | SystemStatusReceived
    | ResultReceived
    | ErrorReceived
    | RejectReceived
    | EventReceived
    | InvokeReceived
    | Released
    | Aborted
    | ProtocolError
)

TraceHook = Callable[[str, str], None]


class ClientConnection:
    """One association with a PBX, without I/O."""

    def __init__(
        self,
        *,
        max_frame_length: int = DEFAULT_MAX_LENGTH,
        max_pending: int = DEFAULT_MAX_PENDING,
        trace: TraceHook | None = None,
    ) -> None:
        self.state = LinkState.IDLE
        self._reader = FrameReader(max_frame_length)
        self._out = bytearray()
        self._next_id = 1
        #: invoke id -> operation code of each request awaiting its answer
        self.pending: dict[int, int] = {}
        self.max_pending = max_pending
        self._trace = trace
        self.system_status_count = 0
        #: Whole frames received so far: the link's liveness counts frames, not bytes (a
        #: peer that trickles bytes without ever completing a frame is not alive).
        self.frames_received = 0

    # State ---------------------------------------------------------------------------------

    def _to(self, new: LinkState) -> None:
        if new is self.state:
            return
        if new not in _TRANSITIONS[self.state]:
            raise ConnectionStateError(f"cannot go from {self.state.value} to {new.value}")
        self.state = new

    def _close(self) -> None:
        if self.state is not LinkState.CLOSED:
            self.state = LinkState.CLOSED

    @property
    def is_up(self) -> bool:
        return self.state is LinkState.UP

    # Output --------------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """The bytes to write to the socket now (and forget)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def _send(self, apdu: codec.Apdu, trace_apdu: codec.Apdu | None = None) -> None:
        encoded = codec.encode_apdu(apdu)
        framed = frame(encoded)
        self._out += framed
        if self._trace is not None:
            shown = framed if trace_apdu is None else frame(codec.encode_apdu(trace_apdu))
            self._trace("send", shown.hex(" "))

    def associate(self, user: str, password: str) -> None:
        """Queue the AARQ.  The password never reaches the trace (it is masked there)."""
        if self.state is not LinkState.IDLE:
            raise ConnectionStateError(f"associate() in state {self.state.value}")
        self._send(
            codec.AssociationRequest(user, password),
            trace_apdu=codec.AssociationRequest(user, "*" * len(password)),
        )
        self._to(LinkState.ASSOCIATING)

    def _allocate_id(self) -> int:
        # Never more than there are invoke ids: the search below would not end.
        limit = min(self.max_pending, MAX_INVOKE_ID)
        if len(self.pending) >= limit:
            raise ConnectionStateError(f"{limit} requests are already pending")
        while True:
            iid = self._next_id
            self._next_id = 1 if self._next_id >= MAX_INVOKE_ID else self._next_id + 1
            if iid not in self.pending:
                return iid

    def send_request(self, operation: int, argument: Any) -> int:
        """Queue a request; returns its invoke id, by which its answer will be reported."""
        if self.state not in (LinkState.UP, LinkState.ASSOCIATED):
            raise ConnectionStateError(f"cannot send a request in state {self.state.value}")
        iid = self._allocate_id()
        self._send(codec.Invoke(iid, operation, argument))
        self.pending[iid] = operation
        return iid

    def forget(self, invoke_id: int) -> None:
        """Stop waiting for the answer to a request (it timed out); a late answer is ignored."""
        self.pending.pop(invoke_id, None)

    def release(self) -> None:
        """Queue an RLRQ (orderly release)."""
        if self.state in (LinkState.CLOSED, LinkState.RELEASING, LinkState.IDLE):
            return
        self._send(codec.ReleaseRequest())
        self._to(LinkState.RELEASING)

    def abort(self) -> None:
        """Queue an ABRT and close (as the known HiPath clients leave)."""
        if self.state in (LinkState.CLOSED, LinkState.IDLE):
            self._close()
            return
        self._send(codec.Abort(0, 1))
        self._close()

    # Input ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[ConnectionEvent]:
        """Feed received bytes; returns what they mean, in order.  Never raises."""
        if self.state is LinkState.CLOSED:
            return []
        try:
            frames = self._reader.feed(data)
            error: FramingError | None = None
        except FramingError as exc:
            frames, error = exc.frames, exc
        self.frames_received += len(frames)
        events: list[ConnectionEvent] = []
        for apdu in frames:
            if self._trace is not None:
                self._trace("recv", frame(apdu).hex(" "))
            events.extend(self._handle_apdu(apdu))
            if self.state is LinkState.CLOSED:
                return events
        if error is not None:
            self._close()
            events.append(ProtocolError(f"stream out of sync: {error}", fatal=True))
        return events

    def _handle_apdu(self, data: bytes) -> list[ConnectionEvent]:
        try:
            apdu = codec.decode_apdu(data)
        except codec.DecodeError as exc:
            return self._undecodable(data, exc)
        try:
            return self._dispatch(apdu, data)
        except Exception as exc:  # a value we could decode but not handle: never escape
            log.exception("cannot handle %r", apdu)
            return [ProtocolError(f"cannot handle {type(apdu).__name__}: {exc}", data=data)]

    def _undecodable(self, data: bytes, exc: codec.DecodeError) -> list[ConnectionEvent]:
        if self.state in (LinkState.IDLE, LinkState.ASSOCIATING):
            self._close()
            return [
                ProtocolError(
                    f"undecodable answer to the association request: {exc}", fatal=True, data=data
                )
            ]
        events: list[ConnectionEvent] = [
            ProtocolError(f"undecodable APDU skipped: {exc}", data=data)
        ]
        # An undecodable invoke (other than an event report, which gets no reply) is rejected
        # so that the PBX does not wait for an answer that will never come.
        iid = _peek_invoke_id(data)
        if (
            data[:1] == b"\xa1"
            and iid is not None
            and _peek_opcode(data) != operations.EVENT_REPORT
        ):
            self._send(codec.Reject(iid, "invoke", 2))  # mistypedArgument
        return events

    def _dispatch(self, apdu: codec.Apdu, data: bytes) -> list[ConnectionEvent]:
        if isinstance(apdu, codec.EventReport):
            if self.state not in (LinkState.UP, LinkState.ASSOCIATED, LinkState.RELEASING):
                return [
                    ProtocolError(f"event report in state {self.state.value} ignored", data=data)
                ]
            if isinstance(apdu.event, UndecodableEvent):
                # Passed on as what it is (the tracker and the user see it); said loudly here.
                ev = apdu.event
                log.warning(
                    "undecodable %s event (cross-ref %s, call %s) passed on as such: %s; APDU %s",
                    ev.event_type or ev.category or "?",
                    ev.cross_ref_id.hex() or "?",
                    ev.connection or "?",
                    ev.reason,
                    _hex_head(data),
                )
            return [EventReceived(apdu.invoke_id, apdu.event)]
        if isinstance(apdu, codec.AssociationResponse):
            if self.state is not LinkState.ASSOCIATING:
                return [ProtocolError(f"unexpected AARE in state {self.state.value}", data=data)]
            if apdu.accepted:
                self._to(LinkState.ASSOCIATED)
                return [AssociationAccepted(apdu)]
            self._close()
            return [AssociationRejected(apdu)]
        if isinstance(apdu, codec.Invoke):
            return self._on_invoke(apdu, data)
        if isinstance(apdu, codec.ReturnResult):
            op = self.pending.pop(apdu.invoke_id, None)
            if op is None:
                return [
                    ProtocolError(
                        f"result for unknown invoke id {apdu.invoke_id} ignored", data=data
                    )
                ]
            return [ResultReceived(apdu.invoke_id, op, apdu.result)]
        if isinstance(apdu, codec.ReturnError):
            op = self.pending.pop(apdu.invoke_id, None)
            if op is None:
                return [
                    ProtocolError(
                        f"error for unknown invoke id {apdu.invoke_id} ignored", data=data
                    )
                ]
            return [ErrorReceived(apdu.invoke_id, op, apdu.failure, apdu.error_code)]
        if isinstance(apdu, codec.Reject):
            op = None if apdu.invoke_id is None else self.pending.pop(apdu.invoke_id, None)
            return [RejectReceived(apdu.invoke_id, op, apdu.problem_kind, apdu.problem_name)]
        if isinstance(apdu, codec.ReleaseResponse):
            self._close()
            return [Released()]
        if isinstance(apdu, codec.ReleaseRequest):
            self._send(codec.ReleaseResponse())
            self._close()
            return [Released()]
        if isinstance(apdu, codec.Abort):
            self._close()
            return [Aborted(apdu.source)]
        return [ProtocolError(f"unexpected {type(apdu).__name__} from the PBX ignored", data=data)]

    def _on_invoke(self, apdu: codec.Invoke, data: bytes) -> list[ConnectionEvent]:
        if apdu.operation == operations.SYSTEM_STATUS:
            # Always answered, whenever it arrives, with the PBX's own invoke id.
            self._send(
                codec.ReturnResult(apdu.invoke_id, operations.SYSTEM_STATUS, ("noData", None))
            )
            self.system_status_count += 1
            status = apdu.argument.get("systemStatus") if isinstance(apdu.argument, dict) else None
            events: list[ConnectionEvent] = [SystemStatusReceived(apdu.invoke_id, status)]
            if self.state is LinkState.ASSOCIATED:
                self._to(LinkState.UP)
                events.append(LinkUp())
            return events
        if apdu.operation not in operations.BY_CODE:
            self._send(codec.Reject(apdu.invoke_id, "invoke", 1))  # unrecognizedOperation
            return [
                ProtocolError(
                    f"unknown operation {apdu.operation} from the PBX rejected", data=data
                )
            ]
        return [InvokeReceived(apdu)]

    def mark_up(self) -> list[ConnectionEvent]:
        """Declare the link up without a SystemStatus (for a PBX that does not send one)."""
        if self.state is LinkState.ASSOCIATED:
            self._to(LinkState.UP)
            return [LinkUp()]
        return []


#: Bytes of an undecodable APDU shown in the log: enough to see its structure, while a hostile
#: 32 KB frame does not become a 96 KB log line (the event itself keeps all of them).
LOGGED_BYTES = 512


def _hex_head(data: bytes) -> str:
    if len(data) <= LOGGED_BYTES:
        return data.hex(" ")
    return f"{data[:LOGGED_BYTES].hex(' ')} ... ({len(data)} bytes in all)"


def _peek_invoke_id(data: bytes) -> int | None:
    """The invoke id of a ROSE APDU that could not be decoded as a whole, if readable."""
    try:
        i = 1
        if data[i] & 0x80:
            i += 1 + (data[i] & 0x7F)
        else:
            i += 1
        if data[i] != 0x02:
            return None
        n = data[i + 1]
        if not 1 <= n <= 4:
            return None
        return int.from_bytes(data[i + 2 : i + 2 + n], "big", signed=True)
    except IndexError:
        return None


def _peek_opcode(data: bytes) -> int | None:
    try:
        i = 1
        i += 1 + (data[i] & 0x7F) if data[i] & 0x80 else 1
        i += 2 + data[i + 1]  # skip the invoke id
        if data[i] == 0x80:  # linked id
            i += 2 + data[i + 1]
        if data[i] != 0x02:
            return None
        n = data[i + 1]
        return int.from_bytes(data[i + 2 : i + 2 + n], "big", signed=True)
    except IndexError:
        return None
