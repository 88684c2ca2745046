"""An event report whose event cannot be decoded is never dropped: it becomes an
`UndecodableEvent` with what could be read of it, on the normal event path, and shows in the
codec, the connection (with a warning holding its bytes), `cstapopup decode` and the monitor's
output; the client hands it to its consumers like any event."""

from __future__ import annotations

import json
import logging

import pytest

from cstapopup import cli
from cstapopup.commands.monitor import event_json, format_event
from cstapopup.csta import codec
from cstapopup.csta.client import CstaClient
from cstapopup.csta.connection import ClientConnection, EventReceived, LinkState
from cstapopup.csta.events import ConnectionId, DeviceId, UndecodableEvent
from cstapopup.csta.framing import frame
from cstapopup.csta.switch import faults
from cstapopup.csta.switch.server import SwitchServer

from . import vectors as v
from .client_helpers import Collector, fast_options, running


def damaged_transferred() -> bytes:
    """The §6 Transferred whose first connection list entry is an OCTET STRING instead of a
    SEQUENCE: everything else is as a HiPath sends it."""
    data = bytearray(v.TRANSFERRED_HIPATH)
    at = data.index(bytes.fromhex("a1763043"))
    data[at + 2] = 0x04
    return bytes(data)


def test_an_undecodable_event_keeps_what_can_be_read_of_it():
    data = damaged_transferred()
    report = codec.decode_apdu(data)
    assert isinstance(report, codec.EventReport) and report.invoke_id == 0x012F9A
    ev = report.event
    assert isinstance(ev, UndecodableEvent)
    assert (ev.cross_ref_id, ev.category, ev.tag, ev.event_type) == (
        b"\x00\x01", "callControlEvents", 17, "transferred")
    assert ev.connection == ConnectionId(b"\xb1\x64", DeviceId.of("240"))
    assert (ev.local_connection_state, ev.cause) == ("null", "transfer")
    assert ev.raw == data and "transferredConnections" in ev.reason
    d = ev.to_dict()
    assert d["event"] == "undecodable" and d["event_type"] == "transferred"
    assert (d["call_id"], d["device"]) == ("b164", "240")
    assert d["raw"] == data.hex() and d["reason"] == ev.reason
    assert json.loads(json.dumps(d)) == d


def test_what_cannot_be_read_stays_empty_and_other_apdus_still_fail():
    # an event report with nothing readable behind its operation code
    ev = codec.decode_apdu(bytes.fromhex("A10A02027FF0020115300103")).event
    assert isinstance(ev, UndecodableEvent)
    assert ev.cross_ref_id == b"" and ev.category is None and ev.connection is None
    assert ev.to_dict()["call_id"] is None
    # a connection that is itself damaged is skipped: the next one is taken
    data = bytearray(v.DELIVERED)
    data[data.index(bytes.fromhex("6b0f300d8002886b")) + 4] = 0x04   # first 6B: no SEQUENCE
    ev = codec.decode_apdu(bytes(data)).event
    assert isinstance(ev, UndecodableEvent) and ev.event_type == "delivered"
    assert ev.connection == ConnectionId(b"\x88\x6b", DeviceId.of("531"))  # originating one
    # not an event report: an error, as before
    for bad in (bytes.fromhex("A20A020102300502014930"), bytes.fromhex("A1060201050201")):
        with pytest.raises(codec.DecodeError):
            codec.decode_apdu(bad)


def test_the_connection_passes_it_on_and_warns_with_its_bytes(caplog):
    c = ClientConnection()
    c.associate("AMHOST", "77777")
    c.receive_data(frame(codec.encode_apdu(codec.AssociationResponse(0, 0))) + frame(v.SYSTEM_STATUS))
    assert c.state is LinkState.UP
    data = damaged_transferred()
    with caplog.at_level(logging.WARNING, logger="cstapopup.csta.connection"):
        events = c.receive_data(frame(data) + frame(v.CONNECTION_CLEARED))
    assert [type(e) for e in events] == [EventReceived, EventReceived]
    assert isinstance(events[0].event, UndecodableEvent)
    assert events[1].event.name == "connection_cleared"
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning and data.hex(" ") in warning[0].getMessage()
    assert "transferred" in warning[0].getMessage()


def test_cstapopup_decode_shows_it_goes_on_and_exits_1(capsys):
    data = frame(damaged_transferred()) + frame(v.DELIVERED)
    assert cli.main(["decode", data.hex(" ")]) == 1
    captured = capsys.readouterr()
    first, second = (json.loads(line) for line in captured.out.splitlines())
    assert first["kind"] == "event" and first["event"] == "undecodable"
    assert first["event_type"] == "transferred" and first["call_id"] == "b164"
    assert first["raw"] == damaged_transferred().hex()
    assert second["event"] == "delivered"
    assert "cannot decode the event" in captured.err


def test_the_monitor_prints_it_plain_and_as_json():
    ev = codec.decode_apdu(damaged_transferred()).event
    line = format_event("240", ev)
    assert "undecodable" in line and "call b164" in line
    assert "transferred that could not be decoded" in line and damaged_transferred().hex() in line
    d = json.loads(event_json("240", ev))
    assert d["event"] == "undecodable" and d["device"] == "240"
    assert d["connection_device"] == "240" and d["raw"] == damaged_transferred().hex()


async def test_the_client_delivers_it_to_its_consumers():
    server = SwitchServer(port=0, devices="100-103")
    async with running(server):
        client = CstaClient("127.0.0.1", server.port, options=fast_options())
        col = Collector(client)
        try:
            await client.connect()
            handle = await client.monitor_start("100")
            server.inject(faults.undecodable_transferred(70000, handle.cross_ref_id,
                                                         b"\x00\x2a", "100"))
            await col.wait(lambda: any(e.event.name == "undecodable" for e in col.events))
            item = next(e for e in col.events if e.event.name == "undecodable")
            assert item.device == "100" and item.event.call_id == b"\x00\x2a"
            assert item.event.event_type == "transferred"
            assert client.state == "up" and client.reconnects == 0
        finally:
            await client.close()
            await col.stop()
