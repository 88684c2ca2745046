"""Typed, immutable CSTA values: device ids, connection ids, and one class per event.

This is what users of the library see.  The codec (`codec.py`) builds these from the wire
and turns them back into the wire form; `to_dict()` gives the normalised JSON form shared by
`cstapopup decode` and `cstapopup monitor --json`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

DeviceKind = Literal["number", "not_known", "restricted", "not_required", "not_specified"]


@dataclass(frozen=True, slots=True)
class DeviceId:
    """A device as CSTA names it: a number, or one of the ways of not naming it.

    `kind` keeps "not known" and "restricted" (a caller who withholds the number) apart
    from a number; `numbering` remembers the DeviceID alternative the number came in
    ("dialingNumber", as HiPath sends, or "deviceNumber", ...) so that it is re-encoded as it
    came.  Equality includes it.
    """

    kind: DeviceKind
    number: str | None = None
    numbering: str = "dialingNumber"

    @classmethod
    def of(cls, number: str | int) -> DeviceId:
        if isinstance(number, int):
            return cls("number", str(number), "deviceNumber")
        return cls("number", number)

    @property
    def is_known(self) -> bool:
        return self.kind == "number"

    def to_json(self) -> str | None:
        """A known device is its number; the others their kind, e.g. "restricted"."""
        return self.number if self.kind == "number" else self.kind

    def __str__(self) -> str:
        if self.kind == "number":
            return self.number or ""
        return "<" + self.kind.replace("_", " ") + ">"


NOT_KNOWN = DeviceId("not_known")
RESTRICTED = DeviceId("restricted")


@dataclass(frozen=True, slots=True)
class ConnectionId:
    """A party in a call: the call id (octets) and the device; either may be absent."""

    call_id: bytes | None
    device: DeviceId | None = None

    @property
    def call_id_hex(self) -> str | None:
        return None if self.call_id is None else self.call_id.hex()

    def __str__(self) -> str:
        return f"{self.call_id_hex}@{self.device}"


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    """One entry of a transferred / conferenced connection list (ECMA-269 ConnectionList).

    `endpoint` is the party the connection leads to (HiPath: the external caller's number);
    `associated_nid` the network interface it goes through (HiPath: the trunk)."""

    new_connection: ConnectionId | None = None
    old_connection: ConnectionId | None = None
    endpoint: DeviceId | None = None
    associated_nid: DeviceId | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "new_connection": _conn_json(self.new_connection),
            "old_connection": _conn_json(self.old_connection),
            "endpoint": None if self.endpoint is None else self.endpoint.to_json(),
            "associated_nid": None
            if self.associated_nid is None
            else self.associated_nid.to_json(),
        }


@dataclass(frozen=True, slots=True)
class SnapshotCall:
    """One call at a device, as a SnapshotDevice answer lists it: the device's connection,
    its local connection state ("alerting", "connected", "hold", ...; None when the PBX
    gave none) and the global call id when the PBX sent one."""

    connection: ConnectionId
    state: str | None = None
    global_call_id: bytes | None = None

    @property
    def call_id(self) -> bytes | None:
        return self.connection.call_id


def _conn_json(c: ConnectionId | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"call_id": c.call_id_hex, "device": None if c.device is None else c.device.to_json()}


# Events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CstaEvent:
    """Common to every event report: the monitor it belongs to and the report's extensions."""

    #: The ECMA-269 name of the event in snake_case, e.g. "delivered".
    name: ClassVar[str] = "event"
    cross_ref_id: bytes
    timestamp: datetime | None = None
    #: Vendor private data (the Siemens [PRIVATE 1] elements), as their raw encodings.
    private_data: tuple[bytes, ...] = ()

    @property
    def cross_ref_id_hex(self) -> str:
        return self.cross_ref_id.hex()

    def to_dict(self) -> dict[str, Any]:
        """The normalised event form: one flat JSON-ready object."""
        out: dict[str, Any] = {"event": self.name, "cross_ref_id": self.cross_ref_id.hex()}
        for f in dataclasses.fields(self):
            if f.name in ("cross_ref_id", "timestamp", "private_data"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, DeviceId):
                out[f.name] = value.to_json()
            elif isinstance(value, ConnectionId):
                if f.name == "connection":
                    out["call_id"] = value.call_id_hex
                    out["device"] = None if value.device is None else value.device.to_json()
                else:
                    out[f.name] = _conn_json(value)
            elif isinstance(value, tuple) and value and isinstance(value[0], ConnectionChange):
                out[f.name] = [c.to_dict() for c in value]
            elif isinstance(value, bytes):
                out[f.name] = value.hex()
            else:
                out[f.name] = value
        out["timestamp"] = None if self.timestamp is None else self.timestamp.isoformat()
        if self.private_data:
            out["private_data"] = [p.hex() for p in self.private_data]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent(CstaEvent):
    """A call-control event: it concerns one connection of one call."""

    #: The connection the event is about (for transferred: the primary old call).
    connection: ConnectionId
    cause: str | None = None
    local_connection_state: str | None = None
    #: The global call id (16 bytes on HiPath) from the call linkage data, when sent.
    global_call_id: bytes | None = None
    #: The thread id from the same call linkage data, when sent.
    thread_id: bytes | None = None

    @property
    def call_id(self) -> bytes | None:
        return self.connection.call_id

    @property
    def device(self) -> DeviceId | None:
        return self.connection.device


@dataclass(frozen=True, slots=True, kw_only=True)
class _PartiesMixin(CallEvent):
    calling_device: DeviceId | None = None
    called_device: DeviceId | None = None
    last_redirection_device: DeviceId | None = None
    associated_calling_device: DeviceId | None = None
    associated_called_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveredEvent(_PartiesMixin):
    """The call rings (is alerting) at `alerting_device`."""

    name: ClassVar[str] = "delivered"
    alerting_device: DeviceId | None = None
    originating_connection: ConnectionId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EstablishedEvent(_PartiesMixin):
    """The call was answered: `answering_device` is connected."""

    name: ClassVar[str] = "established"
    answering_device: DeviceId | None = None
    originating_connection: ConnectionId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FailedEvent(_PartiesMixin):
    """The call could not reach `failing_device` (busy, unreachable, refused)."""

    name: ClassVar[str] = "failed"
    failing_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DivertedEvent(_PartiesMixin):
    """The call left `diverting_device` for `new_destination` (deflected, forwarded,
    picked up)."""

    name: ClassVar[str] = "diverted"
    diverting_device: DeviceId | None = None
    new_destination: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferedEvent(_PartiesMixin):
    """The call is offered to `offered_device` before it rings there."""

    name: ClassVar[str] = "offered"
    offered_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedEvent(_PartiesMixin):
    """The call waits in `queue` (a hunt group or a call distribution queue)."""

    name: ClassVar[str] = "queued"
    queue: DeviceId | None = None
    number_queued: int | None = None
    calls_in_front: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkReachedEvent(_PartiesMixin):
    """An outgoing call left the PBX through `network_interface_used` (a trunk)."""

    name: ClassVar[str] = "network_reached"
    network_interface_used: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginatedEvent(_PartiesMixin):
    """`originating_device` has dialled and the PBX sets the call up."""

    name: ClassVar[str] = "originated"
    originating_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceInitiatedEvent(_PartiesMixin):
    """`initiating_device` went off hook to make a call (dial tone)."""

    name: ClassVar[str] = "service_initiated"
    initiating_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DigitsDialedEvent(_PartiesMixin):
    """`dialing_device` dialled `dialing_sequence`."""

    name: ClassVar[str] = "digits_dialed"
    dialing_device: DeviceId | None = None
    dialing_sequence: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkCapabilitiesChangedEvent(_PartiesMixin):
    """What the network offers the call through `network_interface_used` changed."""

    name: ClassVar[str] = "network_capabilities_changed"
    network_interface_used: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClearedEvent(CallEvent):
    """`releasing_device` left the call (hung up); the others may stay in it."""

    name: ClassVar[str] = "connection_cleared"
    releasing_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallClearedEvent(CallEvent):
    """The whole call ended."""

    name: ClassVar[str] = "call_cleared"


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldEvent(CallEvent):
    """`holding_device` put the call on hold."""

    name: ClassVar[str] = "held"
    holding_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrievedEvent(CallEvent):
    """`retrieving_device` took the call back from hold."""

    name: ClassVar[str] = "retrieved"
    retrieving_device: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgedEvent(CallEvent):
    """A bridged appearance (a line shared by several phones) joined the call."""

    name: ClassVar[str] = "bridged"
    bridged_appearance: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferredEvent(CallEvent):
    """`connection` is the primary old call (the call that was transferred)."""

    name: ClassVar[str] = "transferred"
    secondary_old_call: ConnectionId | None = None
    transferring_device: DeviceId | None = None
    transferred_to_device: DeviceId | None = None
    transferred_connections: tuple[ConnectionChange, ...] = ()
    #: The old call's linkage data (callLinkageDataList's oldCallLinkageData), when sent;
    #: `global_call_id` / `thread_id` are the new call's.
    old_global_call_id: bytes | None = None
    old_thread_id: bytes | None = None

    @property
    def endpoint(self) -> DeviceId | None:
        """The endpoint of the first transferred connection: the party that originally called."""
        for change in self.transferred_connections:
            return change.endpoint
        return None

    def to_dict(self) -> dict[str, Any]:
        out = CallEvent.to_dict(self)
        out["endpoint"] = None if self.endpoint is None else self.endpoint.to_json()
        out["transferred_connections"] = [c.to_dict() for c in self.transferred_connections]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ConferencedEvent(CallEvent):
    """`connection` is the primary old call."""

    name: ClassVar[str] = "conferenced"
    secondary_old_call: ConnectionId | None = None
    conferencing_device: DeviceId | None = None
    added_party: DeviceId | None = None
    conference_connections: tuple[ConnectionChange, ...] = ()
    #: As for TransferredEvent: the old call's linkage data, when sent.
    old_global_call_id: bytes | None = None
    old_thread_id: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        out = CallEvent.to_dict(self)
        out["conference_connections"] = [c.to_dict() for c in self.conference_connections]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class HookswitchEvent(CstaEvent):
    """The handset of `device` went on hook (`on_hook`) or off hook."""

    name: ClassVar[str] = "hookswitch"
    device: DeviceId
    hookswitch_id: bytes = b"\x01"
    on_hook: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class DoNotDisturbEvent(CstaEvent):
    """Do not disturb was switched on or off at `device`."""

    name: ClassVar[str] = "do_not_disturb"
    device: DeviceId
    do_not_disturb_on: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardingEvent(CstaEvent):
    """Call forwarding of `device` changed: `forwarding_type` to `forward_to`, on or off."""

    name: ClassVar[str] = "forwarding"
    device: DeviceId
    forwarding_type: str | None = None
    forward_status: bool = False
    forward_to: DeviceId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(CstaEvent):
    """An event the library does not interpret: its category and the raw encoding."""

    name: ClassVar[str] = "unknown"
    category: str
    tag: int | None = None
    raw: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = CstaEvent.to_dict(self)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class UndecodableEvent(CstaEvent):
    """An event report whose event could not be decoded, with what could be read of it.

    It travels the normal event path instead of being dropped, so that it is shown, logged
    and can still be attributed to a call.  `category` (e.g. "callControlEvents") and `tag`
    (the event's context tag, e.g. 17) when the envelope could be read, `event_type` the
    event that tag stands for (e.g. "transferred") when known; `connection` the first
    ConnectionID a scan of the event's elements could read (for a call-control event: the
    connection it is about, as the event's first element); `local_connection_state` and
    `cause` when the event's own elements of those types could be read; `reason` what failed;
    `raw` the whole APDU.  `cross_ref_id` is empty when even that could not be read.
    """

    name: ClassVar[str] = "undecodable"
    category: str | None = None
    tag: int | None = None
    event_type: str | None = None
    connection: ConnectionId | None = None
    local_connection_state: str | None = None
    cause: str | None = None
    reason: str = ""
    raw: bytes = field(default=b"", repr=False)

    @property
    def call_id(self) -> bytes | None:
        return None if self.connection is None else self.connection.call_id

    def to_dict(self) -> dict[str, Any]:
        out = CstaEvent.to_dict(self)
        if self.connection is None:
            out["call_id"] = out["device"] = None
            out.pop("connection", None)
        return out


def monitor_dict(device: str, event: CstaEvent) -> dict[str, Any]:
    """The normalised form of an event as the monitor of `device` reports it (`cstapopup
    monitor --json`, the office gateway's event messages): `device` is the monitored device,
    the event's own connection device is `connection_device`."""
    d = event.to_dict()
    d["connection_device"] = d.get("device")
    d["device"] = device
    return d


#: Every event class by its snake_case name.
EVENT_CLASSES: dict[str, type[CstaEvent]] = {
    cls.name: cls
    for cls in (
        BridgedEvent,
        CallClearedEvent,
        ConferencedEvent,
        ConnectionClearedEvent,
        DeliveredEvent,
        DigitsDialedEvent,
        DivertedEvent,
        EstablishedEvent,
        FailedEvent,
        HeldEvent,
        NetworkCapabilitiesChangedEvent,
        NetworkReachedEvent,
        OfferedEvent,
        OriginatedEvent,
        QueuedEvent,
        RetrievedEvent,
        ServiceInitiatedEvent,
        TransferredEvent,
        HookswitchEvent,
        DoNotDisturbEvent,
        ForwardingEvent,
    )
}
