"""Every vector of the protocol facts decodes to the right values and re-encodes to the same bytes."""

from datetime import datetime

import pytest

from cstapopup.csta import codec
from cstapopup.csta.events import (
    ConnectionClearedEvent,
    ConnectionId,
    DeliveredEvent,
    DeviceId,
    HookswitchEvent,
)
from cstapopup.csta.framing import frame

from . import vectors as v


def roundtrip(apdu_bytes: bytes):
    value = codec.decode_apdu(apdu_bytes)
    assert codec.encode_apdu(value) == apdu_bytes
    return value


def test_aarq_default_credentials_is_byte_identical():
    apdu = codec.encode_apdu(codec.AssociationRequest("AMHOST", "77777"))
    assert frame(apdu) == v.AARQ_AMHOST_FRAME
    decoded = codec.decode_apdu(v.AARQ_AMHOST_FRAME[3:])
    assert decoded.user == "AMHOST" and decoded.password == "77777"
    assert decoded.application_context == "1.3.12.0.218"


def test_aarq_password_not_in_repr():
    assert "77777" not in repr(codec.AssociationRequest("AMHOST", "77777"))


def test_monitor_start_carries_explicit_zero_filter_byte_identical():
    apdu = codec.encode_apdu(codec.Invoke(1, 71, codec.monitor_start_argument("100")))
    assert frame(apdu) == v.MONITOR_START_100_FRAME
    back = roundtrip(v.MONITOR_START_100_FRAME[3:])
    assert back.operation_name == "monitorStart"
    assert back.argument["requestedMonitorFilter"]["callControl"] == (b"\x00\x00\x00", 18)


def test_monitor_start_result_cross_ref():
    r = roundtrip(v.MONITOR_START_RESULT)
    assert isinstance(r, codec.ReturnResult)
    assert r.invoke_id == 1 and r.operation == 71
    assert r.result["crossRefIdentifier"] == b"\x00\x01"


def test_monitor_stop_and_result():
    inv = roundtrip(v.MONITOR_STOP)
    assert inv.operation == 73 and inv.argument == codec.monitor_stop_argument(b"\x00\x01")
    res = roundtrip(v.MONITOR_STOP_RESULT)
    assert res.operation == 73 and res.result == ("noData", None)


def test_system_status_and_reply():
    inv = roundtrip(v.SYSTEM_STATUS)
    assert isinstance(inv, codec.Invoke)
    assert (inv.invoke_id, inv.operation, inv.argument) == (1, 211, {"systemStatus": "normal"})
    reply = codec.encode_apdu(codec.ReturnResult(inv.invoke_id, 211, ("noData", None)))
    assert reply == v.SYSTEM_STATUS_RESULT


def test_make_call_request_and_result():
    arg = {"callingDevice": codec.device_to_asn1("664"), "calledDirectoryNumber": codec.device_to_asn1("535")}
    assert frame(codec.encode_apdu(codec.Invoke(4, 10, arg))) == v.MAKE_CALL_FRAME
    res = roundtrip(v.MAKE_CALL_RESULT)
    conn = codec.connection_from_asn1(res.result["callingDevice"])
    assert conn == ConnectionId(b"\x00\x16", DeviceId("number", "100", "dialingNumber"))


def test_delivered_event_fields():
    rep = roundtrip(v.DELIVERED)
    assert isinstance(rep, codec.EventReport) and rep.invoke_id == 0xAB
    ev = rep.event
    assert isinstance(ev, DeliveredEvent)
    assert ev.cross_ref_id == b"\x00\x00"
    assert ev.connection.call_id == b"\x88\x6b" and ev.device.number == "548"
    assert ev.alerting_device.number == "548"
    assert ev.calling_device.number == "531"
    assert ev.called_device.number == "548"
    assert ev.last_redirection_device.kind == "not_known"
    assert ev.originating_connection == ConnectionId(b"\x88\x6b", DeviceId("number", "531", "dialingNumber"))
    assert ev.local_connection_state == "alerting"
    assert ev.cause == "new_call"
    assert ev.global_call_id.hex() == "013ec5c322c34788010080000000886b"
    assert ev.timestamp == datetime(2012, 12, 11, 10, 57, 19)


def test_delivered_normalised_form():
    d = codec.decode_apdu(v.DELIVERED).event.to_dict()
    assert d["event"] == "delivered"
    assert d["cross_ref_id"] == "0000" and d["call_id"] == "886b"
    assert d["device"] == "548" and d["calling_device"] == "531" and d["called_device"] == "548"
    assert d["alerting_device"] == "548" and d["last_redirection_device"] == "not_known"
    assert d["local_connection_state"] == "alerting" and d["cause"] == "new_call"
    assert d["timestamp"] == "2012-12-11T10:57:19"


def test_connection_cleared_fields():
    ev = roundtrip(v.CONNECTION_CLEARED).event
    assert isinstance(ev, ConnectionClearedEvent)
    assert ev.connection.call_id.hex() == "b164" and ev.device.number == "100"
    assert ev.releasing_device.number == "257"
    assert ev.local_connection_state == "null" and ev.cause == "normal_clearing"
    assert ev.timestamp == datetime(2010, 9, 25, 11, 35, 10)


def test_error_invalid_monitor_object():
    err = roundtrip(v.ERROR_INVALID_MONITOR_OBJECT)
    assert isinstance(err, codec.ReturnError)
    assert err.invoke_id == 2 and err.failure.group == "operation"
    assert err.failure.name == "invalid_monitor_object"


def test_abort():
    a = roundtrip(v.ABRT)
    assert isinstance(a, codec.Abort) and a.source == 0 and a.diagnostic == 1


def test_hookswitch_event():
    ev = roundtrip(v.HOOKSWITCH_548_OFF).event
    assert isinstance(ev, HookswitchEvent)
    assert ev.device.number == "548" and ev.hookswitch_id == b"\x01" and ev.on_hook is False


@pytest.mark.parametrize("iid", [0, 1, 127, 128, 255, 256, 0x7FFF, 0x8000, 0x123456])
def test_invoke_ids_encode_minimally_past_127(iid):
    apdu = codec.encode_apdu(codec.ReturnResult(iid, 211, ("noData", None)))
    n = len(apdu)
    assert codec.decode_apdu(apdu).invoke_id == iid
    # INTEGER content length is minimal: 127 -> 1 byte, 128 -> 2 bytes (00 80)
    content_len = apdu[3]
    assert content_len == max(1, (iid.bit_length() + 8) // 8)
    assert n == 12 + content_len  # A2 LL, 02 L <id>, 30 06 02 02 00 D3 05 00


def test_restricted_and_not_known_are_distinct():
    r = codec.role_device_from_asn1(("restricted", None))
    n = codec.role_device_from_asn1(("notKnown", None))
    k = codec.role_device_from_asn1(("deviceIdentifier", {"deviceIdentifier": ("dialingNumber", "")}))
    assert r.kind == "restricted" and n.kind == "not_known" and k.kind == "number"
    assert len({r, n, k}) == 3
    assert codec.role_device_to_asn1(r) == ("restricted", None)


def test_unknown_event_category_is_typed_not_fatal():
    # vendorSpecEvents [7] with some private event: a typed UnknownEvent, not an error
    arg = codec.spec().encode("CSTAEventReportArgument", {
        "crossRefIdentifier": b"\x00\x02", "eventSpecificInfo": ("vendorSpecEvents", b"\xa0\x03\x04\x01\x00")})
    apdu = codec.spec().encode("ROSEapdu", ("invoke", {"invokeId": 9, "opcode": 21, "argument": arg}))
    ev = codec.decode_apdu(apdu).event
    assert ev.name == "unknown" and ev.category == "vendorSpecEvents"


def test_unknown_call_control_tag_is_unknown_event():
    # a call-control event tag beyond the 18 of ECMA-285 (e.g. a later edition's [20])
    inner = b"\xb4\x03\x0a\x01\x16"
    arg = codec.spec().encode("CSTAEventReportArgument", {
        "crossRefIdentifier": b"\x00\x02", "eventSpecificInfo": ("callControlEvents", inner)})
    apdu = codec.spec().encode("ROSEapdu", ("invoke", {"invokeId": 9, "opcode": 21, "argument": arg}))
    ev = codec.decode_apdu(apdu).event
    assert ev.name == "unknown" and ev.tag == 20 and ev.raw == inner


def test_fast_path_and_general_path_agree_for_every_call_control_event():
    """The decode-ordered shortcut must give exactly what the general path gives."""
    from cstapopup.csta import events as E

    dev = DeviceId.of
    conn = ConnectionId(b"\x00\x2a", dev("100"))
    other = ConnectionId(b"\x00\x2b", dev("101"))
    common = dict(cross_ref_id=b"\x00\x07", connection=conn, cause="new_call",
                  local_connection_state="alerting", global_call_id=b"\x01" * 14 + b"\x00\x2a",
                  timestamp=datetime(2026, 11, 26, 9, 30, 5))
    samples = [
        E.DeliveredEvent(alerting_device=dev("100"), calling_device=dev("00891234567"),
                         called_device=dev("100"), last_redirection_device=E.NOT_KNOWN,
                         associated_calling_device=dev("9901"), originating_connection=other, **common),
        E.EstablishedEvent(answering_device=dev("100"), calling_device=E.RESTRICTED,
                           called_device=dev("100"), last_redirection_device=E.NOT_KNOWN, **common),
        E.ConnectionClearedEvent(releasing_device=dev("100"), **common),
        E.TransferredEvent(secondary_old_call=other, transferring_device=dev("100"),
                           transferred_to_device=dev("101"),
                           transferred_connections=(E.ConnectionChange(conn, conn, dev("0891"),
                                                                       dev("9901")),
                                                    E.ConnectionChange(other, other, dev("101"))),
                           old_global_call_id=b"\x02" * 14 + b"\x00\x2b",
                           old_thread_id=b"\x03" * 16, **common),
        E.DivertedEvent(diverting_device=dev("100"), new_destination=dev("102"),
                        calling_device=dev("0891"), called_device=dev("100"),
                        last_redirection_device=dev("100"), **common),
        E.FailedEvent(failing_device=dev("100"), calling_device=dev("0891"), called_device=dev("100"),
                      last_redirection_device=E.NOT_KNOWN, **common),
        E.HeldEvent(holding_device=dev("100"), **common),
        E.RetrievedEvent(retrieving_device=dev("100"), **common),
        E.ServiceInitiatedEvent(initiating_device=dev("100"), **common),
        E.OriginatedEvent(calling_device=dev("100"), called_device=dev("0891"), **common),
        E.NetworkReachedEvent(network_interface_used=dev("9901"), calling_device=dev("100"),
                              called_device=dev("0891"), last_redirection_device=E.NOT_KNOWN, **common),
        E.ConferencedEvent(secondary_old_call=other, conferencing_device=dev("100"),
                           added_party=dev("101"), conference_connections=(E.ConnectionChange(conn, other, dev("101")),),
                           old_global_call_id=b"\x02" * 14 + b"\x00\x2b", **common),
        E.CallClearedEvent(**dict(common, local_connection_state=None)),  # carries no state
        E.QueuedEvent(queue=dev("500"), calling_device=dev("0891"), called_device=dev("500"),
                      last_redirection_device=E.NOT_KNOWN, number_queued=3, **common),
        E.OfferedEvent(offered_device=dev("100"), calling_device=dev("0891"), called_device=dev("100"),
                       last_redirection_device=E.NOT_KNOWN, **common),
        E.BridgedEvent(bridged_appearance=dev("100"), **common),
        E.DigitsDialedEvent(dialing_device=dev("100"), dialing_sequence=dev("12"), **common),
        E.NetworkCapabilitiesChangedEvent(network_interface_used=dev("9901"), called_device=dev("0891"), **common),
    ]
    s = codec.spec()
    for ev in samples:
        apdu = codec.encode_apdu(codec.EventReport(5, ev))
        fast = codec.decode_apdu(apdu)
        rose = s.decode("ROSEapdu", apdu)[1]
        arg = s.decode("CSTAEventReportArgument", rose["argument"])
        general = codec.event_from_asn1(bytes(arg["crossRefIdentifier"]), *arg["eventSpecificInfo"])
        assert fast.event == general, ev.name
        # and the typed value survives the trip (fields the event type does not carry stay None)
        assert fast.event == ev, ev.name
        # the other tag form of every tagged field decodes to the same event, both ways
        alternate = codec.encode_apdu(codec.EventReport(5, ev), tag_form="alternate")
        assert alternate != apdu, ev.name
        assert codec.decode_apdu(alternate).event == ev, ev.name
        codec._event_report_parts, saved = (lambda _data: None), codec._event_report_parts
        try:
            assert codec.decode_apdu(alternate).event == ev, ev.name
        finally:
            codec._event_report_parts = saved


def test_the_spec_in_use_has_the_fast_path_types(tmp_path, monkeypatch):
    """The compiled spec is cached by a key; what compile_spec() adds (the decode-ordered
    types of the fast path) must be in the spec that is loaded, from a cache or not.  A cache
    written by a build without them once went on being used because the key only covered
    the module texts."""
    assert "DecodeOrderedDeliveredEvent" in codec.spec()._types
    monkeypatch.setattr(codec, "_cache_dir", tmp_path / "cache")
    first = codec.load_spec()              # compiles and writes the cache
    assert "DecodeOrderedDeliveredEvent" in codec.load_spec()._types   # read from the cache
    assert "DecodeOrderedDeliveredEvent" in first._types
    sources = [b"same module texts"]
    key = codec._spec_key(sources)
    monkeypatch.setattr(codec, "SPEC_FORMAT", codec.SPEC_FORMAT + 1)
    assert codec._spec_key(sources) != key


def test_shared_device_ids_stay_right_and_the_cache_stays_bounded():
    """Decoded devices are shared between events; each event still names its own."""
    def delivered(calling: str, stamp: datetime) -> bytes:
        ev = DeliveredEvent(cross_ref_id=b"\x00\x01", connection=ConnectionId(b"\x00\x2a", DeviceId.of("100")),
                            alerting_device=DeviceId.of("100"), calling_device=DeviceId.of(calling),
                            called_device=DeviceId.of("100"), cause="new_call", timestamp=stamp)
        return codec.encode_apdu(codec.EventReport(1, ev))

    for i in range(codec._DEVICE_CACHE_SIZE + 50):
        stamp = datetime(2026, 11, 26, 9, i // 60 % 60, i % 60)
        ev = codec.decode_apdu(delivered(f"089{i:07d}", stamp)).event
        assert ev.calling_device == DeviceId.of(f"089{i:07d}")
        assert ev.alerting_device == DeviceId.of("100")
        assert ev.timestamp == stamp
        assert len(codec._DEVICE_CACHE) <= codec._DEVICE_CACHE_SIZE
    again = codec.decode_apdu(delivered("0891234567", datetime(2026, 11, 26, 9, 0, 0))).event
    assert again.calling_device == DeviceId.of("0891234567")
    assert again.timestamp == datetime(2026, 11, 26, 9, 0, 0)
    # a device number given as an integer (deviceNumber) is not confused with the same digits
    # sent as a dialing number
    assert codec.device_from_asn1({"deviceIdentifier": ("deviceNumber", 100)}).numbering == "deviceNumber"
    assert codec.device_from_asn1({"deviceIdentifier": ("dialingNumber", "100")}).numbering == "dialingNumber"


def test_generalized_time_forms():
    from datetime import timedelta, timezone

    p = codec.parse_generalized_time
    assert p(b"20121211105719") == datetime(2012, 12, 11, 10, 57, 19)          # HiPath: local, naive
    assert p(b"20121211105719Z") == datetime(2012, 12, 11, 10, 57, 19, tzinfo=timezone.utc)
    assert p(b"20121211105719.25+0100") == datetime(
        2012, 12, 11, 10, 57, 19, 250000, tzinfo=timezone(timedelta(hours=1)))
    assert p(b"201212111057") == datetime(2012, 12, 11, 10, 57)
    for bad in (b"20121311105719", b"2012121110571x", b"20121211256000", b"", b"\xff" * 14):
        assert p(bad) is None, bad
    # the same bytes twice (the remembered last timestamp) and then another
    assert p(b"20121211105719") == datetime(2012, 12, 11, 10, 57, 19)
    assert p(b"20121211105720") == datetime(2012, 12, 11, 10, 57, 20)
