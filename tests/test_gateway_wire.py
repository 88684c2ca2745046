"""The gateway's wire forms without a broker: events back from their `monitor --json` form
(every event class, every field; real HiPath bytes), requests, rights, device lists, the
calls-under-way record of a device, broker addresses."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import datetime, timedelta, timezone

import pytest

from cstapopup.commands.monitor import event_json
from cstapopup.csta import codec
from cstapopup.csta.events import (
    EVENT_CLASSES,
    ConnectionChange,
    ConnectionId,
    DeviceId,
    SnapshotCall,
    UndecodableEvent,
    UnknownEvent,
)
from cstapopup.gateway import wire
from cstapopup.gateway.broker import BrokerConfigError, parse_broker_url
from cstapopup.gateway.rights import Rights, RightsError, RightsFile, parse_devices
from cstapopup.gateway.underway import DeviceCalls

from . import event_sequences, vectors

NUMBERS = [DeviceId("number", "00891234567"), DeviceId("not_known"), DeviceId("restricted"),
           DeviceId("number", "548"), DeviceId("not_required"), DeviceId("not_specified")]


def full_event(cls: type, variant: int):
    """An instance of `cls` with every field set (to a value that depends on `variant`)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for i, f in enumerate(dataclasses.fields(cls)):
        hint = hints[f.name]
        args = set(typing.get_args(hint)) - {type(None)}
        base = next(iter(args)) if len(args) == 1 else hint
        n = i + variant
        if typing.get_origin(base) is tuple:
            inner = typing.get_args(base)[0]
            value = ((ConnectionChange(ConnectionId(b"\x00\x01", NUMBERS[n % 6]),
                                       ConnectionId(b"\x00\x02", NUMBERS[(n + 1) % 6]),
                                       NUMBERS[(n + 2) % 6], NUMBERS[(n + 3) % 6]),
                      ConnectionChange(None, None, None))
                     if inner is ConnectionChange else (b"\xa1\x02\x05\x00", bytes([n])))
        elif base is DeviceId:
            value = NUMBERS[n % 6]
        elif base is ConnectionId:
            value = ConnectionId(bytes([n, 0x6b]), NUMBERS[(n + 3) % 6])
        elif base is bytes:
            value = bytes([n, 1, 2])
        elif base is datetime:
            value = datetime(2012, 12, 11, 10, 57, 19) + timedelta(seconds=n)
            if variant % 2:
                value = value.replace(tzinfo=timezone(timedelta(hours=1)))
        elif base is bool:
            value = bool(n % 2)
        elif base is int:
            value = n
        else:
            value = f"value_{n}"
        kwargs[f.name] = value
    return cls(**kwargs)


EVERY_CLASS = [*EVENT_CLASSES.values(), UnknownEvent, UndecodableEvent]


@pytest.mark.parametrize("cls", EVERY_CLASS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_every_event_class_comes_back_from_its_monitor_json_line(cls, variant):
    event = full_event(cls, variant)
    line = wire.event_line("100", event)
    assert line == event_json("100", event)  # the gateway publishes monitor --json's line
    device, back = wire.decode_event_line(line)
    assert device == "100"
    assert back == event
    # ... and from the plain normalised form (to_dict) as well.
    assert wire.event_from_dict(event.to_dict()) == event


@pytest.mark.parametrize("cls", EVERY_CLASS, ids=lambda c: c.__name__)
def test_an_event_with_only_its_required_fields(cls):
    required = {f.name: None for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    full = full_event(cls, 0)
    event = cls(**{name: getattr(full, name) for name in required})
    assert wire.decode_event_line(wire.event_line("101", event))[1] == event


@pytest.mark.parametrize("frame", [vectors.DELIVERED, vectors.CONNECTION_CLEARED,
                                   vectors.HOOKSWITCH_548_OFF, vectors.TRANSFERRED_HIPATH,
                                   vectors.TRANSFERRED_OTHER_FORMS],
                         ids=["delivered", "cleared", "hook", "transferred", "transferred-other"])
def test_real_hipath_events_come_back_as_decoded(frame):
    event = codec.decode_apdu(frame).event
    device, back = wire.decode_event_line(wire.event_line("548", event))
    assert back == event and device == "548"


def test_the_contract_sequences_come_back():
    """Every call of docs/event-sequences.md, as monitors 100-102 see it."""
    seq = event_sequences.Sequence(["100", "101", "102"])
    for story in (event_sequences.incoming_answered, event_sequences.incoming_missed,
                  event_sequences.incoming_busy, event_sequences.outgoing,
                  event_sequences.internal, event_sequences.transfer, event_sequences.deflect,
                  event_sequences.pickup, event_sequences.conference,
                  event_sequences.restricted_caller):
        story(seq)
    assert len(seq.items) > 40
    for d in seq.items:
        assert wire.decode_event_line(wire.event_line(d.monitor, d.event)) == (d.monitor, d.event)


@pytest.mark.parametrize("payload", [
    b"not json", b"[1]", b'{"event": "nonsense"}', b'{"event": "delivered", "device": "1"}',
    b'{"event": "hookswitch", "device": "1", "cross_ref_id": "zz", "connection_device": "1"}',
    (b'{"event": "do_not_disturb", "device": "1", "cross_ref_id": "00", "connection_device": "1",'
    b' "do_not_disturb_on": "yes"}'),
])
def test_malformed_event_payloads_are_wire_errors(payload):
    with pytest.raises(wire.WireError):
        wire.decode_event_line(payload)


def test_requests_and_results_round_trip():
    conn = ConnectionId(b"\x88\x6b", DeviceId("number", "100"))
    req = wire.decode_request(wire.encode_request("transfer_call", [conn, conn]))
    assert req.operation.name == "transfer_call" and req.args == {"held": conn, "active": conn}
    assert req.controlled_devices() == ["100", "100"]
    req = wire.decode_request(wire.encode_request("make_call", ["101", "0891234"]))
    assert req.controlled_devices() == ["101"]
    anonymous = wire.decode_request(wire.encode_request(
        "answer_call", [ConnectionId(b"\x01", DeviceId("not_known"))]))
    assert anonymous.controlled_devices() == [None]
    op = wire.OPERATIONS["snapshot_device"]
    calls = [SnapshotCall(conn, "alerting", b"\x01" * 16), SnapshotCall(conn, None, None)]
    assert wire.result_from_json(op, json.loads(wire.ok_response(op, calls))["result"]) == calls
    for bad in (b'{"op": "explode", "args": {}}', b'{"op": "answer_call", "args": {}}',
                b'{"op": "answer_call", "args": {"connection": {"call_id": null}}}',
                b'{"op": "make_call", "args": {"calling": 100, "called": "1"}}'):
        with pytest.raises(wire.WireError):
            wire.decode_request(bad)


def test_every_client_service_is_an_operation():
    from cstapopup.csta.client import CstaClient
    from cstapopup.gateway.client import GatewayClient

    for name, op in wire.OPERATIONS.items():
        assert hasattr(CstaClient, name) and hasattr(GatewayClient, name)
        import inspect

        assert [p for p in inspect.signature(getattr(CstaClient, name)).parameters][1:] == \
               [a for a, _ in op.args]


def test_device_lists_and_rights(tmp_path):
    assert parse_devices(["100-103,200", "300", "101"]) == ["100", "101", "102", "103", "200", "300"]
    assert parse_devices(["0100-0102"]) == ["0100", "0101", "0102"]
    for bad in (["120-100"], ["abc"], ["1-"], [""], ["1-99999"]):
        with pytest.raises(RightsError):
            parse_devices(bad)
    rights = Rights.parse('[users]\nalice = ["100", "103-104"]\nboss = ["*"]\nnone = []\n')
    assert rights.allows("alice", "104") and not rights.allows("alice", "105")
    assert rights.allows("boss", "999") and not rights.allows("none", "100")
    assert not rights.allows("stranger", "100") and not rights.allows("alice", None)
    with pytest.raises(RightsError):
        Rights.parse("[users]\nalice = 5\n")
    path = tmp_path / "rights.toml"
    path.write_text('[users]\nalice = ["100"]\n')
    rf = RightsFile(path)
    assert rf.current().allows("alice", "100")
    path.write_text('[users]\nalice = ["101"]\nbob = ["100"]\n')
    assert rf.current().allows("bob", "100") and not rf.current().allows("alice", "100")
    path.write_text("[users\nbroken")  # a broken edit keeps the rights in force
    assert rf.current().allows("bob", "100")


def test_broker_addresses():
    b = parse_broker_url("mqtts://broker.office", user="gw", password="pw-secret", ca_file=None)
    assert (b.host, b.port, b.tls, b.user) == ("broker.office", 8883, True, "gw")
    assert "pw-secret" not in repr(b)
    assert parse_broker_url("mqtt://10.0.0.2:1884").port == 1884
    assert parse_broker_url("10.0.0.2", ca_file="ca.pem").tls
    for bad in ("http://x", "mqtt://u:pw@x", "mqtt://", "mqtt://x:99999", "mqtt://x/path"):
        with pytest.raises(BrokerConfigError):
            parse_broker_url(bad)


def _ev(cls_name: str, call: bytes, device: str, lcs: str | None, **kw):
    cls = EVENT_CLASSES[cls_name]
    return cls(cross_ref_id=b"\x00\x01", connection=ConnectionId(call, DeviceId("number", device)),
               local_connection_state=lcs, **kw)


def test_a_device_record_restarts_when_the_device_is_idle():
    dev = DeviceCalls("100")
    assert dev.record("g")["base"] is None  # begins at the monitor start
    e1 = _ev("delivered", b"\x00\x01", "100", "alerting", calling_device=DeviceId("number", "0891"))
    dev.add_event(e1, wire.event_dict("100", e1))
    _seq, _ = dev.add_snapshot((SnapshotCall(ConnectionId(b"\x00\x01", DeviceId("number", "100")),
                                            "alerting"),), "")
    rec = dev.record("g")
    assert [i["kind"] for i in rec["items"]] == ["event", "snapshot"] and rec["complete"]
    assert rec["calls"][0]["calling_device"] == "0891"
    e2 = _ev("connection_cleared", b"\x00\x01", "100", "null")
    dev.add_event(e2, wire.event_dict("100", e2))
    rec = dev.record("g")
    assert rec["base"] == {"seq": 3, "calls": []} and rec["items"] == [] and rec["calls"] == []
    assert rec["seq"] == 3
    dev.link_lost()
    assert dev.record("g")["base"] is None and not dev.record("g")["complete"]


def test_a_transfer_leaves_the_resulting_call_under_way():
    dev = DeviceCalls("101")
    dev.add_snapshot((), "")
    for cls, call, lcs, extra in (
            ("delivered", b"\x00\x02", "alerting", {}),
            ("established", b"\x00\x02", "connected", {}),
            ("transferred", b"\x00\x01", "connected",
             {"secondary_old_call": ConnectionId(b"\x00\x02", DeviceId("number", "101"))})):
        ev = _ev(cls, call, "100" if cls == "transferred" else "101", lcs, **extra)
        dev.add_event(ev, wire.event_dict("101", ev))
    assert [c.call_id for c in dev.snapshot_calls()] == [b"\x00\x01"]
    assert len(dev.record("g")["items"]) == 3  # the story of the call so far, for late desktops


def test_a_device_that_never_becomes_idle_is_compacted_to_calls_under_way():
    dev = DeviceCalls("100", max_items=5)
    dev.add_snapshot((), "")
    long_call = _ev("established", b"\x00\x09", "100", "connected")
    dev.add_event(long_call, wire.event_dict("100", long_call))
    for n in range(10):  # calls waiting at 100 come and go while the long call goes on
        for lcs in ("alerting", "null"):
            ev = _ev("delivered", bytes([1, n]), "100", lcs)
            dev.add_event(ev, wire.event_dict("100", ev))
    rec = dev.record("g")
    assert len(rec["items"]) < 5 and dev.compactions >= 1
    assert {"call_id": "0009", "device": "100", "state": "connected",
            "global_call_id": None} in rec["base"]["calls"]
    assert [c["call_id"] for c in rec["calls"]] == ["0009"]  # the waiting calls are over


def test_the_console_services_travel_too():
    held = ConnectionId(b"\x00\x01", DeviceId("number", "100"))
    active = ConnectionId(b"\x00\x02", DeviceId("number", "100"))
    ringing = ConnectionId(b"\x00\x03", DeviceId("number", "103"))
    req = wire.decode_request(wire.encode_request("reconnect_call", [active, held]))
    assert req.args == {"active": active, "held": held}
    assert req.controlled_devices() == ["100", "100"]
    req = wire.decode_request(wire.encode_request("alternate_call", [held, active]))
    assert req.args == {"held": held, "active": active}
    # A pickup acts for the phone that picks up: 103's call is taken to 100.
    req = wire.decode_request(wire.encode_request("directed_pickup_call", [ringing, "100"]))
    assert req.controlled_devices() == ["100"]
    op = wire.OPERATIONS["directed_pickup_call"]
    for result in (None, ConnectionId(b"\x00\x03", DeviceId("number", "100"))):
        answer = json.loads(wire.ok_response(op, result))["result"]
        assert wire.result_from_json(op, answer) == result


def test_the_link_state_as_a_value():
    link = wire.link_from_json({
        "state": "up", "reason": "connected", "retry_in": None, "gateway": "3f9c",
        "devices": ["100", "101", "999"], "unmonitored": {"999": "invalid_monitor_object"}})
    assert link == wire.LinkMessage("up", "connected", None, "3f9c", ("100", "101", "999"),
                                    {"999": "invalid_monitor_object"})
    gone = wire.link_from_json({"state": "offline", "reason": "gone", "gone": "lost"})
    assert (gone.state, gone.gone, gone.devices, gone.unmonitored) == ("offline", "lost", None,
                                                                       {})
    # A gateway of another version: fields of the wrong type are left out, not fatal.
    odd = wire.link_from_json({"state": "down", "retry_in": "soon", "devices": "100",
                               "gone": "maybe", "gateway": 7})
    assert odd == wire.LinkMessage("down")
    with pytest.raises(wire.WireError):
        wire.link_from_json({"reason": "no state"})
    refused = json.loads(wire.error_response("refused", "no", operation="answer_call",
                                             device="101"))
    assert refused["device"] == "101"
