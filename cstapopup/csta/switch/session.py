"""The PBX side of one CSTA link, without I/O: bytes in, bytes out.

`SwitchSession` does the association (AARQ -> AARE, then the SystemStatus invoke), the
monitors of the link (MonitorStart / MonitorStop / ChangeMonitorFilter and the filter bits),
the ROSE bookkeeping (its own growing invoke ids, Reject for what it cannot take), and hands
every call-control service to its `SessionBackend` (the server, acting on the call model).

What it does with bad input:
- bytes that are not a frame (first byte not 0x26) or a frame above the size limit: the stream
  cannot be resynchronised, so it sends an ABRT and closes the link;
- a frame whose APDU cannot be decoded: a Reject (general problem; with the invoke id and
  invoke problem mistypedArgument when only the argument is bad); the link stays up;
- an invoke of an operation the simulator does not implement: Reject, invoke problem
  unrecognizedOperation;
- anything but an AARQ before the association, or a second AARQ: ABRT and close.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from cstapopup.csta import acse, codec, framing, operations
from cstapopup.csta.codec import (
    Abort,
    AssociationRequest,
    AssociationResponse,
    EventReport,
    Invoke,
    Reject,
    ReleaseRequest,
    ReleaseResponse,
    ReturnError,
    ReturnResult,
    UniversalFailure,
)
from cstapopup.csta.defaults import DEFAULT_PASSWORD, DEFAULT_USER
from cstapopup.csta.events import CallEvent, CstaEvent

from .model import SwitchError

log = logging.getLogger("cstapopup.csta.switch")

#: The largest invoke id the session uses (3 content bytes, as HiPath); then it wraps to 1.
MAX_INVOKE_ID = 0x7FFFFF
#: What the AARE carries in its responding authentication value, as a HiPath's (protocol
#: facts §2: a 16-byte "aps-stamp" and a 7-byte "system-version"; their meaning is not
#: public, so the simulator's own).  A client that reads them (the Perl one does) needs them.
APS_STAMP = b"cstapopup-sim-01"
SYSTEM_VERSION = b"SIM 1.0"

# ROSE Reject problems (X.880; names in operations.REJECT_PROBLEMS).
GENERAL_UNRECOGNIZED_PDU, GENERAL_BADLY_STRUCTURED = 0, 2
INVOKE_UNRECOGNIZED_OPERATION, INVOKE_MISTYPED_ARGUMENT = 1, 2
RESULT_UNRECOGNIZED_INVOCATION = 0

#: Call-control event name -> its bit in the callControl filter (protocol facts §5).
CALL_CONTROL_FILTER_BITS: dict[str, int] = {
    "call_cleared": 0,
    "conferenced": 1,
    "connection_cleared": 2,
    "delivered": 3,
    "diverted": 4,
    "established": 5,
    "failed": 6,
    "held": 7,
    "network_reached": 8,
    "originated": 9,
    "queued": 10,
    "retrieved": 11,
    "service_initiated": 12,
    "transferred": 13,
    "digits_dialed": 14,
    "bridged": 15,
    "network_capabilities_changed": 16,
    "offered": 17,
}
#: Other events -> (filter group, bit) (ECMA-285 PhysicalDeviceFeatureEvents /
#: LogicalDeviceFeatureEvents bit strings: doNotDisturb 11, forwarding 12).  The simulator
#: sends the do-not-disturb and forwarding events (SwitchModel.set_do_not_disturb,
#: set_forwarding).
OTHER_FILTER_BITS: dict[str, tuple[str, int]] = {
    "hookswitch": ("physicalDeviceFeature", 3),
    "do_not_disturb": ("logicalDeviceFeature", 11),
    "forwarding": ("logicalDeviceFeature", 12),
}


class SessionState(enum.Enum):
    AWAITING_AARQ = "awaiting association"
    ASSOCIATED = "associated"
    CLOSED = "closed"


class SessionBackend(Protocol):
    """What a session needs from the switch around it."""

    def link_available(self, session: SwitchSession) -> bool:
        """Whether one more association is allowed now (the link limit)."""

    def associated(self, session: SwitchSession) -> None:
        """The session has just been accepted."""

    def is_monitorable(self, device: str) -> bool: ...

    def new_cross_ref(self) -> bytes:
        """A 2-byte monitor cross-reference id no live monitor has."""

    def monitor_started(self, session: SwitchSession, monitor: Monitor) -> None: ...

    def monitor_stopped(self, session: SwitchSession, monitor: Monitor) -> None: ...

    def service(self, session: SwitchSession, operation: int, argument: Any) -> Any:
        """Perform a call-control / snapshot service: its result value (asn1tools form), or
        SwitchError.  NotImplementedError for an operation the switch does not offer."""


@dataclass(slots=True)
class Monitor:
    cross_ref: bytes
    device: str
    #: Filter bits per group, as the client sent them: a set bit suppresses that event.
    filter: dict[str, tuple[bytes, int]] = field(default_factory=dict)

    def passes(self, event: CstaEvent) -> bool:
        if event.name in CALL_CONTROL_FILTER_BITS:
            return not _bit(self.filter.get("callControl"), CALL_CONTROL_FILTER_BITS[event.name])
        group_bit = OTHER_FILTER_BITS.get(event.name)
        if group_bit is not None:
            return not _bit(self.filter.get(group_bit[0]), group_bit[1])
        return True


def _bit(bits: tuple[bytes, int] | None, index: int) -> bool:
    if bits is None:
        return False
    data, length = bits
    if index >= length or index // 8 >= len(data):
        return False
    return bool(data[index // 8] & (0x80 >> (index % 8)))


class SwitchSession:
    """The server side of one link.  Feed it with `receive_data()`, send `data_to_send()`;
    close the connection once `closing` is true and the data is sent."""

    def __init__(
        self,
        backend: SessionBackend,
        *,
        link_id: int = 1,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        first_invoke_id: int = 1,
        max_frame: int = framing.DEFAULT_MAX_LENGTH,
        trace: Callable[[str, bytes, codec.Apdu | None], None] | None = None,
        say: Callable[[str], None] | None = None,
        tag_form: str = "hipath",
    ) -> None:
        """`trace` gets every frame both ways ("->" sent, "<-" received) with its decoded APDU
        (None when undecodable); `say` a plain-words line about what happens on the link.
        `tag_form`: "hipath" sends every tagged field as a HiPath does (protocol facts §4, §6),
        "alternate" in the other tag form (codec.TAG_FORMS), to test clients against both."""
        self.tag_form = codec.check_tag_form(tag_form)
        self.backend = backend
        self.link_id = link_id
        self._user = user
        self._password = password
        if not 1 <= first_invoke_id <= MAX_INVOKE_ID:
            raise ValueError("invoke ids are 1..0x7FFFFF")
        self._next_invoke_id = first_invoke_id
        self._reader = framing.FrameReader(max_frame)
        self._out = bytearray()
        self._trace = trace
        self._say = say or (lambda text: None)
        self.state = SessionState.AWAITING_AARQ
        #: True once the link is to be closed (after what is queued has been sent).
        self.closing = False
        self.user: str | None = None
        self.monitors: dict[bytes, Monitor] = {}
        #: Invoke ids of our SystemStatus invokes that still await the client's result.
        self.status_pending: set[int] = set()
        self.status_confirmed = 0
        self.events_sent = 0
        self.events_filtered = 0

    # Byte interface -----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if self.state is SessionState.CLOSED:
            return
        try:
            apdus = self._reader.feed(data)
        except framing.FramingError as exc:
            for apdu in exc.frames:
                self._receive_apdu(apdu)
            if self.state is not SessionState.CLOSED:
                self._say(f"unreadable byte stream ({exc}); aborting the link")
                self._abort()
            return
        for apdu in apdus:
            if self.state is SessionState.CLOSED:
                break
            self._receive_apdu(apdu)

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def connection_lost(self) -> None:
        """The transport is gone: forget the monitors."""
        if self.state is not SessionState.CLOSED:
            self._close()

    # Server-initiated traffic -----------------------------------------------------------------

    @property
    def associated(self) -> bool:
        return self.state is SessionState.ASSOCIATED

    def monitors_of(self, device: str) -> list[Monitor]:
        return [m for m in self.monitors.values() if m.device == device]

    def send_event(self, monitor: Monitor, event: CallEvent | CstaEvent) -> bool:
        """Send `event` (its cross-ref id replaced by the monitor's) unless the filter stops it."""
        if not self.associated:
            return False
        if not monitor.passes(event):
            self.events_filtered += 1
            return False
        event = _with_cross_ref(event, monitor.cross_ref)
        self._send(EventReport(self._invoke_id(), event))
        self.events_sent += 1
        return True

    def send_system_status(self, status: str = "normal") -> int:
        """Send a SystemStatus invoke; the client owes a result with the same invoke id."""
        iid = self._invoke_id()
        self.status_pending.add(iid)
        self._send(Invoke(iid, operations.SYSTEM_STATUS, {"systemStatus": status}))
        return iid

    def abort(self) -> None:
        """Send an ABRT and close (the PBX drops the link)."""
        if self.state is not SessionState.CLOSED:
            self._abort()

    # Incoming APDUs ---------------------------------------------------------------------

    def _receive_apdu(self, raw: bytes) -> None:
        try:
            apdu = codec.decode_apdu(raw)
        except codec.DecodeError as exc:
            self._trace_in(raw, None)
            self._undecodable(raw, exc)
            return
        self._trace_in(raw, apdu)
        if self.state is SessionState.AWAITING_AARQ:
            if isinstance(apdu, AssociationRequest):
                self._associate(apdu)
            elif isinstance(apdu, Abort):
                self._say("aborted by the client before associating")
                self._close()
            else:
                self._say(f"{apdu.kind} before the association; aborting")
                self._abort()
            return
        if isinstance(apdu, Invoke):
            self._invoke(apdu)
        elif isinstance(apdu, ReturnResult):
            if apdu.invoke_id in self.status_pending:
                self.status_pending.discard(apdu.invoke_id)
                self.status_confirmed += 1
            else:
                self._send(Reject(apdu.invoke_id, "returnResult", RESULT_UNRECOGNIZED_INVOCATION))
        elif isinstance(apdu, (ReturnError, Reject)):
            log.info(
                "link %d: the client answered invoke %s with %s",
                self.link_id,
                apdu.invoke_id,
                apdu.kind,
            )
            if apdu.invoke_id is not None:
                self.status_pending.discard(apdu.invoke_id)
        elif isinstance(apdu, ReleaseRequest):
            self._say("release requested; released")
            self._send(ReleaseResponse(0))
            self._close()
        elif isinstance(apdu, Abort):
            self._say("aborted by the client")
            self._close()
        elif isinstance(apdu, AssociationRequest):
            self._say("second association request; aborting")
            self._abort()
        elif isinstance(apdu, EventReport):
            self._send(Reject(apdu.invoke_id, "invoke", INVOKE_UNRECOGNIZED_OPERATION))
        else:
            self._say(f"unexpected {apdu.kind}; aborting")
            self._abort()

    def _undecodable(self, raw: bytes, exc: codec.DecodeError) -> None:
        if self.state is not SessionState.ASSOCIATED:
            self._say(f"undecodable APDU before the association ({exc}); aborting")
            self._abort()
            return
        # A well-formed ROSE envelope with a bad argument: reject that invoke by its id.
        if raw[:1] == b"\xa1":
            try:
                alt, envelope = codec.spec().decode("ROSEapdu", raw)
            except Exception:  # noqa: BLE001 - hostile input: no envelope to reject by id
                envelope = None
            if envelope is not None and alt == "invoke":
                log.info(
                    "link %d: invoke %s (operation %s) has an undecodable argument: %s",
                    self.link_id,
                    envelope["invokeId"],
                    envelope["opcode"],
                    exc,
                )
                if envelope["opcode"] in _SERVICES_HANDLED or envelope["opcode"] in _SESSION_OPS:
                    self._send(Reject(envelope["invokeId"], "invoke", INVOKE_MISTYPED_ARGUMENT))
                else:
                    self._send(
                        Reject(envelope["invokeId"], "invoke", INVOKE_UNRECOGNIZED_OPERATION)
                    )
                return
        log.info("link %d: undecodable APDU: %s", self.link_id, exc)
        problem = (
            GENERAL_UNRECOGNIZED_PDU if raw[0] not in _KNOWN_TAGS else GENERAL_BADLY_STRUCTURED
        )
        self._send(Reject(None, "general", problem))

    def _aare(self, result: int, diagnostic: int) -> AssociationResponse:
        return AssociationResponse(
            result, diagnostic, aps_stamp=APS_STAMP, system_version=SYSTEM_VERSION
        )

    def _associate(self, aarq: AssociationRequest) -> None:
        self.user = aarq.user
        # Which refusal is permanent decides whether the client tries again: a wrong password
        # or context does not get better by retrying, a full PBX does (a link frees up).
        if aarq.application_context != codec.CSTA_APPLICATION_CONTEXT:
            self._say(f"association rejected (application context {aarq.application_context})")
            self._send(self._aare(acse.REJECTED_PERMANENT, acse.DIAG_CONTEXT_NOT_SUPPORTED))
            self._close()
        elif aarq.user != self._user or aarq.password != self._password:
            self._say(f"association rejected (wrong user name or password for {aarq.user!r})")
            self._send(self._aare(acse.REJECTED_PERMANENT, acse.DIAG_AUTHENTICATION_FAILURE))
            self._close()
        elif not self.backend.link_available(self):
            self._say("association rejected for now (all links in use)")
            self._send(self._aare(acse.REJECTED_TRANSIENT, acse.DIAG_NO_REASON))
            self._close()
        else:
            self.state = SessionState.ASSOCIATED
            self._send(self._aare(acse.ACCEPTED, 0))
            self._say(f"association accepted (user {aarq.user})")
            self.backend.associated(self)
            self.send_system_status()

    def _invoke(self, inv: Invoke) -> None:
        op = inv.operation
        try:
            if op == operations.MONITOR_START:
                result = self._monitor_start(inv.argument)
            elif op == operations.MONITOR_STOP:
                result = self._monitor_stop(inv.argument)
            elif op == operations.CHANGE_MONITOR_FILTER:
                result = self._change_filter(inv.argument)
            elif op == operations.REQUEST_SYSTEM_STATUS:
                result = {"systemStatus": "normal"}
            elif op == operations.SYSTEM_STATUS:
                result = ("noData", None)
            elif op in _SERVICES_HANDLED:
                result = self.backend.service(self, op, inv.argument)
            else:
                raise NotImplementedError
        except SwitchError as exc:
            log.info("link %d: %s refused: %s", self.link_id, operations.operation_name(op), exc)
            self._send(
                ReturnError(
                    inv.invoke_id,
                    operations.UNIVERSAL_FAILURE,
                    UniversalFailure(exc.group, exc.value),
                )
            )
            return
        except NotImplementedError:
            self._say(f"operation {op} ({operations.operation_name(op)}) not offered; rejected")
            self._send(Reject(inv.invoke_id, "invoke", INVOKE_UNRECOGNIZED_OPERATION))
            return
        except (KeyError, TypeError, ValueError, AttributeError, codec.EncodeError) as exc:
            # A decodable argument that makes no sense (e.g. a callObject where a device is due).
            log.info(
                "link %d: %s with an unusable argument: %s",
                self.link_id,
                operations.operation_name(op),
                exc,
            )
            self._send(Reject(inv.invoke_id, "invoke", INVOKE_MISTYPED_ARGUMENT))
            return
        self._send(ReturnResult(inv.invoke_id, op, result))

    def _monitor_start(self, arg: dict[str, Any]) -> Any:
        kind, obj = arg["monitorObject"]
        if kind != "deviceObject":
            raise SwitchError("operation", "invalid_monitor_object_type")
        device = codec.device_from_asn1(obj)
        number = device.number or ""
        if not self.backend.is_monitorable(number):
            self._say(f"monitor for unknown device {number!r} refused")
            raise SwitchError("operation", "invalid_monitor_object")
        monitor = Monitor(
            self.backend.new_cross_ref(), number, dict(arg.get("requestedMonitorFilter") or {})
        )
        self.monitors[monitor.cross_ref] = monitor
        self._say(f"monitoring {number} (cross-ref {monitor.cross_ref.hex()})")
        self.backend.monitor_started(self, monitor)
        return {"crossRefIdentifier": monitor.cross_ref}

    def _monitor_stop(self, arg: dict[str, Any]) -> Any:
        monitor = self.monitors.pop(bytes(arg["crossRefIdentifier"]), None)
        if monitor is None:
            raise SwitchError("operation", "invalid_cross_ref_id")
        self._say(f"monitor of {monitor.device} stopped")
        self.backend.monitor_stopped(self, monitor)
        return ("noData", None)

    def _change_filter(self, arg: dict[str, Any]) -> Any:
        monitor = self.monitors.get(bytes(arg["crossRefIdentifier"]))
        if monitor is None:
            raise SwitchError("operation", "invalid_cross_ref_id")
        monitor.filter = dict(arg["requestedFilterList"])
        return {"actualFilterList": dict(monitor.filter)}

    # Output ------------------------------------------------------------------------------

    def _invoke_id(self) -> int:
        iid = self._next_invoke_id
        self._next_invoke_id = iid + 1 if iid < MAX_INVOKE_ID else 1
        return iid

    def _send(self, apdu: codec.Apdu) -> None:
        if self.state is SessionState.CLOSED:
            return
        raw = codec.encode_apdu(apdu, self.tag_form)
        data = framing.frame(raw)
        if self._trace is not None:
            self._trace("->", data, apdu)
        self._out += data

    def _trace_in(self, raw: bytes, apdu: codec.Apdu | None) -> None:
        if self._trace is not None:
            self._trace("<-", framing.frame(raw), apdu)

    def _abort(self) -> None:
        self._send(Abort(source=1))
        self._close()

    def _close(self) -> None:
        was_associated = self.state is SessionState.ASSOCIATED
        self.state = SessionState.CLOSED
        self.closing = True
        monitors, self.monitors = list(self.monitors.values()), {}
        if was_associated:
            for monitor in monitors:
                self.backend.monitor_stopped(self, monitor)


def _with_cross_ref(event: CstaEvent, cross_ref: bytes) -> CstaEvent:
    return replace(event, cross_ref_id=cross_ref)


#: The operations the session hands to the backend.
_SERVICES_HANDLED = frozenset(
    {
        operations.MAKE_CALL,
        operations.ANSWER_CALL,
        operations.CLEAR_CONNECTION,
        operations.CLEAR_CALL,
        operations.DEFLECT_CALL,
        operations.HOLD_CALL,
        operations.RETRIEVE_CALL,
        operations.CONSULTATION_CALL,
        operations.TRANSFER_CALL,
        operations.SINGLE_STEP_TRANSFER,
        operations.SNAPSHOT_DEVICE,
        operations.RECONNECT_CALL,
        operations.ALTERNATE_CALL,
        operations.DIRECTED_PICKUP_CALL,
    }
)
#: The operations the session answers itself.
_SESSION_OPS = frozenset(
    {
        operations.MONITOR_START,
        operations.MONITOR_STOP,
        operations.CHANGE_MONITOR_FILTER,
        operations.REQUEST_SYSTEM_STATUS,
        operations.SYSTEM_STATUS,
    }
)
_KNOWN_TAGS = frozenset({0x60, 0x61, 0x62, 0x63, 0x64, 0xA1, 0xA2, 0xA3, 0xA4})
