"""A few hundred hostile inputs through the client's whole receive path, in the normal suite.

The long run (100,000 inputs, timing and memory checks, an atheris mode) is
`benchmarks/fuzz_client.py`; this keeps the same checks on every test run: nothing escapes
`ClientConnection.receive_data`, no input is slow (counted in Python steps, see tests/work.py:
a count, unlike a time, does not change with the machine's load), what the connection holds
stays bounded, and after a non-fatal error the connection still decodes a good event.
"""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cstapopup.csta import codec, events, names
from cstapopup.csta.connection import ClientConnection, EventReceived, LinkState, ProtocolError
from cstapopup.csta.framing import DEFAULT_MAX_LENGTH, frame

from . import vectors as v
from .work import MAX_STEPS_PER_APDU, python_steps

VECTORS = [
    v.DELIVERED,
    v.CONNECTION_CLEARED,
    v.SYSTEM_STATUS,
    v.MONITOR_START_RESULT,
    v.MONITOR_STOP_RESULT,
    v.ERROR_INVALID_MONITOR_OBJECT,
    v.MAKE_CALL_RESULT,
    v.HOOKSWITCH_548_OFF,
    v.SYSTEM_STATUS_RESULT,
    v.MONITOR_STOP,
]
#: APDUs in one drawn stream, at most (see `streams`).
MAX_APDUS_PER_STREAM = 4

AARE = frame(codec.encode_apdu(codec.AssociationResponse(0, 0)))


def up_connection() -> ClientConnection:
    c = ClientConnection()
    c.associate("AMHOST", "77777")
    c.receive_data(AARE + frame(v.SYSTEM_STATUS))
    c.data_to_send()
    c.send_request(71, codec.monitor_start_argument("100"))  # ids 1 and 2 pending: results
    c.send_request(
        10,
        {
            "callingDevice": codec.device_to_asn1("100"),  # can match
            "calledDirectoryNumber": codec.device_to_asn1("200"),
        },
    )
    c.data_to_send()
    return c


# Typed events, encoded ----------------------------------------------------------------------------

digits = st.text("0123456789*#", min_size=1, max_size=20)
device_ids = st.one_of(
    digits.map(events.DeviceId.of),
    st.integers(0, 10**9).map(events.DeviceId.of),
    st.sampled_from([events.NOT_KNOWN, events.RESTRICTED]),
)
number_devices = digits.map(events.DeviceId.of)
connection_ids = st.builds(
    events.ConnectionId, st.binary(min_size=1, max_size=8), st.one_of(st.none(), number_devices)
)
changes = st.builds(
    events.ConnectionChange,
    st.one_of(st.none(), connection_ids),
    st.one_of(st.none(), connection_ids),
    st.one_of(st.none(), device_ids),
)
common = {
    "cross_ref_id": st.binary(min_size=1, max_size=4),
    "timestamp": st.one_of(
        st.none(),
        st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31)).map(
            lambda d: d.replace(microsecond=0)
        ),
    ),
    "private_data": st.lists(
        st.binary(max_size=20).map(
            lambda b: b"\xe1" + bytes([len(b) + 2]) + b"\x04" + bytes([len(b)]) + b
        ),
        max_size=3,
    ).map(tuple),
}
call = dict(
    common,
    connection=connection_ids,
    cause=st.one_of(st.none(), st.sampled_from(sorted(names.EVENT_CAUSES.values()))),
    local_connection_state=st.one_of(
        st.none(),
        st.sampled_from(["null", "initiated", "alerting", "connected", "hold", "queued", "fail"]),
    ),
    global_call_id=st.one_of(st.none(), st.binary(min_size=16, max_size=16)),
)
parties = dict(
    call,
    calling_device=st.one_of(st.none(), device_ids),
    called_device=st.one_of(st.none(), device_ids),
    associated_calling_device=st.one_of(st.none(), device_ids),
)
typed_events = st.one_of(
    st.builds(events.DeliveredEvent, alerting_device=device_ids, **parties),
    st.builds(events.EstablishedEvent, answering_device=device_ids, **parties),
    st.builds(events.ConnectionClearedEvent, releasing_device=device_ids, **call),
    st.builds(events.HeldEvent, holding_device=device_ids, **call),
    st.builds(events.RetrievedEvent, retrieving_device=device_ids, **call),
    st.builds(
        events.TransferredEvent,
        transferring_device=device_ids,
        transferred_to_device=device_ids,
        transferred_connections=st.lists(changes, max_size=5).map(tuple),
        **call,
    ),
    st.builds(
        events.ConferencedEvent,
        conferencing_device=device_ids,
        added_party=device_ids,
        conference_connections=st.lists(changes, max_size=5).map(tuple),
        **call,
    ),
    st.builds(
        events.HookswitchEvent,
        device=device_ids,
        hookswitch_id=st.binary(min_size=1, max_size=2),
        on_hook=st.booleans(),
        **common,
    ),
)


@st.composite
def encoded_events(draw) -> bytes:
    event = draw(typed_events)
    try:
        return codec.encode_apdu(codec.EventReport(draw(st.integers(0, 0x7FFF)), event))
    except codec.EncodeError:
        return v.DELIVERED  # a combination the encoder refuses (e.g. a connection's device unknown)


# Hostile variations -------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


@st.composite
def mutated(draw, base) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.integers(0, 4))
        if op == 0:
            data[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x84, 0xFF, 0x24, 0x30]))
        elif op == 1:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 2:
            del data[i : i + draw(st.integers(1, 6))]
        elif op == 3:
            data[i:i] = draw(st.binary(min_size=1, max_size=6))
        else:
            j = min(len(data), i + draw(st.integers(1, 30)))
            data[j:j] = bytes(data[i:j]) * draw(st.integers(1, 200))
    return bytes(data)


@st.composite
def nested(draw) -> bytes:
    """A cross-ref id as a constructed OCTET STRING nested up to thousands of levels."""
    depth = draw(st.sampled_from([1, 2, 31, 32, 33, 500, 2000]))
    inner = b"\x04\x02\x00\x01"
    if draw(st.booleans()):
        xref = b"\x75\x80" + b"\x24\x80" * (depth - 1) + inner + b"\x00\x00" * depth
    else:
        xref = inner
        for n in range(depth):
            xref = bytes([0x75 if n == depth - 1 else 0x24]) + _length(len(xref)) + xref
    event = v.CONNECTION_CLEARED[14:]  # the eventSpecificInfo after the 2-byte cross-ref
    argument = b"\x30" + _length(len(xref) + len(event)) + xref + event
    body = b"\x02\x01\x05\x02\x01\x15" + argument
    return b"\xa1" + _length(len(body)) + body


@st.composite
def long_field(draw) -> bytes:
    """The releasing device of ConnectionCleared with a number of any length."""
    n = draw(st.sampled_from([64, 65, 1024, 1025, 7000]))
    number = b"5" * n
    apdu = bytearray(v.CONNECTION_CLEARED)
    at = apdu.index(b"\x63\x07\x30\x05\x80\x03257")
    device = b"\x30" + _length(len(number) + 1 + len(_length(n))) + b"\x80" + _length(n) + number
    role = b"\x63" + _length(len(device)) + device
    apdu[at : at + 9] = role
    inner = bytes(apdu[18:])  # the event's content; its three enclosing lengths are redone
    event = b"\xa3" + _length(len(inner)) + inner
    category = b"\xa0" + _length(len(event)) + event
    argument = b"\x30" + _length(len(category) + 4) + b"\x55\x02\x00\x01" + category
    body = b"\x02\x01\x05\x02\x01\x15" + argument
    return b"\xa1" + _length(len(body)) + body


apdus = st.one_of(
    st.sampled_from(VECTORS),
    encoded_events(),
    mutated(st.sampled_from(VECTORS)),
    mutated(encoded_events()),
    nested(),
    long_field(),
    st.binary(max_size=300),
)


@st.composite
def streams(draw) -> tuple[bytes, list[int]]:
    """Frames (some broken at the framing level) and the points where the stream is cut."""
    parts = []
    for apdu in draw(st.lists(apdus, min_size=1, max_size=MAX_APDUS_PER_STREAM)):
        apdu = apdu[:DEFAULT_MAX_LENGTH]
        kind = draw(st.integers(0, 19))
        if kind == 0:  # a frame announcing more than it holds: the next frame is eaten
            n = min(0x7FFF, len(apdu) + draw(st.integers(1, 50)))
            parts.append(bytes((0x26, 0x80 | n >> 8, n & 0xFF)) + apdu)
        elif kind == 1:  # a frame over the limit
            parts.append(b"\x26\xff\xff" + apdu)
        elif kind == 2:  # out of sync
            parts.append(b"\x27" + frame(apdu)[1:])
        else:
            parts.append(frame(apdu))
    stream = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    return stream, cuts


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(streams())
def test_receive_path_survives_hostile_streams(case):
    stream, cuts = case
    c = up_connection()
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)])]

    def feed() -> list:
        results = []
        for piece in pieces:
            results += c.receive_data(piece)  # must not raise
        return results

    # No input is slow: counted in Python steps, which do not depend on the machine's load.
    results, steps = python_steps(feed)
    c.data_to_send()
    assert steps < MAX_STEPS_PER_APDU * MAX_APDUS_PER_STREAM, f"{steps} Python steps"
    assert c._reader.buffered <= DEFAULT_MAX_LENGTH + 2
    assert len(c.pending) <= 2
    fatal = [e for e in results if isinstance(e, ProtocolError) and e.fatal]
    assert all(e is results[-1] for e in fatal)  # a fatal error is the last thing reported
    if c.state is LinkState.UP and c._reader.buffered == 0:
        # between frames after non-fatal trouble: a good event still decodes
        after = c.receive_data(frame(v.CONNECTION_CLEARED))
        assert len(after) == 1 and isinstance(after[0], EventReceived), after
    else:
        assert c.state in (LinkState.UP, LinkState.CLOSED)


@settings(max_examples=150, deadline=None)
@given(encoded_events())
def test_encoded_random_events_decode_back(apdu):
    c = up_connection()
    got = c.receive_data(frame(apdu))
    assert len(got) == 1 and isinstance(got[0], EventReceived), got


def _decode_either(apdu: bytes):
    try:
        return codec.decode_apdu(apdu)
    except codec.DecodeError:
        return "DecodeError"


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([v.DELIVERED, v.CONNECTION_CLEARED]),
       st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), min_size=1, max_size=3),
       st.sampled_from(["replace", "insert", "delete", "truncate"]))
def test_the_event_envelope_shortcut_agrees_with_asn1tools_on_damaged_envelopes(apdu, edits, how):
    """codec reads the ROSE envelope of an event report itself and leaves the rest to
    asn1tools.  Damage within the envelope (the first 40 bytes: tags, lengths, invoke id,
    operation, cross-ref id) must give exactly what the general path (asn1tools alone) gives:
    the same APDU, or a DecodeError from both."""
    data = bytearray(apdu)
    for pos, byte in edits:
        pos = min(pos, len(data) - 1)
        if how == "replace":
            data[pos] = byte
        elif how == "insert":
            data.insert(pos, byte)
        elif how == "delete" and len(data) > 1:
            del data[pos]
        elif how == "truncate":
            del data[max(1, pos):]
    data = bytes(data)
    shortcut = _decode_either(data)
    original = codec._event_report_parts
    codec._event_report_parts = lambda _data: None
    try:
        general = _decode_either(data)
    finally:
        codec._event_report_parts = original
    assert shortcut == general


def test_the_event_envelope_shortcut_is_taken_for_what_pbxs_send():
    for apdu in (v.DELIVERED, v.CONNECTION_CLEARED):
        iid, cross_ref, inner = codec._event_report_parts(apdu)
        report = codec.decode_apdu(apdu)
        assert report.invoke_id == iid and report.event.cross_ref_id == cross_ref
        assert inner[0] & 0xE0 == 0xA0            # the event's own [n] element
    # an invoke that is not an event report, and a ROSE result, are not taken for one
    assert codec._event_report_parts(v.MONITOR_STOP) is None
    assert codec._event_report_parts(v.MONITOR_START_RESULT) is None
