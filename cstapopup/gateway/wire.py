"""What the gateway and its desktops say to each other through the broker: the topic tree,
the payloads and their decoding back into typed values (see docs/mqtt.md).

The event payload is exactly the line of `cstapopup monitor --json` (the normalised event
form with `device` = the monitored device and `connection_device` = the event's own
connection's device); `event_from_dict` turns it, or the plain normalised form, back into the
typed event.  Call-control requests and their answers are described once, in `OPERATIONS`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cstapopup.csta.codec import UniversalFailure
from cstapopup.csta.events import (
    EVENT_CLASSES,
    ConnectionChange,
    ConnectionId,
    CstaEvent,
    DeviceId,
    SnapshotCall,
    UndecodableEvent,
    UnknownEvent,
    monitor_dict,
)

#: Topics start with this, then the site name.
ROOT = "cstapopup"
#: The MQTT 5 user property on every event and snapshot message: "<gateway> <seq> <received>",
#: the gateway's instance id (new at every start), the number (per device and gateway
#: instance: 1, 2, 3, ...) and when the gateway read it from the PBX (Unix time, seconds).
#: One property rather than three: each costs a subscriber (paho) a good part of a message.
PROP_NUMBER = "cstapopup"


def number_property(gateway: str, seq: int, received: float) -> tuple[str, str]:
    return PROP_NUMBER, f"{gateway} {seq} {received:.6f}"


def parse_number_property(value: str) -> tuple[str, int, float | None] | None:
    """(gateway, seq, received) of the user property; None if it is not one."""
    parts = value.split()
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    received: float | None = None
    if len(parts) > 2:
        try:
            received = float(parts[2])
        except ValueError:
            received = None
    return parts[0], int(parts[1]), received


_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_DEVICE = re.compile(r"^[0-9*#]{1,32}$")


class WireError(ValueError):
    """A payload or topic that does not have the expected form."""


def check_name(kind: str, value: str) -> str:
    """A site or user name usable as one topic level (no '/', '+', '#', not empty)."""
    if not _NAME.match(value or ""):
        raise WireError(f"{kind} {value!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
    return value


def check_device(value: str) -> str:
    if not _DEVICE.match(value or ""):
        raise WireError(f"device {value!r}: not a device number")
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    """The topic tree of one site."""

    site: str = "default"

    def __post_init__(self) -> None:
        check_name("site", self.site)

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.site}"

    @property
    def link(self) -> str:
        return f"{self.base}/link"

    def event(self, device: str) -> str:
        return f"{self.base}/device/{device}/event"

    def snapshot(self, device: str) -> str:
        return f"{self.base}/device/{device}/snapshot"

    def calls(self, device: str) -> str:
        return f"{self.base}/device/{device}/calls"

    def request(self, user: str) -> str:
        return f"{self.base}/request/{user}"

    @property
    def requests(self) -> str:
        """What the gateway subscribes to: every user's request topic."""
        return f"{self.base}/request/+"

    def responses(self, user: str) -> str:
        """The prefix of a user's response topics (the broker lets only that user read it)."""
        return f"{self.base}/response/{user}/"

    def parse_device_topic(self, topic: str) -> tuple[str, str] | None:
        """(device, kind) of a device topic of this site; None for any other topic."""
        prefix = f"{self.base}/device/"
        if not topic.startswith(prefix):
            return None
        rest = topic[len(prefix) :].split("/")
        if len(rest) != 2:
            return None
        return rest[0], rest[1]

    def parse_request_topic(self, topic: str) -> str | None:
        """The user whose request topic this is."""
        prefix = f"{self.base}/request/"
        if not topic.startswith(prefix):
            return None
        user = topic[len(prefix) :]
        return user if _NAME.match(user) else None


# Values ---------------------------------------------------------------------------------------

_KINDS = ("not_known", "restricted", "not_required", "not_specified")


def device_from_json(value: Any) -> DeviceId | None:
    """The normalised form of a device back into a DeviceId: a number, or the kind of not
    naming one.  (The DeviceID alternative the number came in is not in the normalised form;
    it comes back as "dialingNumber", HiPath's.)"""
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"device {value!r}: not a string")
    if value in _KINDS:
        return DeviceId(value)  # type: ignore[arg-type]  # one of the kinds: checked above
    return DeviceId("number", value)


def connection_to_json(c: ConnectionId | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"call_id": c.call_id_hex, "device": None if c.device is None else c.device.to_json()}


def connection_from_json(value: Any) -> ConnectionId | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise WireError(f"connection {value!r}: not an object")
    return ConnectionId(_hex(value.get("call_id")), device_from_json(value.get("device")))


def _hex(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"{value!r}: not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise WireError(f"{value!r}: not a hex string") from None


def snapshot_call_to_json(call: SnapshotCall) -> dict[str, Any]:
    conn = call.connection
    return {
        "call_id": conn.call_id_hex,
        "device": None if conn.device is None else conn.device.to_json(),
        "state": call.state,
        "global_call_id": None if call.global_call_id is None else call.global_call_id.hex(),
    }


def snapshot_call_from_json(value: Any) -> SnapshotCall:
    if not isinstance(value, Mapping):
        raise WireError(f"snapshot call {value!r}: not an object")
    state = value.get("state")
    if state is not None and not isinstance(state, str):
        raise WireError(f"snapshot call state {state!r}: not a string")
    return SnapshotCall(
        ConnectionId(_hex(value.get("call_id")), device_from_json(value.get("device"))),
        state,
        _hex(value.get("global_call_id")),
    )


def snapshot_calls_from_json(value: Any) -> tuple[SnapshotCall, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise WireError("snapshot calls: not a list")
    return tuple(snapshot_call_from_json(v) for v in value)


# Events ---------------------------------------------------------------------------------------


#: The object of `cstapopup monitor --json` for an event of the monitor of a device.
event_dict = monitor_dict


def event_line(device: str, event: CstaEvent) -> str:
    """The line of `cstapopup monitor --json`: the payload of an event message."""
    return json.dumps(event_dict(device, event), ensure_ascii=False)


#: _fields_of's answers, per event class.
_FIELDS: dict[type[CstaEvent], tuple[tuple[str, str], ...]] = {}


def _fields_of(cls: type[CstaEvent]) -> tuple[tuple[str, str], ...]:
    """(field name, kind of JSON value) of each field of the event class `cls`."""
    known = _FIELDS.get(cls)
    if known is None:
        known = _FIELDS[cls] = _find_fields(cls)
    return known


def _find_fields(cls: type[CstaEvent]) -> tuple[tuple[str, str], ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = set(typing.get_args(hint)) - {type(None)}
        base = hint if not args else (next(iter(args)) if len(args) == 1 else hint)
        if typing.get_origin(base) is tuple:
            inner = typing.get_args(base)[0]
            kind = "changes" if inner is ConnectionChange else "hex_list"
        elif base is DeviceId:
            kind = "device"
        elif base is ConnectionId:
            kind = "connection"
        elif base is bytes:
            kind = "hex"
        elif base is datetime:
            kind = "datetime"
        elif base in (str, int, bool):
            kind = base.__name__
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no reader for {hint}")
        out.append((f.name, kind))
    return tuple(out)


def _change(value: Any) -> ConnectionChange:
    if not isinstance(value, Mapping):
        raise WireError("connection list entry: not an object")
    return ConnectionChange(
        connection_from_json(value.get("new_connection")),
        connection_from_json(value.get("old_connection")),
        device_from_json(value.get("endpoint")),
        device_from_json(value.get("associated_nid")),
    )


#: The event kinds that EVENT_CLASSES leaves out: events the library does not interpret and
#: events it could not decode travel the same way.
_UNLISTED: dict[str, type[CstaEvent]] = {cls.name: cls for cls in (UnknownEvent, UndecodableEvent)}


class _OptionalFields(dict[type, frozenset[str]]):
    """The fields of each event class that have a default (may be left out)."""

    def __missing__(self, cls: type) -> frozenset[str]:
        names = frozenset(
            f.name
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        self[cls] = names
        return names


_OPTIONAL = _OptionalFields()


def event_from_dict(d: Mapping[str, Any]) -> CstaEvent:
    """The typed event of a normalised event object: the form of `to_dict()`, or of `cstapopup
    monitor --json` (then the event's own connection device is `connection_device`).
    Raises WireError for an object that is not one."""
    name = d.get("event")
    cls = EVENT_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        cls = _UNLISTED.get(name) if isinstance(name, str) else None
        if cls is None:
            raise WireError(f"unknown event {name!r}")
    own_device = d["connection_device"] if "connection_device" in d else d.get("device")
    kwargs: dict[str, Any] = {}
    try:
        for field_name, kind in _fields_of(cls):
            if kind == "connection" and field_name == "connection":
                if d.get("call_id") is None and own_device is None and field_name in _OPTIONAL[cls]:
                    continue  # an undecodable event whose connection could not be read
                kwargs[field_name] = ConnectionId(
                    _hex(d.get("call_id")), device_from_json(own_device)
                )
                continue
            if field_name == "device" and kind == "device":
                value = own_device
            elif field_name not in d:
                continue  # the class default
            else:
                value = d[field_name]
            if value is None:
                kwargs[field_name] = None
            elif kind == "device":
                kwargs[field_name] = device_from_json(value)
            elif kind == "connection":
                kwargs[field_name] = connection_from_json(value)
            elif kind == "hex":
                kwargs[field_name] = _hex(value)
            elif kind == "hex_list":
                kwargs[field_name] = tuple(_hex(v) for v in value)
            elif kind == "changes":
                kwargs[field_name] = tuple(_change(v) for v in value)
            elif kind == "datetime":
                kwargs[field_name] = datetime.fromisoformat(value)
            elif kind == "bool":
                if not isinstance(value, bool):
                    raise WireError(f"{field_name}: {value!r} is not true or false")
                kwargs[field_name] = value
            elif kind == "int":
                if not isinstance(value, int) or isinstance(value, bool):
                    raise WireError(f"{field_name}: {value!r} is not a number")
                kwargs[field_name] = value
            else:
                if not isinstance(value, str):
                    raise WireError(f"{field_name}: {value!r} is not a string")
                kwargs[field_name] = value
        return cls(**kwargs)
    except WireError:
        raise
    except (TypeError, ValueError, KeyError) as exc:  # missing required field, bad time
        raise WireError(f"{name}: {exc}") from None


def decode_event_line(payload: bytes | str) -> tuple[str, CstaEvent]:
    """(monitored device, typed event) of an event message."""
    d = _object(payload)
    device = d.get("device")
    if not isinstance(device, str):
        raise WireError("event message without its monitored device")
    return device, event_from_dict(d)


def _object(payload: bytes | str) -> dict[str, Any]:
    try:
        d = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(d, dict):
        raise WireError("not a JSON object")
    return d


@dataclass(frozen=True, slots=True)
class LinkMessage:
    """The gateway's retained link state (`cstapopup/<site>/link`): its PBX link's `state`
    (connecting, up, down; offline: the gateway is gone), why, when it retries, the gateway
    instance, the devices it monitors and those the PBX would not monitor (device ->
    universalFailure reason); for "offline", `gone`: "stopped" (on purpose) or "lost" (the
    last will: its broker connection vanished), None when it did not say."""

    state: str
    reason: str = ""
    retry_in: float | None = None
    gateway: str | None = None
    devices: tuple[str, ...] | None = None
    unmonitored: Mapping[str, str] = dataclasses.field(default_factory=dict)
    gone: str | None = None


def link_from_json(data: Mapping[str, Any]) -> LinkMessage:
    """The link state message as a value; a field of the wrong type is left out (a gateway
    of another version must not stop a desktop), only `state` is required."""
    state = data.get("state")
    if not isinstance(state, str):
        raise WireError("link state without its state")
    retry = data.get("retry_in")
    devices = data.get("devices")
    unmonitored = data.get("unmonitored")
    return LinkMessage(
        state,
        str(data.get("reason") or ""),
        float(retry) if isinstance(retry, int | float) and not isinstance(retry, bool) else None,
        data.get("gateway") if isinstance(data.get("gateway"), str) else None,
        tuple(str(d) for d in devices) if isinstance(devices, list) else None,
        {str(k): str(v) for k, v in unmonitored.items()} if isinstance(unmonitored, dict) else {},
        data.get("gone") if data.get("gone") in ("stopped", "lost") else None,
    )


def decode_object(payload: bytes | str) -> dict[str, Any]:
    """A JSON object payload (snapshot, calls, link, request, response)."""
    return _object(payload)


# Call control -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """One call-control service as the gateway carries it: its arguments in order, each a
    connection or a device number; the arguments that name what the requester controls (the
    rights are checked against their devices); the kind of result."""

    name: str
    args: tuple[tuple[str, str], ...]
    controlled: tuple[str, ...]
    result: str  # "none", "connection", "optional_connection", "snapshot"


def _op(name: str, args: str, controlled: str, result: str) -> Operation:
    pairs = tuple(tuple(a.split(":")) for a in args.split())
    # (Each "name:kind" splits in two: the table below is written so.)
    return Operation(name, pairs, tuple(controlled.split()), result)  # type: ignore[arg-type]


#: The CstaClient services a desktop can ask for, by their method names.
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        _op("answer_call", "connection:connection", "connection", "none"),
        _op("make_call", "calling:device called:device", "calling", "connection"),
        _op("clear_connection", "connection:connection", "connection", "none"),
        _op("clear_call", "connection:connection", "connection", "none"),
        _op("deflect_call", "connection:connection destination:device", "connection", "none"),
        _op("hold_call", "connection:connection", "connection", "none"),
        _op("retrieve_call", "connection:connection", "connection", "none"),
        _op("consultation_call", "existing:connection device:device", "existing", "connection"),
        _op("transfer_call", "held:connection active:connection", "held active", "connection"),
        _op("single_step_transfer", "active:connection to:device", "active", "connection"),
        _op("reconnect_call", "active:connection held:connection", "active held", "none"),
        _op("alternate_call", "held:connection active:connection", "held active", "none"),
        # The requesting phone is the one acting: the call it takes rings at a colleague's, whom
        # the PBX lets it pick up from (as from the phone's own keys).
        _op(
            "directed_pickup_call",
            "ringing:connection requesting:device",
            "requesting",
            "optional_connection",
        ),
        _op("snapshot_device", "device:device", "device", "snapshot"),
    )
}


def encode_request(operation: str, values: Iterable[Any]) -> bytes:
    op = OPERATIONS[operation]
    args: dict[str, Any] = {}
    for (name, kind), value in zip(op.args, values, strict=True):
        if kind == "connection":
            if not isinstance(value, ConnectionId):
                raise TypeError(f"{operation}: {name} must be a ConnectionId")
            args[name] = connection_to_json(value)
        else:
            args[name] = str(value)
    return json.dumps({"op": operation, "args": args}).encode()


@dataclass(frozen=True, slots=True)
class Request:
    operation: Operation
    args: dict[str, Any]  # name -> ConnectionId | str

    def controlled_devices(self) -> list[str | None]:
        """The devices the requester must have the right to control (None: not named)."""
        out: list[str | None] = []
        for name in self.operation.controlled:
            value = self.args[name]
            if isinstance(value, ConnectionId):
                out.append(
                    value.device.number
                    if value.device is not None and value.device.is_known
                    else None
                )
            else:
                out.append(value)
        return out


def decode_request(payload: bytes | str) -> Request:
    d = _object(payload)
    op_name = d.get("op")
    op = OPERATIONS.get(op_name) if isinstance(op_name, str) else None
    if op is None:
        raise WireError(f"unknown operation {op_name!r}; known: {', '.join(OPERATIONS)}")
    raw = d.get("args")
    if not isinstance(raw, Mapping):
        raise WireError("args: not an object")
    args: dict[str, Any] = {}
    for name, kind in op.args:
        if name not in raw:
            raise WireError(f"{op.name}: argument {name} missing")
        if kind == "connection":
            conn = connection_from_json(raw[name])
            if conn is None or conn.call_id is None:
                raise WireError(f"{op.name}: {name} needs a call id")
            args[name] = conn
        else:
            value = raw[name]
            if not isinstance(value, str) or not value:
                raise WireError(f"{op.name}: {name} must be a device number")
            args[name] = value
    return Request(op, args)


def result_to_json(operation: Operation, result: Any) -> Any:
    if operation.result in ("connection", "optional_connection"):
        return connection_to_json(result)
    if operation.result == "snapshot":
        return [snapshot_call_to_json(c) for c in result]
    return None


def result_from_json(operation: Operation, value: Any) -> Any:
    if operation.result == "connection":
        conn = connection_from_json(value)
        if conn is None:
            raise WireError(f"{operation.name}: no connection in the result")
        return conn
    if operation.result == "optional_connection":
        return connection_from_json(value)
    if operation.result == "snapshot":
        return list(snapshot_calls_from_json(value) or ())
    return None


def error_response(
    kind: str,
    message: str,
    *,
    operation: str | None = None,
    failure: UniversalFailure | None = None,
    device: str | None = None,
) -> bytes:
    """A refused or failed request.  `kind`: refused (`device`: the one the user may not
    control, if the request named it), bad_request, busy, link_down, timeout, pbx_error (the
    PBX's universalFailure in `failure`), pbx_reject, error."""
    body: dict[str, Any] = {"ok": False, "error": kind, "message": message}
    if operation:
        body["operation"] = operation
    if device:
        body["device"] = device
    if failure is not None:
        body["failure"] = {"group": failure.group, "value": failure.value, "name": failure.name}
    return json.dumps(body, ensure_ascii=False).encode()


def ok_response(operation: Operation, result: Any) -> bytes:
    return json.dumps({"ok": True, "result": result_to_json(operation, result)}).encode()


def failure_from_json(value: Any) -> UniversalFailure | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("group"), str):
        return None
    v = value.get("value")
    return UniversalFailure(value["group"], v if isinstance(v, int) else None)
