"""The sans-IO client connection driven by plain bytes."""

from cstapopup.csta import codec
from cstapopup.csta.connection import (
    AssociationAccepted,
    AssociationRejected,
    ClientConnection,
    ErrorReceived,
    EventReceived,
    LinkState,
    LinkUp,
    ProtocolError,
    RejectReceived,
    Released,
    ResultReceived,
    SystemStatusReceived,
)
from cstapopup.csta.framing import frame

from . import vectors as v


def aare(result: int = 0) -> bytes:
    return frame(codec.encode_apdu(codec.AssociationResponse(result, 0 if result == 0 else 1)))


def up_connection() -> ClientConnection:
    c = ClientConnection()
    c.associate("AMHOST", "77777")
    assert c.data_to_send() == v.AARQ_AMHOST_FRAME
    evs = c.receive_data(aare(0) + frame(v.SYSTEM_STATUS))
    assert [type(e) for e in evs] == [AssociationAccepted, SystemStatusReceived, LinkUp]
    assert c.data_to_send() == frame(v.SYSTEM_STATUS_RESULT)
    assert c.state is LinkState.UP
    return c


def test_association_then_system_status_brings_the_link_up():
    up_connection()


def test_association_rejected_closes():
    c = ClientConnection()
    c.associate("AMHOST", "wrong")
    evs = c.receive_data(aare(1))
    assert isinstance(evs[0], AssociationRejected) and c.state is LinkState.CLOSED
    assert "rejected (permanent)" in evs[0].reason


def test_every_system_status_is_answered_with_its_own_invoke_id_even_two_bytes():
    c = up_connection()
    # invoke id 0x009D (2 content bytes, as the PBX's growing ids) and 0x1234
    for iid in (0x9D, 0x1234, 5):
        inv = codec.encode_apdu(codec.Invoke(iid, 211, {"systemStatus": "normal"}))
        evs = c.receive_data(frame(inv))
        assert evs == [SystemStatusReceived(iid, "normal")]
        reply = codec.decode_apdu(c.data_to_send()[3:])
        assert isinstance(reply, codec.ReturnResult) and reply.invoke_id == iid and reply.operation == 211
    assert c.system_status_count == 4


def test_monitor_start_with_an_event_before_its_result_and_split_bytes():
    c = up_connection()
    iid = c.send_request(71, codec.monitor_start_argument("100"))
    assert iid == 1
    assert c.data_to_send() == v.MONITOR_START_100_FRAME
    stream = frame(v.DELIVERED) + frame(v.MONITOR_START_RESULT)
    got = []
    for i in range(len(stream)):  # one byte at a time
        got += c.receive_data(stream[i:i + 1])
    assert isinstance(got[0], EventReceived) and got[0].event.name == "delivered"
    assert isinstance(got[1], ResultReceived) and got[1].invoke_id == 1 and got[1].operation == 71
    assert got[1].result["crossRefIdentifier"] == b"\x00\x01"
    assert c.pending == {}


def test_results_are_matched_by_id_not_by_order():
    c = up_connection()
    a = c.send_request(73, codec.monitor_stop_argument(b"\x00\x01"))
    b = c.send_request(73, codec.monitor_stop_argument(b"\x00\x02"))
    c.data_to_send()
    res_b = frame(codec.encode_apdu(codec.ReturnResult(b, 73, ("noData", None))))
    res_a = frame(codec.encode_apdu(codec.ReturnResult(a, 73, ("noData", None))))
    evs = c.receive_data(res_b + res_a)
    assert [e.invoke_id for e in evs] == [b, a]


def test_error_and_reject_replies():
    c = up_connection()
    c.send_request(71, codec.monitor_start_argument("999"))  # id 1
    c.send_request(71, codec.monitor_start_argument("998"))  # id 2
    evs = c.receive_data(frame(v.ERROR_INVALID_MONITOR_OBJECT))
    assert isinstance(evs[0], ErrorReceived) and evs[0].invoke_id == 2
    assert evs[0].failure.name == "invalid_monitor_object" and evs[0].operation == 71
    rej = frame(codec.encode_apdu(codec.Reject(1, "invoke", 2)))
    evs = c.receive_data(rej)
    assert isinstance(evs[0], RejectReceived) and evs[0].operation == 71
    assert evs[0].problem == "mistypedArgument"
    assert c.pending == {}


def test_invoke_ids_go_past_127_and_wrap():
    c = up_connection()
    c._next_id = 127
    ids = [c.send_request(210, {}) for _ in range(3)]
    assert ids == [127, 128, 129]
    raw = c.data_to_send()
    # the INTEGER for 128 takes two content bytes: 02 02 00 80
    assert bytes.fromhex("02020080") in raw
    c._next_id = 0x7FFF
    assert c.send_request(210, {}) == 0x7FFF
    assert c.send_request(210, {}) == 1


def test_result_for_unknown_invoke_is_a_non_fatal_protocol_error():
    c = up_connection()
    evs = c.receive_data(frame(v.MONITOR_STOP_RESULT))
    assert isinstance(evs[0], ProtocolError) and not evs[0].fatal
    assert c.state is LinkState.UP


def test_undecodable_event_report_is_skipped_and_link_stays_up():
    c = up_connection()
    broken = bytearray(v.DELIVERED)
    broken[-20] = 0xFF  # damage the inside of the event
    evs = c.receive_data(frame(bytes(broken)) + frame(v.CONNECTION_CLEARED))
    assert any(isinstance(e, ProtocolError) and not e.fatal for e in evs) or len(evs) == 2
    assert isinstance(evs[-1], EventReceived) and evs[-1].event.name == "connection_cleared"
    assert c.state is LinkState.UP


def test_out_of_sync_stream_is_fatal():
    c = up_connection()
    evs = c.receive_data(frame(v.CONNECTION_CLEARED) + b"\x99\x80\x02ab")
    assert isinstance(evs[0], EventReceived)
    assert isinstance(evs[-1], ProtocolError) and evs[-1].fatal
    assert c.state is LinkState.CLOSED
    assert c.receive_data(b"anything") == []


def test_unknown_operation_from_pbx_is_rejected():
    c = up_connection()
    inv = codec.encode_apdu(codec.Invoke(77, 999, b"\x05\x00"))
    evs = c.receive_data(frame(inv))
    assert isinstance(evs[0], ProtocolError)
    rej = codec.decode_apdu(c.data_to_send()[3:])
    assert isinstance(rej, codec.Reject) and rej.invoke_id == 77 and rej.problem_name == "unrecognizedOperation"


def test_release():
    c = up_connection()
    c.release()
    assert codec.decode_apdu(c.data_to_send()[3:]) == codec.ReleaseRequest()
    evs = c.receive_data(frame(codec.encode_apdu(codec.ReleaseResponse())))
    assert evs == [Released()] and c.state is LinkState.CLOSED


def test_aarq_trace_masks_the_password():
    lines = []
    c = ClientConnection(trace=lambda d, h: lines.append((d, h)))
    c.associate("AMHOST", "77777")
    assert lines and "37 37 37 37 37" not in lines[0][1]
    assert "2a 2a 2a 2a 2a" in lines[0][1]
